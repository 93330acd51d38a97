import ProxyModel

/// An incremental, strict HTTP/1.1 response parser (RFC 9112) for one upstream connection.
/// Every error has kind `upstreamProtocolError`.
///
/// Same calling convention as `HTTP1RequestParser`. An interim (1xx) response is delivered as
/// `.head` then `.end`, after which the parser reads the final response of the same request.
public struct HTTP1ResponseParser: Sendable {
    private var core: HTTP1MessageParser

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        core = HTTP1MessageParser(role: .response, limits: limits)
    }

    /// Tells the parser which request the next response answers (call before each response):
    /// the response to HEAD has no body whatever its fields say.
    public mutating func expectResponse(toMethod method: String) {
        core.answersHead = method == "HEAD"
    }

    /// Returns how many bytes of `buffer` are consumed and at most one event; nil means more
    /// bytes are needed.
    public mutating func parse(_ buffer: UnsafeRawBufferPointer) throws(HTTP1Error) -> (consumed: Int, event: HTTP1Event<ResponseHead>?) {
        let (consumed, event) = try core.parse(buffer)
        switch event {
        case nil: return (consumed, nil)
        case .head(.response(let head)): return (consumed, .head(head))
        case .head(.request): preconditionFailure("response parser produced a request head")
        case .body(let range): return (consumed, .body(range))
        case .end: return (consumed, .end)
        }
    }

    /// The upstream closed: `.end` when the body was close-delimited (`untilClose`, every byte
    /// already delivered), nil otherwise (the response is truncated, or there was none).
    public mutating func finish() -> HTTP1Event<ResponseHead>? {
        core.finishAtClose() ? .end : nil
    }

    /// The body framing of the current response, valid after `.head`: `.none` for 1xx, 204,
    /// 304 and responses to HEAD; `.untilClose` without Content-Length or chunked.
    public var framing: BodyFraming { core.framing }

    /// Whether the connection may be reused after this response: HTTP/1.1 without
    /// `Connection: close`, HTTP/1.0 with `Connection: keep-alive`, never for `untilClose`.
    public var keepAlive: Bool { core.keepAlive }
}
