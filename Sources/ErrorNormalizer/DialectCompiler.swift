import LenientJSON
import ProxyModel

/// Turns one `dialects.NAME` object into `Dialect.Rules`, collecting every problem with the
/// JSON path of the key at fault. A rule with a problem is dropped; compiling goes on so one
/// pass reports them all.
struct DialectCompiler {
    private(set) var problems: [DialectCompileErrors.Problem] = []

    static let fieldKeys = ["type", "code", "param", "message", "status"]
    static let dialectKeys = fieldKeys + ["error_when"]

    enum Field: String {
        case type, code, param, message, status
    }

    mutating func compile(_ spec: JSONValue, at path: SpecPath) -> Dialect.Rules {
        var rules = Dialect.Rules()
        guard let object = expectObject(spec, at: path, keys: Self.dialectKeys) else { return rules }
        for (key, value) in Self.lastMembers(object) {
            let at = path.key(key)
            switch key {
            case "type": rules.type = rule(value, for: .type, at: at)
            case "code": rules.code = rule(value, for: .code, at: at)
            case "param": rules.param = rule(value, for: .param, at: at)
            case "message": rules.message = rule(value, for: .message, at: at)
            case "status": rules.status = rule(value, for: .status, at: at)
            case "error_when": rules.errorWhen = errorWhen(value, at: at)
            default: break
            }
        }
        return rules
    }

    // MARK: Field rules

    private mutating func rule(_ value: JSONValue, for field: Field, at path: SpecPath) -> FieldRule? {
        var keys = ["from", "map", "extract"]
        if field == .message { keys.append("join") }
        guard let object = expectObject(value, at: path, keys: keys) else { return nil }
        let before = problems.count
        var rule = FieldRule(from: [], map: [:], extract: nil, join: "; ")
        if let from = object["from"] {
            rule.from = pointers(from, at: path.key("from"))
        }
        if let map = object["map"] {
            rule.map = self.map(map, for: field, at: path.key("map"))
        }
        if let extract = object["extract"] {
            rule.extract = self.extract(extract, at: path.key("extract"))
        }
        if let join = object["join"] {
            if let s = join.stringValue { rule.join = s } else { mismatch("a string", join, at: path.key("join")) }
        }
        if object["from"] == nil && object["extract"] == nil {
            report(path, "a rule needs \"from\" or \"extract\"")
        }
        return problems.count == before ? rule : nil
    }

    private mutating func pointers(_ value: JSONValue, at path: SpecPath) -> [JSONPointer] {
        guard case .array(let elements) = value else {
            mismatch("an array of JSON Pointers", value, at: path)
            return []
        }
        if elements.isEmpty { report(path, "must not be empty") }
        return elements.enumerated().compactMap { i, element in pointer(element, at: path.index(i)) }
    }

    private mutating func pointer(_ value: JSONValue, at path: SpecPath) -> JSONPointer? {
        guard let text = value.stringValue else {
            mismatch("a JSON Pointer string", value, at: path)
            return nil
        }
        guard let pointer = JSONPointer(text) else {
            report(path, "invalid JSON Pointer \"\(text)\": must be empty or start with \"/\", and \"~\" only as \"~0\" or \"~1\"")
            return nil
        }
        return pointer
    }

    /// A `map`'s outputs are checked here, so a mapped value is always usable for its field.
    private mutating func map(_ value: JSONValue, for field: Field, at path: SpecPath) -> [String: String] {
        guard case .object(let object) = value else {
            mismatch("an object", value, at: path)
            return [:]
        }
        reportDuplicates(object, at: path)
        var result: [String: String] = [:]
        for (key, output) in Self.lastMembers(object) {
            let at = path.key(key)
            guard let text = output.stringValue else {
                mismatch("a string", output, at: at)
                continue
            }
            if FieldValues.usable(text, for: field) == nil {
                report(at, "\(FieldValues.requirement(for: field)), found \"\(text)\"")
                continue
            }
            result[key] = text
        }
        return result
    }

    private mutating func extract(_ value: JSONValue, at path: SpecPath) -> Extract? {
        guard let object = expectObject(value, at: path, keys: ["from", "regex"]) else { return nil }
        var from: JSONPointer?
        var regex: CompiledRegex?
        if let f = object["from"] { from = pointer(f, at: path.key("from")) } else { report(path.key("from"), "required key is missing") }
        if let r = object["regex"] {
            regex = compileRegex(r, at: path.key("regex"))
        } else {
            report(path.key("regex"), "required key is missing")
        }
        guard let from, let regex else { return nil }
        return Extract(from: from, regex: regex)
    }

    private mutating func compileRegex(_ value: JSONValue, at path: SpecPath) -> CompiledRegex? {
        guard let pattern = value.stringValue else {
            mismatch("a string", value, at: path)
            return nil
        }
        let compiled: CompiledRegex
        do {
            compiled = try CompiledRegex(pattern)
        } catch {
            report(path, "invalid regex \"\(pattern)\": \(error)")
            return nil
        }
        guard Self.captureGroupCount(pattern) > 0 else {
            report(path, "the regex \"\(pattern)\" has no capture group; the first one gives the value")
            return nil
        }
        return compiled
    }

    /// Capturing groups in a pattern that compiled: `(` not escaped, not in a bracket
    /// expression, and not `(?…)` unless named (`(?<n>`, `(?P<n>`, `(?'n'`).
    static func captureGroupCount(_ pattern: String) -> Int {
        let s = Array(pattern.unicodeScalars)
        var count = 0
        var i = 0
        var classDepth = 0
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                if i + 1 < s.count, s[i + 1] == "Q" {
                    i += 2
                    while i < s.count, !(s[i] == "\\" && i + 1 < s.count && s[i + 1] == "E") { i += 1 }
                }
                i += 2
                continue
            }
            if classDepth > 0 {
                if c == "[" { classDepth += 1 } else if c == "]" { classDepth -= 1 }
            } else if c == "[" {
                classDepth = 1
                if i + 1 < s.count, s[i + 1] == "^" { i += 1 }
                if i + 1 < s.count, s[i + 1] == "]" { i += 1 }
            } else if c == "(" {
                if i + 1 < s.count, s[i + 1] == "?" {
                    let next = i + 2 < s.count ? s[i + 2] : " "
                    let after = i + 3 < s.count ? s[i + 3] : " "
                    if next == "P" && after == "<" || next == "'" || next == "<" && after != "=" && after != "!" {
                        count += 1
                    }
                } else if !(i + 1 < s.count && s[i + 1] == "*") {
                    count += 1
                }
            }
            i += 1
        }
        return count
    }

    // MARK: error_when

    private mutating func errorWhen(_ value: JSONValue, at path: SpecPath) -> ErrorWhen? {
        guard let object = expectObject(value, at: path, keys: ["status", "body"]) else { return nil }
        let before = problems.count
        var statuses = [StatusPattern(range: 200...299)]
        if let status = object["status"] {
            statuses = statusPatterns(status, at: path.key("status"))
        }
        var body: [(pointer: JSONPointer, expected: JSONValue)] = []
        if let b = object["body"] {
            body = bodyConditions(b, at: path.key("body"))
        } else {
            report(path.key("body"), "required key is missing")
        }
        return problems.count == before ? ErrorWhen(statuses: statuses, body: body) : nil
    }

    private mutating func statusPatterns(_ value: JSONValue, at path: SpecPath) -> [StatusPattern] {
        func one(_ v: JSONValue, at p: SpecPath) -> StatusPattern? {
            guard let text = v.stringValue ?? (v.intValue.map { String($0) }) else {
                mismatch("a status string (\"200\", \"2xx\" or \"200-299\")", v, at: p)
                return nil
            }
            guard let pattern = StatusPattern(text) else {
                report(p, "expected a status (\"200\"), a class (\"2xx\") or a range (\"200-299\") within 100-599, found \"\(text)\"")
                return nil
            }
            return pattern
        }
        if case .array(let elements) = value {
            if elements.isEmpty { report(path, "must not be empty") }
            return elements.enumerated().compactMap { i, e in one(e, at: path.index(i)) }
        }
        return one(value, at: path).map { [$0] } ?? []
    }

    private mutating func bodyConditions(_ value: JSONValue, at path: SpecPath) -> [(pointer: JSONPointer, expected: JSONValue)] {
        guard case .object(let object) = value else {
            mismatch("an object of JSON Pointer to expected value", value, at: path)
            return []
        }
        reportDuplicates(object, at: path)
        if object.members.isEmpty { report(path, "must not be empty") }
        var conditions: [(pointer: JSONPointer, expected: JSONValue)] = []
        for (key, expected) in Self.lastMembers(object) {
            let at = path.key(key)
            guard let pointer = pointer(.string(key), at: at) else { continue }
            switch expected {
            case .array, .object: mismatch("a string, number, boolean or null", expected, at: at)
            default: conditions.append((pointer, expected))
            }
        }
        return conditions
    }

    // MARK: Helpers

    private mutating func expectObject(_ value: JSONValue, at path: SpecPath, keys: [String]) -> JSONObject? {
        guard case .object(let object) = value else {
            mismatch("an object", value, at: path)
            return nil
        }
        reportDuplicates(object, at: path)
        for key in object.keys where !keys.contains(key) {
            let known = keys.map { "\"\($0)\"" }.joined(separator: ", ")
            report(path.key(key), "unknown key (expected one of \(known))")
        }
        return object
    }

    private mutating func reportDuplicates(_ object: JSONObject, at path: SpecPath) {
        var seen = Set<String>()
        var reported = Set<String>()
        for key in object.keys where !seen.insert(key).inserted && reported.insert(key).inserted {
            report(path.key(key), "duplicate key")
        }
    }

    /// Members in document order, each name once (its last value, as lookups see it).
    private static func lastMembers(_ object: JSONObject) -> [(key: String, value: JSONValue)] {
        var seen = Set<String>()
        var out: [(key: String, value: JSONValue)] = []
        for member in object.members.reversed() where seen.insert(member.key).inserted { out.append(member) }
        return out.reversed()
    }

    private mutating func mismatch(_ expected: String, _ found: JSONValue, at path: SpecPath) {
        report(path, "expected \(expected), found \(found.typeName)")
    }

    private mutating func report(_ path: SpecPath, _ message: String) {
        problems.append(DialectCompileErrors.Problem(path: path.description, message: message))
    }
}
