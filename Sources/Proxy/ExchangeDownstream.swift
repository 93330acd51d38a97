import ProxyModel

/// How the response body that follows a head is delimited, as the downstream must frame it.
enum ResponseBodyLength: Equatable {
    /// No body (HEAD, 204, 304): the head's own Content-Length, if any, is left as it is.
    case none
    case length(Int)
    /// Streamed until `sendResponseEnd` (chunked on HTTP/1.1, DATA frames on HTTP/2).
    case streamed
}

/// How the request body arrives from the client.
enum RequestBodyLength: Equatable {
    case none
    case length(Int)
    /// Chunked on HTTP/1.1, DATA frames without content-length on HTTP/2.
    case streamed
}

/// The client side of one exchange: an HTTP/1.1 connection (one exchange at a time) or,
/// later, one HTTP/2 stream. Called on the worker's queue only.
protocol ExchangeDownstream: AnyObject {
    /// Queues the response head. `head.fields` are end-to-end fields only; the downstream
    /// adds its own framing and connection fields.
    func sendResponseHead(_ head: ResponseHead, body: ResponseBodyLength)
    func sendResponseBody(_ bytes: UnsafeRawBufferPointer)
    /// The response is complete; the downstream then hears nothing more of this exchange
    /// except `exchangeDidFinish`.
    func sendResponseEnd()
    /// The response cannot be completed after its head went out: the client must see a
    /// truncated response (HTTP/1.1: close without the last chunk; HTTP/2: RST_STREAM).
    func abortResponse()
    /// Writes what was queued (called once per batch of upstream events).
    func flushResponse()
    /// False while the client's write queue is above its high-water mark.
    var canSendResponseBody: Bool { get }
    /// `100 Continue` for a client that sent `Expect: 100-continue`.
    func sendContinue()
    /// Stops or restarts delivery of request body bytes (backpressure toward the client).
    func setRequestBodyFlowing(_ flowing: Bool)
    /// The exchange is over (logged); the downstream may start the next one.
    func exchangeDidFinish(_ exchange: Exchange)
}
