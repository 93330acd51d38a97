import ErrorNormalizer
import LenientJSON

/// The problems of one load, in the order found.
final class ProblemLog {
    private(set) var problems: [ConfigErrors.Problem] = []

    func report(_ path: ConfigPath, _ message: String) {
        problems.append(ConfigErrors.Problem(path: path.description, message: message))
    }

    func merge(_ dialectProblems: DialectCompileErrors) {
        for p in dialectProblems.problems {
            problems.append(ConfigErrors.Problem(path: p.path, message: p.message))
        }
    }
}

/// One value of config.json with its JSON path.
///
/// Every typed read returns the value, or reports a problem at `path` (naming the expected type,
/// or the rule broken) and returns nil. A caller then uses the key's default and goes on, so one
/// pass reports every problem; a snapshot is only built when none was reported.
struct ConfigReader {
    let value: JSONValue
    let path: ConfigPath
    let log: ProblemLog
    /// The folder relative file paths are resolved against.
    let baseDirectory: String

    func report(_ message: String) { log.report(path, message) }

    func child(_ value: JSONValue, at path: ConfigPath) -> ConfigReader {
        ConfigReader(value: value, path: path, log: log, baseDirectory: baseDirectory)
    }

    private func mismatch<T>(_ expected: String) -> T? {
        report("expected \(expected), found \(value.typeName)")
        return nil
    }

    // MARK: JSON types

    func string() -> String? {
        guard case .string(let s) = value else { return mismatch("a string") }
        return s
    }

    func nonEmptyString() -> String? {
        guard let s = string() else { return nil }
        if s.isEmpty {
            report("must not be empty")
            return nil
        }
        return s
    }

    func bool() -> Bool? {
        guard case .bool(let b) = value else { return mismatch("a boolean (true or false)") }
        return b
    }

    /// An integer at least `minimum` (and at most `maximum`, when given).
    func int(minimum: Int, maximum: Int? = nil) -> Int? {
        guard case .number(let text) = value else { return mismatch("an integer") }
        guard let i = value.intValue else {
            report("expected an integer, found \(text)")
            return nil
        }
        if i < minimum || maximum.map({ i > $0 }) == true {
            report(maximum.map { "must be between \(minimum) and \($0), found \(i)" } ?? "must be at least \(minimum), found \(i)")
            return nil
        }
        return i
    }

    /// The elements, each with its indexed path; with `nonEmpty`, `[]` is a problem.
    func array(nonEmpty: Bool = false) -> [ConfigReader]? {
        guard case .array(let elements) = value else { return mismatch("an array") }
        if nonEmpty && elements.isEmpty {
            report("must not be empty")
            return nil
        }
        return elements.enumerated().map { child($1, at: path.index($0)) }
    }

    /// An object whose keys are all in `keys`; each other key, and each key given twice, is a problem.
    func object(keys: [String]) -> ConfigObject? {
        guard case .object(let object) = value else { return mismatch("an object") }
        reportDuplicates(object)
        for key in object.keys where !keys.contains(key) {
            let hint = Self.closest(to: key, among: keys).map { " (did you mean \"\($0)\"?)" } ?? ""
            log.report(path.key(key), "unknown key\(hint)")
        }
        return ConfigObject(reader: self, object: object)
    }

    /// An object of named entries (`upstreams`, `rate_limits`): its members in document order,
    /// a name given twice reported and read once (the last, as lookups see it).
    func namedEntries() -> [(name: String, reader: ConfigReader)]? {
        guard case .object(let object) = value else { return mismatch("an object") }
        reportDuplicates(object)
        var seen = Set<String>()
        var entries: [(name: String, reader: ConfigReader)] = []
        for (key, _) in object.members.reversed() where seen.insert(key).inserted {
            entries.append((key, child(object[key]!, at: path.key(key))))
        }
        return entries.reversed()
    }

    private func reportDuplicates(_ object: JSONObject) {
        var seen = Set<String>()
        var reported = Set<String>()
        for key in object.keys where !seen.insert(key).inserted && reported.insert(key).inserted {
            log.report(path.key(key), "duplicate key")
        }
    }

    // MARK: Config syntaxes

    /// A string out of a fixed set (`"flat"` or `"wrapped"`).
    func choice<T: RawRepresentable>(_ cases: [T]) -> T? where T.RawValue == String {
        let expected = Self.alternatives(cases.map(\.rawValue))
        guard case .string(let s) = value else { return mismatch(expected) }
        guard let v = cases.first(where: { $0.rawValue == s }) else {
            report("expected \(expected), found \"\(s)\"")
            return nil
        }
        return v
    }

    /// A positive duration string (`"250ms"`, `"30s"`, `"5m"`, `"1h"`); see `DurationText`.
    func duration() -> Duration? {
        let expected = #"a duration with a unit ms, s, m or h ("250ms", "30s", "5m", "1h")"#
        guard case .string(let s) = value else { return mismatch(expected) }
        guard let d = DurationText.parse(s) else {
            report("expected \(expected), found \"\(s)\"")
            return nil
        }
        if d <= .zero {
            report("must be longer than 0")
            return nil
        }
        return d
    }

    /// A size in bytes, at least `minimum`: a JSON integer, or a string with a unit (see `ByteSize`).
    func size(minimum: Int = 1) -> Int? {
        let expected = #"a size in bytes, or a string with a unit B, KiB, MiB, GiB, KB, MB or GB ("64KiB")"#
        let bytes: Int
        switch value {
        case .number:
            guard let i = int(minimum: minimum) else { return nil }
            bytes = i
        case .string(let s):
            guard let b = ByteSize.parse(s) else {
                report("expected \(expected), found \"\(s)\"")
                return nil
            }
            bytes = b
        default:
            return mismatch(expected)
        }
        if bytes < minimum {
            report("must be at least \(minimum) bytes")
            return nil
        }
        return bytes
    }

    /// `host:port`; see `HostPort.parse`.
    func hostPort(allowPortZero: Bool = false) -> HostPort? {
        guard case .string(let s) = value else { return mismatch(#"a "host:port" string"#) }
        switch HostPort.parse(s, allowPortZero: allowPortZero) {
        case .success(let hp): return hp
        case .failure(let e):
            report("invalid address \"\(s)\": \(e.message)")
            return nil
        }
    }

    /// A path, resolved against `baseDirectory`, to a regular file this process can read.
    func readableFile() -> String? {
        guard let raw = nonEmptyString() else { return nil }
        let resolved = ConfigFiles.resolve(raw, against: baseDirectory)
        if let problem = ConfigFiles.readableFileProblem(resolved) {
            report("cannot read \"\(resolved)\": \(problem.reason)")
            return nil
        }
        return resolved
    }

    /// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
    static func alternatives(_ names: [String]) -> String {
        let quoted = names.map { "\"\($0)\"" }
        guard quoted.count > 1 else { return quoted.first ?? "" }
        return quoted.dropLast().joined(separator: ", ") + " or " + quoted.last!
    }

    /// A known name close to `key`, if any: the same but for case and `-` for `_`, or a typo of
    /// one edit per three letters of the name, two at most.
    static func closest(to key: String, among names: [String]) -> String? {
        let folded = String(key.lowercased().map { $0 == "-" ? "_" : $0 })
        if let same = names.first(where: { $0 == folded }) { return same }
        let best = names.map { ($0, editDistance(Array(folded.utf8), Array($0.utf8))) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= min(2, best.0.utf8.count / 3) else { return nil }
        return best.0
    }

    /// Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`.
    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = Swift.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = Swift.min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}

/// An object of config.json whose keys were checked against the ones its section allows.
struct ConfigObject {
    let reader: ConfigReader
    let object: JSONObject

    var path: ConfigPath { reader.path }

    /// The value of `key`, null included; nil when absent.
    subscript(_ key: String) -> ConfigReader? {
        object[key].map { reader.child($0, at: reader.path.key(key)) }
    }

    /// The value of a nullable key: nil when absent or null.
    func nonNull(_ key: String) -> ConfigReader? {
        guard let value = object[key], !value.isNull else { return nil }
        return reader.child(value, at: reader.path.key(key))
    }

    /// The value of `key`; when absent, a problem is reported at the key's path.
    func required(_ key: String) -> ConfigReader? {
        guard let r = self[key] else {
            reader.log.report(reader.path.key(key), "required key is missing")
            return nil
        }
        return r
    }
}
