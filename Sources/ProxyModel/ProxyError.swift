/// Something that stopped the proxy from relaying an upstream's answer. Every phase that fails
/// produces one; `failToProxy` (in Proxy) is the only place that turns it into a response.
public struct ProxyError: Error, Sendable, Equatable {
    public enum ConnectFailure: Sendable, Equatable {
        case refused
        case nameNotResolved
        case tlsProtocol
        case tlsCertificate
    }

    public enum TimeoutPhase: Sendable, Equatable {
        case connect
        case responseHead
    }

    public enum Kind: Sendable, Equatable {
        case malformedRequest
        case routeNotFound
        case requestTimeout
        case payloadTooLarge
        case uriTooLong
        case headerFieldsTooLarge
        case notImplemented
        case versionNotSupported
        case rateLimited
        /// The shared rate-limit store (Redis) gave no decision and `on_failure` is `deny`.
        case rateLimitUnavailable
        case upstreamConnectFailed(ConnectFailure)
        case upstreamProtocolError
        case upstreamClosed
        /// `connectionLimit` false: every server is marked down.
        case upstreamUnavailable(connectionLimit: Bool)
        case upstreamTimeout(TimeoutPhase)
    }

    /// Where the failure came from (for logs and metrics).
    public enum Source: String, Sendable { case downstream, upstream, proxy }

    public var kind: Kind
    /// The canonical `message`: what happened, in a client developer's words, no addresses
    /// unless the operator allowed them.
    public var message: String
    /// RFC 9209 `details`, when it helps an operator.
    public var details: String?
    /// Whether the phase that failed may try again elsewhere (nothing of the request went out).
    public var retryable: Bool

    public init(_ kind: Kind, message: String? = nil, details: String? = nil, retryable: Bool = false) {
        self.kind = kind
        self.retryable = retryable
        self.details = details
        self.message = message ?? ProxyError.defaultMessage(kind)
    }

    public var source: Source {
        switch kind {
        case .malformedRequest, .requestTimeout, .payloadTooLarge, .uriTooLong, .headerFieldsTooLarge,
             .notImplemented, .versionNotSupported:
            return .downstream
        case .routeNotFound, .rateLimited, .rateLimitUnavailable:
            return .proxy
        default:
            return .upstream
        }
    }

    public var status: Int {
        switch kind {
        case .malformedRequest: return 400
        case .routeNotFound: return 404
        case .requestTimeout: return 408
        case .payloadTooLarge: return 413
        case .uriTooLong: return 414
        case .headerFieldsTooLarge: return 431
        case .rateLimited: return 429
        case .notImplemented: return 501
        case .upstreamConnectFailed, .upstreamProtocolError, .upstreamClosed: return 502
        case .upstreamUnavailable, .rateLimitUnavailable: return 503
        case .upstreamTimeout: return 504
        case .versionNotSupported: return 505
        }
    }

    /// The canonical `code` (ERRORS.md "Errors the proxy makes itself").
    public var code: String {
        switch kind {
        case .malformedRequest: return "malformed_request"
        case .routeNotFound: return "route_not_found"
        case .requestTimeout: return "request_timeout"
        case .payloadTooLarge: return "payload_too_large"
        case .uriTooLong: return "uri_too_long"
        case .headerFieldsTooLarge: return "request_header_fields_too_large"
        case .rateLimited: return "rate_limited"
        case .rateLimitUnavailable: return "rate_limit_unavailable"
        case .notImplemented: return "not_implemented"
        case .upstreamConnectFailed: return "upstream_connect_failed"
        case .upstreamProtocolError: return "upstream_protocol_error"
        case .upstreamClosed: return "upstream_closed"
        case .upstreamUnavailable: return "upstream_unavailable"
        case .upstreamTimeout: return "upstream_timeout"
        case .versionNotSupported: return "http_version_not_supported"
        }
    }

    /// The RFC 9209 error type for `Proxy-Status`.
    public var proxyStatusError: String {
        switch kind {
        case .malformedRequest, .requestTimeout, .payloadTooLarge, .uriTooLong, .headerFieldsTooLarge,
             .notImplemented, .versionNotSupported:
            return "http_request_error"
        case .routeNotFound: return "destination_not_found"
        case .rateLimited: return "http_request_denied"
        case .rateLimitUnavailable: return "proxy_internal_error"
        case .upstreamConnectFailed(.refused): return "connection_refused"
        case .upstreamConnectFailed(.nameNotResolved): return "destination_not_found"
        case .upstreamConnectFailed(.tlsProtocol): return "tls_protocol_error"
        case .upstreamConnectFailed(.tlsCertificate): return "tls_certificate_error"
        case .upstreamProtocolError: return "http_protocol_error"
        case .upstreamClosed: return "connection_terminated"
        case .upstreamUnavailable(connectionLimit: false): return "destination_unavailable"
        case .upstreamUnavailable(connectionLimit: true): return "connection_limit_reached"
        case .upstreamTimeout(.connect): return "connection_timeout"
        case .upstreamTimeout(.responseHead): return "http_response_timeout"
        }
    }

    /// The canonical error this failure is shown as.
    public var canonical: CanonicalError {
        CanonicalError(type: HTTPStatus.errorType(status), code: code, param: nil, message: message)
    }

    /// The `Proxy-Status` field value: `errata; error=…` with `details` when present.
    public var proxyStatus: String {
        var value = "errata; error=\(proxyStatusError)"
        if let details { value += "; details=" + ProxyStatus.quoted(details) }
        return value
    }

    public static func defaultMessage(_ kind: Kind) -> String {
        switch kind {
        case .malformedRequest: return "The request is not valid HTTP."
        case .routeNotFound: return "No route matches this host and path."
        case .requestTimeout: return "The request headers were not received in time."
        case .payloadTooLarge: return "The request body is larger than this endpoint accepts."
        case .uriTooLong: return "The request target is longer than this endpoint accepts."
        case .headerFieldsTooLarge: return "The request header fields are larger than this endpoint accepts."
        case .rateLimited: return "Rate limit exceeded."
        case .rateLimitUnavailable: return "The rate limit for this request could not be checked; try again later."
        case .notImplemented: return "The request uses a transfer coding this proxy does not implement."
        case .upstreamConnectFailed: return "The upstream could not be reached."
        case .upstreamProtocolError: return "The upstream answered with a response that is not valid HTTP."
        case .upstreamClosed: return "The upstream closed the connection before it answered."
        case .upstreamUnavailable(connectionLimit: false): return "Every server of the upstream is marked down."
        case .upstreamUnavailable(connectionLimit: true): return "The upstream has reached its connection limit."
        case .upstreamTimeout: return "The upstream did not answer in time."
        case .versionNotSupported: return "This HTTP version is not supported; use HTTP/1.0, HTTP/1.1 or HTTP/2."
        }
    }
}

/// RFC 9209 `Proxy-Status` values.
public enum ProxyStatus {
    /// The value for a rewritten upstream error.
    public static func received(status: Int) -> String { "errata; received-status=\(status)" }

    /// An RFC 8941 sf-string: quotes and backslashes escaped, non-printable bytes dropped.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case " "..."~": out.unicodeScalars.append(scalar)
            default: continue
            }
        }
        return out + "\""
    }
}
