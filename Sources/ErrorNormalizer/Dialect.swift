import LenientJSON

/// A compiled dialect: how one upstream's error bodies map onto the canonical fields
/// (CONFIG.md "Dialect rules"). Built once from config by `compile(name:spec:path:)`, or the
/// built-in `auto`; read concurrently by every worker.
public struct Dialect: Sendable {
    public var name: String

    enum Kind: Sendable {
        /// The built-in heuristics of `AutoDialect`.
        case auto
        /// Rules from config; a nil rule means the field always falls back. Boxed: a dialect
        /// is copied several times per held response, and a copy of the box is one retain
        /// instead of one per array, dictionary and regex in the rules.
        indirect case rules(Rules)
    }

    struct Rules: Sendable {
        var type: FieldRule?
        var code: FieldRule?
        var param: FieldRule?
        var message: FieldRule?
        var status: FieldRule?
        var errorWhen: ErrorWhen?
    }

    let kind: Kind

    init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// The built-in dialect that reads common shapes with no configuration.
    public static let auto = Dialect(name: "auto", kind: .auto)

    /// Compiles `dialects.NAME` from config. `path` is the JSON path of `spec`
    /// (`dialects.billing`); every problem is reported with the path of the key at fault
    /// (`dialects.billing.param.extract.regex`), all of them in one pass.
    public static func compile(name: String, spec: JSONValue, path: String) -> Result<Dialect, DialectCompileErrors> {
        var compiler = DialectCompiler()
        let rules = compiler.compile(spec, at: SpecPath(path))
        if !compiler.problems.isEmpty { return .failure(DialectCompileErrors(problems: compiler.problems)) }
        return .success(Dialect(name: name, kind: .rules(rules)))
    }

    /// Whether the dialect has an `error_when` rule (only then are success bodies inspected).
    public var hasErrorWhen: Bool { errorWhen != nil }

    /// Whether a response below 400 with `status` could be an `error_when` hit, so its body is
    /// worth buffering (when it is JSON with a `Content-Length` within `limits.error_body_bytes`).
    /// Always false for 1xx, 204 and 304, which are never touched.
    public func inspectsSuccess(status: Int) -> Bool {
        guard let errorWhen, ErrorNormalizer.mayRewrite(status: status) else { return false }
        return errorWhen.statuses.contains { $0.contains(status) }
    }

    var errorWhen: ErrorWhen? {
        if case .rules(let rules) = kind { return rules.errorWhen }
        return nil
    }
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

/// One field's rule: `from` pointers in order, then `extract`; a found value goes through `map`.
struct FieldRule: Sendable {
    var from: [JSONPointer]
    /// Keyed by the found value's text (a string as written, a number's literal).
    var map: [String: String]
    var extract: Extract?
    /// Separator for a message that is an array of strings.
    var join: String
}

/// `extract`: the first capture group of `regex`, unanchored, first match, against the string
/// at `from`.
struct Extract: Sendable {
    var from: JSONPointer
    var regex: CompiledRegex
}

/// A `Regex` compiled once at config load and shared by every worker.
///
/// `Regex` is not declared `Sendable` (its output type parameter may not be). This one is never
/// mutated after `init`, whose warm-up match makes the library build its lazily lowered program
/// before the value is shared, so concurrent `firstMatch` calls only read it.
final class CompiledRegex: @unchecked Sendable {
    let pattern: String
    private let regex: Regex<AnyRegexOutput>

    init(_ pattern: String) throws {
        self.pattern = pattern
        regex = try Regex(pattern)
        _ = try? regex.firstMatch(in: "")
    }

    /// The text of the first capture group of the first match in `text`; nil when there is no
    /// match or the group did not take part in it.
    func firstCapture(in text: String) -> String? {
        guard let match = try? regex.firstMatch(in: text), match.output.count > 1,
              let group = match.output[1].substring else { return nil }
        return String(group)
    }
}

/// `error_when`: a response below 400 whose status is in `statuses` and whose body has every
/// `body` pointer equal to its expected scalar is an error.
struct ErrorWhen: Sendable {
    var statuses: [StatusPattern]
    var body: [(pointer: JSONPointer, expected: JSONValue)]

    func matches(status: Int, document: JSONValue) -> Bool {
        guard statuses.contains(where: { $0.contains(status) }) else { return false }
        return body.allSatisfy { condition in
            guard let found = condition.pointer.resolve(in: document) else { return false }
            return Self.scalarEquals(found, condition.expected)
        }
    }

    /// Equal scalars; numbers compare by value (`1` matches `1.0`).
    static func scalarEquals(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if case .number(let x) = a, case .number(let y) = b {
            return x == y || (Double(x) != nil && Double(x) == Double(y))
        }
        return a == b
    }
}

/// `"200"`, `"2xx"` or `"200-299"`: an inclusive range of statuses.
struct StatusPattern: Sendable, Equatable {
    var range: ClosedRange<Int>

    func contains(_ status: Int) -> Bool { range.contains(status) }

    init(range: ClosedRange<Int>) { self.range = range }

    /// Parses one pattern; nil when it is none of the three forms, or outside 100–599.
    init?(_ text: String) {
        let utf8 = Array(text.utf8)
        func digits(_ s: ArraySlice<UInt8>) -> Int? {
            guard s.count == 3, s.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return Int(String(decoding: s, as: UTF8.self))
        }
        if utf8.count == 3, utf8[1] | 0x20 == UInt8(ascii: "x"), utf8[2] | 0x20 == UInt8(ascii: "x"),
           (UInt8(ascii: "1")...UInt8(ascii: "5")).contains(utf8[0]) {
            let hundreds = Int(utf8[0] - 0x30) * 100
            range = hundreds...(hundreds + 99)
        } else if let single = digits(utf8[...]) {
            range = single...single
        } else if let dash = utf8.firstIndex(of: UInt8(ascii: "-")),
                  let low = digits(utf8[..<dash]), let high = digits(utf8[(dash + 1)...]), low <= high {
            range = low...high
        } else {
            return nil
        }
        guard range.lowerBound >= 100, range.upperBound <= 599 else { return nil }
    }
}

/// A JSON path in config-error form: plain keys dotted, others as `["key"]`, indexes as `[n]`.
struct SpecPath: CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }

    func key(_ name: String) -> SpecPath {
        let plain = !name.isEmpty && name.unicodeScalars.allSatisfy { s in
            s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "_" || s == "-")
        }
        if plain { return SpecPath(description.isEmpty ? name : description + "." + name) }
        return SpecPath(description + "[\"" + name + "\"]")
    }

    func index(_ i: Int) -> SpecPath { SpecPath(description + "[\(i)]") }
}
