/// Every problem found in one config.json, each named by the JSON path of the value at fault.
///
/// `description` has one line per problem, `path: message`
/// (`routes[2].upstream: unknown upstream "biling"`); a problem with no path (the file is not
/// JSON at all) prints its message alone.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// `listeners[0].address`, `upstreams.billing.timeouts.connect`; for a file that cannot be
        /// read, the file's path; empty for the document as a whole.
        public var path: String
        public var message: String

        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }

        public var description: String { path.isEmpty ? message : "\(path): \(message)" }
    }

    /// In the order found: sections in the order CONFIG.md lists them, entries in file order,
    /// and an object's unknown or duplicate keys before the problems inside it.
    public var problems: [Problem]

    public init(problems: [Problem]) {
        self.problems = problems
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
