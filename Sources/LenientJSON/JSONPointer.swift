/// An RFC 6901 JSON Pointer, parsed once (at config load) and resolved many times.
public struct JSONPointer: Hashable, Sendable, CustomStringConvertible {
    /// The unescaped reference tokens (`/a~1b/0` → `["a/b", "0"]`).
    public let tokens: [String]
    /// The pointer as written.
    public let description: String

    /// Parses `text`; nil when it is neither empty nor starts with `/`, or has a bad `~` escape.
    public init?(_ text: String) {
        description = text
        if text.isEmpty {
            tokens = []
            return
        }
        guard text.hasPrefix("/") else { return nil }
        var result: [String] = []
        for raw in text.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst() {
            var token: [UInt8] = []
            var i = raw.startIndex
            while i < raw.endIndex {
                let b = raw[i]
                if b == UInt8(ascii: "~") {
                    let next = raw.index(after: i)
                    guard next < raw.endIndex else { return nil }
                    switch raw[next] {
                    case UInt8(ascii: "0"): token.append(UInt8(ascii: "~"))
                    case UInt8(ascii: "1"): token.append(UInt8(ascii: "/"))
                    default: return nil
                    }
                    i = raw.index(after: next)
                } else {
                    token.append(b)
                    i = raw.index(after: i)
                }
            }
            result.append(String(decoding: token, as: UTF8.self))
        }
        tokens = result
    }

    /// The value this pointer names in `document`, or nil when a step does not exist.
    /// An array index must be a decimal without leading zeros (`-` never resolves).
    public func resolve(in document: JSONValue) -> JSONValue? {
        var current = document
        for token in tokens {
            switch current {
            case .object(let object):
                guard let next = object[token] else { return nil }
                current = next
            case .array(let array):
                guard let index = Self.arrayIndex(token), index < array.count else { return nil }
                current = array[index]
            default:
                return nil
            }
        }
        return current
    }

    /// The pointer in dotted form (`/data/attributes/email` → `data.attributes.email`).
    public var dotted: String { tokens.joined(separator: ".") }

    private static func arrayIndex(_ token: String) -> Int? {
        let utf8 = token.utf8
        guard let first = utf8.first, first >= 0x30, first <= 0x39 else { return nil }
        if first == 0x30 && utf8.count > 1 { return nil }
        guard utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(token)
    }
}
