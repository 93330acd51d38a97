import HTTP2
import ProxyModel

/// One HTTP/2 stream as the client side of an `Exchange`: frames the response through the
/// connection's `HTTP2ServerSession` and meters the request body into the exchange.
///
/// Confined to the worker's queue. Owned by its `HTTP2ClientConnection` until both the stream
/// has closed and the exchange has finished; it owns its exchange.
final class HTTP2StreamDownstream: ExchangeDownstream {
    let streamID: Int32
    unowned let connection: HTTP2ClientConnection
    var exchange: Exchange?
    /// The stream closed (END_STREAM both ways, or RST_STREAM from either side).
    var streamClosed = false
    /// The client sent END_STREAM.
    var requestEnded = false
    /// `canSendResponseBody` said no: the exchange waits for `downstreamWritable`.
    var waitingForWritable = false
    private var session: HTTP2ServerSession { connection.session }
    private var requestMethod = "GET"
    /// Request body bytes the exchange may not take yet (not consumed: they still count against
    /// the client's window, which bounds them).
    private var heldBody: [[UInt8]] = []
    private var requestEndHeld = false
    private var bodyFlowing = true
    private var declaredLength: Int?
    private var responseHasBody = false
    private var bytesSent = 0
    private var responseEnded = false
    /// The exchange sent its last response frame (END_STREAM or RST_STREAM) and calls its own
    /// `finish` right after: the stream close that the flush of that frame reports is the
    /// exchange's doing, not the client's, so it must not become `downstreamClosed`.
    private(set) var exchangeEnding = false

    /// Response body bytes buffered per stream before the exchange is told to stop reading the
    /// upstream (the client's window, or the connection's write queue, is full).
    static let responseBufferLimit = 64 * 1024

    init(streamID: Int32, connection: HTTP2ClientConnection) {
        self.streamID = streamID
        self.connection = connection
    }

    func start(_ exchange: Exchange, method: String) {
        self.exchange = exchange
        requestMethod = method
        exchange.start()
    }

    var isFinished: Bool { exchange == nil || exchange!.isDone }

    // MARK: request body (from the connection's events)

    /// Body bytes from the client: passed on and consumed (window reopened) while the exchange
    /// takes them, held otherwise; dropped and consumed once nobody wants them.
    func receiveBody(_ bytes: [UInt8]) {
        guard let exchange, !exchange.isDone else {
            session.consume(streamID: streamID, count: bytes.count)
            return
        }
        if bodyFlowing && heldBody.isEmpty {
            bytes.withUnsafeBytes { exchange.receiveRequestBody($0) }
            session.consume(streamID: streamID, count: bytes.count)
        } else {
            heldBody.append(bytes)
        }
    }

    func receiveEnd() {
        requestEnded = true
        if heldBody.isEmpty {
            exchange?.receiveRequestEnd()
        } else {
            requestEndHeld = true
        }
    }

    /// The stream is gone: bytes held are returned to the connection's window.
    func releaseHeldBody() {
        for chunk in heldBody { session.consume(streamID: streamID, count: chunk.count) }
        heldBody = []
    }

    // MARK: ExchangeDownstream

    func sendResponseHead(_ head: ResponseHead, body: ResponseBodyLength) {
        var fields = head.fields
        switch body {
        case .none:
            responseHasBody = false
        case .length(let n):
            fields.remove("Content-Length")
            fields.append("content-length", String(n))
            declaredLength = n
            responseHasBody = n > 0 && requestMethod != "HEAD"
        case .streamed:
            fields.remove("Content-Length")
            responseHasBody = requestMethod != "HEAD"
        }
        session.submitResponse(streamID: streamID, status: head.status, fields: fields, hasBody: responseHasBody)
        if !responseHasBody { responseEnded = true }
    }

    func sendResponseBody(_ bytes: UnsafeRawBufferPointer) {
        guard responseHasBody, !responseEnded, !bytes.isEmpty else { return }
        var bytes = bytes
        if let declaredLength, bytesSent + bytes.count > declaredLength {
            // Never more than content-length says (the upstream's framing already ensures it).
            bytes = UnsafeRawBufferPointer(rebasing: bytes[0..<(declaredLength - bytesSent)])
        }
        bytesSent += bytes.count
        session.appendResponseBody(streamID: streamID, bytes)
    }

    func sendResponseEnd() {
        exchangeEnding = true
        if responseHasBody && !responseEnded {
            responseEnded = true
            if let declaredLength, bytesSent != declaredLength {
                session.resetStream(streamID: streamID, code: HTTP2ErrorCode.internalError)
            } else {
                session.endResponse(streamID: streamID)
            }
        }
        connection.scheduleFlush()
    }

    func abortResponse() {
        exchangeEnding = true
        responseEnded = true
        session.resetStream(streamID: streamID, code: HTTP2ErrorCode.internalError)
        connection.scheduleFlush()
    }

    /// Written at the end of the worker's poll batch, with every other stream's output.
    func flushResponse() {
        connection.scheduleFlush()
    }

    var canSendResponseBody: Bool {
        let can = session.bufferedResponseBytes(streamID: streamID) < HTTP2StreamDownstream.responseBufferLimit
            && connection.transport.isWritable
        if !can { waitingForWritable = true }
        return can
    }

    /// HTTP/2 has no use for `100 Continue` here: the exchange is created without `expectsContinue`.
    func sendContinue() {}

    func setRequestBodyFlowing(_ flowing: Bool) {
        bodyFlowing = flowing
        guard flowing, let exchange else { return }
        while bodyFlowing && !heldBody.isEmpty && !exchange.isDone {
            let chunk = heldBody.removeFirst()
            chunk.withUnsafeBytes { exchange.receiveRequestBody($0) }
            session.consume(streamID: streamID, count: chunk.count)
        }
        if heldBody.isEmpty && requestEndHeld {
            requestEndHeld = false
            exchange.receiveRequestEnd()
        }
        connection.flush()
    }

    func exchangeDidFinish(_ exchange: Exchange) {
        guard exchange === self.exchange else { return }
        // A request body still coming is consumed and dropped (`receiveBody`); no RST_STREAM, which
        // could overtake the response's last DATA frames still waiting for the client's window.
        releaseHeldBody()
        connection.streamFinished(self)
    }
}
