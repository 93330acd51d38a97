import EventLoop
import HTTP1
import ProxyModel

/// One HTTP/1.1 client connection: parses requests, runs one `Exchange` at a time (pipelined
/// requests wait in the socket's input, answered in order), and frames the responses. Speaks
/// over any `ByteTransport` (a plain socket, or TLS after the handshake).
///
/// Confined to the worker's queue. Its deadline is `timeouts.client_idle` between requests and
/// `timeouts.client_header` from the first byte of a head until the head is complete.
final class HTTP1ClientConnection: ByteTransportHandler, ClientConnection, DeadlineTarget, ExchangeDownstream {
    private enum ResponseFraming { case none, length, chunked, untilClose }

    unowned let context: WorkerContext
    let peer: String
    let scheme: String
    let channel: any ByteTransport
    private var parser: HTTP1RequestParser
    private var exchange: Exchange?
    /// A head has been parsed and its `.end` not yet seen.
    private var requestInProgress = false
    private var headStartedAt: UInt64 = 0
    private(set) var deadline: UInt64 = 0
    private var keepAlive = true
    private var requestVersion = HTTPVersion.http1_1
    private var requestMethod = "GET"
    private var responseFraming = ResponseFraming.none
    private var out: [UInt8] = []
    private var closing = false
    static let pipelineBufferLimit = 64 * 1024

    /// Takes over `transport` (becomes its handler and starts it).
    init(context: WorkerContext, transport: any ByteTransport, peer: String, scheme: String = "http") {
        self.context = context
        self.peer = peer
        self.scheme = scheme
        parser = HTTP1RequestParser(limits: context.config.http1Limits)
        channel = transport
        deadline = Worker.now() + UInt64(context.config.snapshot.timeouts.clientIdle.nanoseconds)
        context.worker.register(self)
        transport.setHandler(self)
        transport.start()
    }

    /// Whether the current request declared a body (its bytes may not all be read yet).
    private var hasUnreadBody: Bool { parser.framing != .none && parser.framing != .contentLength(0) }

    var isIdle: Bool { exchange == nil && !requestInProgress }

    // MARK: reading requests

    func transportRead(_ bytes: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while !closing {
            if exchange != nil && !requestInProgress {
                // The request is in; the next one waits for this response (pipelining in order).
                // Reading goes on, so a client that goes away is noticed, until 64 KiB of
                // pipelined requests wait.
                if bytes.count - offset > HTTP1ClientConnection.pipelineBufferLimit {
                    channel.pauseReading(.awaitingTurn)
                }
                return offset
            }
            if !requestInProgress && exchange == nil && offset < bytes.count && headStartedAt == 0 {
                headStartedAt = Worker.now()
                deadline = headStartedAt + UInt64(context.config.snapshot.timeouts.clientHeader.nanoseconds)
            }
            let result: (consumed: Int, event: HTTP1Event<RequestHead>?)
            do {
                result = try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            } catch {
                requestFailed(ProxyError(error.kind))
                return bytes.count
            }
            let base = offset
            offset += result.consumed
            guard let event = result.event else { return offset }
            switch event {
            case .head(let head):
                startExchange(head)
            case .body(let range):
                exchange?.receiveRequestBody(
                    UnsafeRawBufferPointer(rebasing: bytes[(base + range.lowerBound)..<(base + range.upperBound)]))
            case .end:
                requestInProgress = false
                exchange?.receiveRequestEnd()
                if exchange == nil { nextRequest() }
            }
            if channel.isReadingPaused { return offset }
        }
        return bytes.count
    }

    private func startExchange(_ head: RequestHead) {
        requestInProgress = true
        headStartedAt = 0
        deadline = 0
        requestVersion = head.version
        requestMethod = head.method
        keepAlive = parser.keepAlive && !context.draining
        let body: RequestBodyLength
        switch parser.framing {
        case .none, .untilClose: body = .none
        case .contentLength(let n): body = n == 0 ? .none : .length(n)
        case .chunked: body = .streamed
        }
        let exchange = Exchange(context: context, downstream: self, request: head, body: body,
                                expectsContinue: parser.expectsContinue && head.version == .http1_1,
                                client: peer, scheme: scheme)
        self.exchange = exchange
        exchange.start()
    }

    /// A request that is not valid HTTP: answered (when nothing of a response went out) and the
    /// connection closed, since the parser cannot find the next message.
    private func requestFailed(_ error: ProxyError) {
        keepAlive = false
        if let exchange {
            exchange.abortUpstream(error)
        } else {
            let ex = Exchange(context: context, downstream: self,
                              request: RequestHead(method: "-", target: "-", version: requestVersion, fields: HTTPFields()),
                              body: .none, expectsContinue: false, client: peer, scheme: scheme)
            exchange = ex
            ex.failToProxy(error)
        }
        closing = true
        channel.closeAfterFlush()
    }

    /// The client closed its side. As nginx does, a close while a response is awaited is taken
    /// as the client giving up (the upstream request is abandoned), not as a half-close.
    func transportReadEOF() {
        channel.close()
    }

    func transportWritable() {
        exchange?.downstreamWritable()
    }

    func transportClosed() {
        closing = true
        deadline = 0
        context.worker.unregister(self)
        context.clientClosed(self)
        let ex = exchange
        exchange = nil
        ex?.downstreamClosed()
    }

    func deadlineExpired(now: UInt64) {
        deadline = 0
        guard exchange == nil, !requestInProgress else { return }
        if headStartedAt != 0 {
            requestFailed(ProxyError(.requestTimeout))
        } else {
            channel.close()
        }
    }

    /// Closes the connection if it is between requests (drain).
    func closeIfIdle() {
        if isIdle && headStartedAt == 0 { channel.close() }
    }

    func closeNow() { channel.close() }

    private func nextRequest() {
        if !keepAlive || context.draining {
            closing = true
            flushResponse()
            channel.closeAfterFlush()
            return
        }
        deadline = Worker.now() + UInt64(context.config.snapshot.timeouts.clientIdle.nanoseconds)
        channel.resumeReading(.awaitingTurn)
        channel.redeliverPending()
    }

    // MARK: ExchangeDownstream

    func sendResponseHead(_ head: ResponseHead, body: ResponseBodyLength) {
        var head = head
        if context.draining { keepAlive = false }
        switch body {
        case .none:
            responseFraming = .none
        case .length(let n):
            responseFraming = .length
            head.fields.append("Content-Length", String(n))
        case .streamed:
            if requestVersion == .http1_1 {
                responseFraming = .chunked
                head.fields.append("Transfer-Encoding", "chunked")
            } else {
                responseFraming = .untilClose
                keepAlive = false
            }
        }
        if requestInProgress && hasUnreadBody {
            // The response comes before the request body ended: the rest of the body is not
            // read, so the connection cannot carry another request.
            keepAlive = false
        }
        if !keepAlive {
            head.fields.append("Connection", "close")
        } else if requestVersion == .http1_0 {
            head.fields.append("Connection", "keep-alive")
        }
        HTTP1Serializer.appendResponseHead(head, to: &out)
    }

    func sendResponseBody(_ bytes: UnsafeRawBufferPointer) {
        switch responseFraming {
        case .none: return
        case .chunked: HTTP1Serializer.appendChunk(bytes, to: &out)
        case .length, .untilClose: out.append(contentsOf: bytes)
        }
        if out.count >= 64 * 1024 { flushResponse() }
    }

    func sendResponseEnd() {
        if responseFraming == .chunked { HTTP1Serializer.appendLastChunk(to: &out) }
        flushResponse()
    }

    func abortResponse() {
        keepAlive = false
        closing = true
        flushResponse()
        channel.closeAfterFlush()
    }

    func flushResponse() {
        guard !out.isEmpty else { return }
        channel.write(out)
        out.removeAll(keepingCapacity: out.capacity <= 128 * 1024)
    }

    var canSendResponseBody: Bool { channel.isWritable }

    func sendContinue() {
        channel.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
    }

    func setRequestBodyFlowing(_ flowing: Bool) {
        if flowing {
            channel.resumeReading(.peerBackpressure)
        } else {
            channel.pauseReading(.peerBackpressure)
        }
    }

    func exchangeDidFinish(_ exchange: Exchange) {
        guard exchange === self.exchange else { return }
        self.exchange = nil
        channel.resumeReading(.peerBackpressure)
        if closing { return }
        if requestInProgress {
            if !hasUnreadBody {
                return // its `.end` is next in the input; nextRequest runs then
            }
            // An unread request body: the next message cannot be found.
            closing = true
            flushResponse()
            channel.closeAfterFlush()
            return
        }
        nextRequest()
    }
}
