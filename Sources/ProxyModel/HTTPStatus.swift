/// Reason phrases and the canonical error defaults that derive from a status code.
public enum HTTPStatus {
    /// The phrase of `status` in the IANA HTTP Status Code Registry, or nil when it has none
    /// (unregistered, or "(Unused)" like 418).
    public static func registeredPhrase(_ status: Int) -> String? {
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 102: return "Processing"
        case 103: return "Early Hints"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 203: return "Non-Authoritative Information"
        case 204: return "No Content"
        case 205: return "Reset Content"
        case 206: return "Partial Content"
        case 207: return "Multi-Status"
        case 208: return "Already Reported"
        case 226: return "IM Used"
        case 300: return "Multiple Choices"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 303: return "See Other"
        case 304: return "Not Modified"
        case 305: return "Use Proxy"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 402: return "Payment Required"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 406: return "Not Acceptable"
        case 407: return "Proxy Authentication Required"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 412: return "Precondition Failed"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 416: return "Range Not Satisfiable"
        case 417: return "Expectation Failed"
        case 421: return "Misdirected Request"
        case 422: return "Unprocessable Content"
        case 423: return "Locked"
        case 424: return "Failed Dependency"
        case 425: return "Too Early"
        case 426: return "Upgrade Required"
        case 428: return "Precondition Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 451: return "Unavailable For Legal Reasons"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        case 506: return "Variant Also Negotiates"
        case 507: return "Insufficient Storage"
        case 508: return "Loop Detected"
        case 510: return "Not Extended"
        case 511: return "Network Authentication Required"
        default: return nil
        }
    }

    /// The registered phrase, or `HTTP <status>` when there is none (ERRORS.md "Message").
    public static func phrase(_ status: Int) -> String {
        registeredPhrase(status) ?? "HTTP \(status)"
    }

    /// The canonical `type` for a status (ERRORS.md "Type from status").
    public static func errorType(_ status: Int) -> CanonicalError.ErrorType {
        switch status {
        case 401, 403, 407: return .authentication
        case 429: return .rateLimit
        case 500...599: return .api
        default: return .invalidRequest
        }
    }

    /// The snake_case `code` for a status (ERRORS.md "Code from status").
    public static func code(_ status: Int) -> String {
        switch status {
        case 400: return "bad_request"
        case 401: return "unauthorized"
        case 403: return "forbidden"
        case 404: return "not_found"
        case 405: return "method_not_allowed"
        case 406: return "not_acceptable"
        case 408: return "request_timeout"
        case 409: return "conflict"
        case 410: return "gone"
        case 411: return "length_required"
        case 412: return "precondition_failed"
        case 413: return "payload_too_large"
        case 414: return "uri_too_long"
        case 415: return "unsupported_media_type"
        case 422: return "unprocessable_entity"
        case 423: return "locked"
        case 428: return "precondition_required"
        case 429: return "rate_limited"
        case 431: return "request_header_fields_too_large"
        case 500: return "internal_error"
        case 501: return "not_implemented"
        case 502: return "bad_gateway"
        case 503: return "service_unavailable"
        case 504: return "gateway_timeout"
        case 505: return "http_version_not_supported"
        default: return "http_\(status)"
        }
    }
}
