/// An HTTP version as it appears on the wire (`HTTP/1.1`) or by protocol (HTTP/2).
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)
    public static let http2 = HTTPVersion(major: 2, minor: 0)

    public var description: String {
        switch (major, minor) {
        case (1, 1): return "HTTP/1.1"  // literals: this runs for every request's log and metrics
        case (1, 0): return "HTTP/1.0"
        case (2, _): return "HTTP/2"
        default: return "HTTP/\(major).\(minor)"
        }
    }

    /// The metrics' `protocol` label and the access log's `protocol`: `description`, but "h2" for HTTP/2.
    public var protocolName: String { major == 2 ? "h2" : description }
}

/// An ordered list of header fields, names kept as sent, looked up case-insensitively.
///
/// A plain array: requests carry a handful of fields, and a linear scan over contiguous
/// storage beats hashing here (no per-field allocation besides the strings themselves).
public struct HTTPFields: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var entries: [Field]

    public init(_ entries: [Field] = []) {
        self.entries = entries
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        entries = elements.map { Field(name: $0.0, value: $0.1) }
    }

    public func makeIterator() -> IndexingIterator<[Field]> { entries.makeIterator() }

    public var count: Int { entries.count }

    /// The first value of the field `name`, or nil.
    public func first(_ name: String) -> String? {
        for f in entries where HTTPFields.equalsIgnoringCase(f.name, name) { return f.value }
        return nil
    }

    /// Every value of the field `name`, in order.
    public func all(_ name: String) -> [String] {
        entries.filter { HTTPFields.equalsIgnoringCase($0.name, name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { first(name) != nil }

    public mutating func append(_ name: String, _ value: String) {
        entries.append(Field(name: name, value: value))
    }

    /// Replaces every field `name` by one with `value`.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        append(name, value)
    }

    /// Touches the storage only when a field matches: `Array.removeAll(where:)` makes shared
    /// storage unique (a copy of every field) even when it removes nothing.
    public mutating func remove(_ name: String) {
        removeAll { HTTPFields.equalsIgnoringCase($0.name, name) }
    }

    /// Removes every field for which `predicate` is true; copies nothing when none is.
    public mutating func removeAll(where predicate: (Field) -> Bool) {
        guard entries.contains(where: predicate) else { return }
        entries.removeAll(where: predicate)
    }

    /// Removes every field named one of `names`, keeping the rest in order.
    public mutating func remove(anyOf names: [String]) {
        removeAll { field in names.contains { HTTPFields.equalsIgnoringCase(field.name, $0) } }
    }

    /// ASCII case-insensitive comparison (field names are tokens: ASCII only).
    @inlinable
    public static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        // Lengths first (O(1) for native strings): most names differ there, with no byte read.
        let ua = a.utf8, ub = b.utf8
        guard ua.count == ub.count else { return false }
        @inline(__always) func same(_ x: UInt8, _ y: UInt8) -> Bool {
            if x == y { return true }
            let c = x | 0x20
            return c == y | 0x20 && c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")
        }
        // Native strings: straight over the bytes; bridged ones through the view.
        let contiguous = ua.withContiguousStorageIfAvailable { pa in
            ub.withContiguousStorageIfAvailable { pb in
                for i in 0..<pa.count where !same(pa[i], pb[i]) { return false }
                return true
            }
        }
        if let result = contiguous ?? nil { return result }
        return ua.elementsEqual(ub, by: same)
    }

    /// Splits a comma-separated list field value into trimmed, non-empty members. Scans UTF-8
    /// bytes (commas, spaces and tabs are ASCII, so every cut is a character boundary).
    public static func listMembers(_ value: String) -> [Substring] {
        var members: [Substring] = []
        let utf8 = value.utf8
        var start = utf8.startIndex
        while start < utf8.endIndex {
            let comma = utf8[start...].firstIndex(of: UInt8(ascii: ",")) ?? utf8.endIndex
            var lower = start, upper = comma
            while lower < upper, utf8[lower] == UInt8(ascii: " ") || utf8[lower] == UInt8(ascii: "\t") {
                lower = utf8.index(after: lower)
            }
            while lower < upper {
                let last = utf8.index(before: upper)
                guard utf8[last] == UInt8(ascii: " ") || utf8[last] == UInt8(ascii: "\t") else { break }
                upper = last
            }
            if lower < upper { members.append(value[lower..<upper]) }
            start = comma == utf8.endIndex ? comma : utf8.index(after: comma)
        }
        return members
    }
}

extension Substring {
    /// The substring without leading and trailing spaces and tabs.
    public func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}

/// A request head in protocol-neutral form (HTTP/1.1's request line and fields, or HTTP/2's
/// pseudo-headers mapped: `:authority` becomes `Host`).
public struct RequestHead: Sendable, Equatable {
    public var method: String
    /// The request target as sent (origin-form `/a?b`, absolute-form, `*`, or authority-form).
    public var target: String
    public var version: HTTPVersion
    public var fields: HTTPFields

    public init(method: String, target: String, version: HTTPVersion, fields: HTTPFields) {
        self.method = method
        self.target = target
        self.version = version
        self.fields = fields
    }
}

/// A response head in protocol-neutral form.
public struct ResponseHead: Sendable, Equatable {
    public var status: Int
    /// The reason phrase as received (HTTP/1.1 only; may be empty).
    public var reason: String
    public var version: HTTPVersion
    public var fields: HTTPFields

    public init(status: Int, reason: String = "", version: HTTPVersion = .http1_1, fields: HTTPFields = HTTPFields()) {
        self.status = status
        self.reason = reason
        self.version = version
        self.fields = fields
    }
}
