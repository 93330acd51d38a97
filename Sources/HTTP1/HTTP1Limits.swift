import ProxyModel

/// Size limits the parsers enforce while reading a head.
public struct HTTP1Limits: Sendable {
    /// The largest head (start line, fields, and the blank line) accepted; a request beyond it
    /// fails with `headerFieldsTooLarge` (431) as soon as the unfinished head grows past it.
    /// Trailers of a chunked body are bounded by the same number.
    public var headerBytes: Int
    /// The longest request target accepted; a longer one fails with `uriTooLong` (414) as soon
    /// as the unfinished target grows past it.
    public var uriBytes: Int

    public init(headerBytes: Int = 65536, uriBytes: Int = 8192) {
        self.headerBytes = headerBytes
        self.uriBytes = uriBytes
    }
}

/// How the body of the current message is delimited (RFC 9112 §6.3).
public enum BodyFraming: Sendable, Equatable {
    /// No body: a request without Content-Length or Transfer-Encoding, or a response to HEAD,
    /// a 1xx, 204 or 304.
    case none
    /// Exactly this many bytes (possibly 0).
    case contentLength(Int)
    /// Transfer-Encoding: chunked.
    case chunked
    /// A response without Content-Length that is not chunked: the body ends when the upstream
    /// closes (`HTTP1ResponseParser.finish()`).
    case untilClose
}

/// Why bytes are not a valid HTTP/1.1 message.
///
/// `kind` for requests: `malformedRequest` (400), `uriTooLong` (414), `headerFieldsTooLarge`
/// (431), `notImplemented` (501), `versionNotSupported` (505). The response parser always uses
/// `upstreamProtocolError`. After a parser throws, its state is unspecified: close the connection.
public struct HTTP1Error: Error, Sendable, Equatable {
    public var kind: ProxyError.Kind
    /// What was wrong, for logs (never shown to a client verbatim).
    public var reason: String

    public init(kind: ProxyError.Kind, reason: String) {
        self.kind = kind
        self.reason = reason
    }
}

/// What one parse call found.
public enum HTTP1Event<Head: Sendable>: Sendable {
    /// A complete head; `framing`, `keepAlive` (and `expectsContinue`) now describe this message.
    case head(Head)
    /// Body bytes: a byte range of the buffer passed to this parse call (zero-copy; chunk
    /// framing removed). Valid only until the caller changes that buffer.
    case body(Range<Int>)
    /// The message is complete (trailers read and dropped); the parser is ready for the next.
    case end
}
