import LenientJSON

// PLACEHOLDER API (to be replaced by the ErrorNormalizer work): the shape ProxyConfig codes against.

/// A compiled dialect: how one upstream's error bodies map onto the canonical fields.
public struct Dialect: Sendable {
    public var name: String

    /// The built-in dialect that reads common shapes with no configuration.
    public static let auto = Dialect(name: "auto")

    /// Compiles `dialects.NAME` from config. `path` is the JSON path of `spec`
    /// (`dialects.billing`); every problem is reported with the path of the key at fault.
    public static func compile(name: String, spec: JSONValue, path: String) -> Result<Dialect, DialectCompileErrors> {
        .success(Dialect(name: name))
    }

    /// Whether the dialect has an `error_when` rule (only then are success bodies inspected).
    public var hasErrorWhen: Bool { false }
}

/// The problems found compiling one dialect.
public struct DialectCompileErrors: Error, Sendable {
    public struct Problem: Sendable, Equatable {
        /// JSON path of the offending key, e.g. `dialects.billing.param.extract.regex`.
        public var path: String
        public var message: String
        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }
    }
    public var problems: [Problem]
    public init(problems: [Problem]) { self.problems = problems }
}
