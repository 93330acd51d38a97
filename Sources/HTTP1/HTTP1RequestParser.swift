import ProxyModel

/// An incremental, strict HTTP/1.1 request parser (RFC 9112) for one client connection.
///
/// Call `parse` with the unconsumed bytes the caller holds; drop `consumed` bytes from the
/// front, and call again (with the tail plus any new bytes) until `event` is nil, which means
/// more bytes are needed. Body bytes are never copied. After `.end` the parser is ready for
/// the next pipelined request. After a throw the connection must be closed.
public struct HTTP1RequestParser: Sendable {
    private var core: HTTP1MessageParser

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        core = HTTP1MessageParser(role: .request, limits: limits)
    }

    /// Returns how many bytes of `buffer` are consumed and at most one event. A head is
    /// consumed only when complete (scanning resumes where the last call stopped); chunk
    /// framing is consumed as read, so `consumed` may be > 0 with a nil event.
    public mutating func parse(_ buffer: UnsafeRawBufferPointer) throws(HTTP1Error) -> (consumed: Int, event: HTTP1Event<RequestHead>?) {
        let (consumed, event) = try core.parse(buffer)
        switch event {
        case nil: return (consumed, nil)
        case .head(.request(let head)): return (consumed, .head(head))
        case .head(.response): preconditionFailure("request parser produced a response head")
        case .body(let range): return (consumed, .body(range))
        case .end: return (consumed, .end)
        }
    }

    /// The body framing of the current request, valid after `.head`: `.none`,
    /// `.contentLength` or `.chunked` (never `.untilClose`).
    public var framing: BodyFraming { core.framing }

    /// Whether the connection may carry another request: HTTP/1.1 without `Connection: close`,
    /// HTTP/1.0 with `Connection: keep-alive`. Valid after `.head`.
    public var keepAlive: Bool { core.keepAlive }

    /// The request carries `Expect: 100-continue`. Valid after `.head`.
    public var expectsContinue: Bool { core.expectsContinue }
}
