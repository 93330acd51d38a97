import LenientJSON
import ProxyModel

/// What makes a found value usable for each canonical field (CONFIG.md "Dialect rules" and
/// "Values, for every dialect"). Shared by configured dialects and `auto`.
enum FieldValues {
    typealias Field = DialectCompiler.Field

    /// The text a found value offers `field`, before `map`: a string as written; a number's
    /// literal for `message`, an integer's for `status`, and for any field when `map` has that
    /// literal as a key (a number is otherwise never a code, type or param); for `message`, an
    /// array made only of strings, joined with `join`. Nil for anything else.
    static func text(of value: JSONValue, for field: Field, map: [String: String], join: String) -> String? {
        switch value {
        case .string(let s):
            return s
        case .number(let literal):
            if map[literal] != nil { return literal }
            switch field {
            case .message: return literal
            case .status: return value.intValue.map { String($0) }
            default: return nil
            }
        case .array(let elements) where field == .message && !elements.isEmpty:
            var parts: [String] = []
            parts.reserveCapacity(elements.count)
            for element in elements {
                guard case .string(let s) = element else { return nil }
                parts.append(s)
            }
            return parts.joined(separator: join)
        default:
            return nil
        }
    }

    /// `text` as `field` takes it, or nil when unusable: `type` one of the canonical names;
    /// `code` a token; `param` non-empty, a JSON Pointer given dotted; `message` not blank;
    /// `status` 400–599.
    static func usable(_ text: String, for field: Field) -> String? {
        switch field {
        case .type:
            return CanonicalError.ErrorType(rawValue: text) != nil ? text : nil
        case .code:
            return isToken(text) ? text : nil
        case .param:
            if text.utf8.first == UInt8(ascii: "/"), let pointer = JSONPointer(text) {
                let dotted = pointer.dotted
                return dotted.isEmpty ? nil : dotted
            }
            return text.isEmpty ? nil : text
        case .message:
            return isBlank(text) ? nil : text
        case .status:
            return status(text).map { _ in text }
        }
    }

    /// What `usable(_:for:)` asks of `field`, for config errors about `map` outputs.
    static func requirement(for field: Field) -> String {
        switch field {
        case .type: return "expected one of " + CanonicalError.ErrorType.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        case .code: return "expected a code token (letters, digits, \"_\", \".\", \"-\")"
        case .param: return "expected a non-empty parameter name"
        case .message: return "expected a message that is not blank"
        case .status: return "expected a status 400-599"
        }
    }

    /// A status 400–599 written as three ASCII digits.
    static func status(_ text: String) -> Int? {
        let utf8 = text.utf8
        guard utf8.count == 3, utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(text),
              (400...599).contains(n) else { return nil }
        return n
    }

    /// Letters, digits, `_`, `.`, `-` (ASCII), at least one.
    static func isToken(_ text: String) -> Bool {
        !text.utf8.isEmpty && text.utf8.allSatisfy { b in
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }

    static func isBlank(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.properties.isWhitespace }
    }
}
