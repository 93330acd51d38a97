import LenientJSON
import ProxyModel

/// The built-in `auto` dialect (CONFIG.md): reads the common error shapes with no
/// configuration. Everything it looks at is in the candidate lists below; `read` only walks
/// them, so adding a shape means adding a key, not a branch.
///
/// Each field is looked for first in a container — `error` (object), the first element of
/// `errors`, `fault`, or a `message` that is an object — and then at the top level.
enum AutoDialect {
    /// Where a nested error object may sit, in the order they are tried.
    static let containerKeys = ["error", "errors", "fault", "message"]
    /// The only key a type is read from; `_error` suffixes are dropped (`api_error` → `api`).
    static let typeKeys = ["type"]
    /// Code keys; `error` counts only as a string (OAuth2's `{"error": "invalid_client"}`).
    static let codeKeys = ["code", "error_code", "errorCode", "error"]
    static let paramPointers: [JSONPointer] = ["/param", "/field", "/parameter", "/source/parameter", "/source/pointer"]
        .map { JSONPointer($0)! }
    static let messageKeys = ["message", "error_description", "description", "detail", "title", "msg"]
    /// Preferred to a message that only repeats the status number or its reason phrase.
    static let informativeKeys = ["description", "detail"]
    static let join = "; "

    static func read(_ document: JSONValue, status: Int) -> FoundFields {
        let scopes = self.scopes(of: document)
        var found = FoundFields()
        found.type = first(in: scopes) { scope in
            typeKeys.lazy.compactMap { scope[$0].flatMap(type(of:)) }.first
        }
        found.code = first(in: scopes) { scope in
            codeKeys.lazy.compactMap { key in
                scope[key].flatMap { take($0, for: .code) }
            }.first
        }
        found.param = first(in: scopes) { scope in
            paramPointers.lazy.compactMap { pointer in
                pointer.resolve(in: .object(scope)).flatMap { take($0, for: .param) }
            }.first
        }
        let message = first(in: scopes) { scope in
            messageKeys.lazy.compactMap { scope[$0].flatMap { take($0, for: .message) } }.first
        }
        if let message, repeatsStatus(message, status: status),
           let better = first(in: scopes, { scope in
               informativeKeys.lazy.compactMap { scope[$0].flatMap { take($0, for: .message) } }
                   .first { !repeatsStatus($0, status: status) }
           }) {
            found.message = better
        } else {
            found.message = message
        }
        return found
    }

    /// The containers of `document` in order, then the top level itself. A top-level array is
    /// read as a list of errors (its first object).
    static func scopes(of document: JSONValue) -> [JSONObject] {
        switch document {
        case .object(let top):
            var scopes: [JSONObject] = []
            for key in containerKeys {
                switch top[key] {
                case .object(let nested)?: scopes.append(nested)
                case .array(let list)? where key == "errors":
                    if case .object(let first)? = list.first { scopes.append(first) }
                default: break
                }
            }
            scopes.append(top)
            return scopes
        case .array(let list):
            if case .object(let first)? = list.first { return scopes(of: .object(first)) }
            return []
        default:
            return []
        }
    }

    private static func first<T>(in scopes: [JSONObject], _ body: (JSONObject) -> T?) -> T? {
        for scope in scopes {
            if let value = body(scope) { return value }
        }
        return nil
    }

    private static func take(_ value: JSONValue, for field: DialectCompiler.Field) -> String? {
        FieldValues.text(of: value, for: field, map: [:], join: join).flatMap { FieldValues.usable($0, for: field) }
    }

    /// A canonical type, or one that is canonical once an `_error` suffix is removed.
    private static func type(of value: JSONValue) -> CanonicalError.ErrorType? {
        guard case .string(let text) = value else { return nil }
        if let type = CanonicalError.ErrorType(rawValue: text) { return type }
        if text.hasSuffix("_error") { return CanonicalError.ErrorType(rawValue: String(text.dropLast(6))) }
        return nil
    }

    /// Whether `message` says no more than the status does (`"404"`, `"Not Found"`).
    static func repeatsStatus(_ message: String, status: Int) -> Bool {
        let trimmed = Substring(message).trimmingSpaces()
        if trimmed == String(status) { return true }
        let phrase = HTTPStatus.phrase(status).lowercased()
        if trimmed.lowercased() == phrase { return true }
        if let registered = HTTPStatus.registeredPhrase(status), trimmed.lowercased() == registered.lowercased() { return true }
        // RFC 7231's older phrases still sent by legacy servers.
        return legacyPhrases[status].map { trimmed.lowercased() == $0 } ?? false
    }

    static let legacyPhrases: [Int: String] = [
        413: "payload too large", 415: "unsupported media type", 422: "unprocessable entity",
        416: "requested range not satisfiable", 414: "uri too long",
    ]
}
