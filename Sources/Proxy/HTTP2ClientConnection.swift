import EventLoop
import HTTP2
import ProxyConfig
import ProxyModel

/// One HTTP/2 client connection (TLS with ALPN h2, or h2c prior knowledge): drives an
/// `HTTP2ServerSession` over a `ByteTransport` and runs each stream as an `Exchange` through an
/// `HTTP2StreamDownstream`.
///
/// Confined to the worker's queue. Backpressure: request DATA is consumed (the client's window
/// reopened) only as the exchange takes it; response bodies wait in the session for the
/// client's window, at most `HTTP2StreamDownstream.responseBufferLimit` per stream before the
/// upstream is paused; the session's output is drained only while the transport is under its
/// high-water mark, and reading pauses while it is above.
///
/// Output: what the client's own bytes cause (SETTINGS acks, WINDOW_UPDATEs, refusals) is written
/// as those bytes are handled; what upstream responses cause (`scheduleFlush`) is written once at
/// the end of the worker's poll batch, so the responses of every stream answered in one batch go
/// out in one write.
///
/// Deadline (`timeouts.client_idle`): with no stream open, since the last byte read (then a
/// GOAWAY NO_ERROR); with output waiting, since the output last shrank — a client that opens
/// no window or reads nothing is cut with GOAWAY ENHANCE_YOUR_CALM instead of pinning memory.
final class HTTP2ClientConnection: ByteTransportHandler, ClientConnection, DeadlineTarget, BatchEndTarget {
    unowned let context: WorkerContext
    let peer: String
    let scheme: String
    let transport: any ByteTransport
    let session: HTTP2ServerSession
    private var streams: [Int32: HTTP2StreamDownstream] = [:]
    /// Streams removed while one of their calls may still be on the stack; emptied when the next
    /// event of this connection starts (the stack of the one that removed them has unwound).
    private var retired: [HTTP2StreamDownstream] = []
    private(set) var deadline: UInt64 = 0
    private var lastRead: UInt64
    private var lastOutputProgress: UInt64
    private var lastPendingOutput = 0
    private var closing = false
    private var flushing = false
    private var flushAgain = false
    /// A `flush` waits for the end of the current poll batch (`scheduleFlush`).
    private var flushScheduled = false
    private var output: [UInt8] = []

    /// The session limits a config asks for.
    static func sessionLimits(_ limits: LimitsConfig) -> HTTP2SessionLimits {
        HTTP2SessionLimits(maxConcurrentStreams: limits.h2MaxConcurrentStreams, maxHeaderListBytes: limits.headerBytes)
    }

    /// Takes over `transport` (becomes its handler and starts it; bytes it already holds are
    /// delivered again).
    init(context: WorkerContext, transport: any ByteTransport, peer: String, scheme: String) {
        self.context = context
        self.peer = peer
        self.scheme = scheme
        self.transport = transport
        session = HTTP2ServerSession(limits: HTTP2ClientConnection.sessionLimits(context.config.snapshot.limits))
        lastRead = Worker.now()
        lastOutputProgress = lastRead
        context.worker.register(self)
        transport.setHandler(self)
        transport.start()
        transport.redeliverPending()
        flush()
    }

    private var idleTimeout: UInt64 { UInt64(context.config.snapshot.timeouts.clientIdle.nanoseconds) }

    // MARK: ByteTransportHandler

    func transportRead(_ bytes: UnsafeRawBufferPointer) -> Int {
        retired.removeAll()
        guard !closing else { return bytes.count }
        lastRead = Worker.now()
        _ = session.receive(bytes)
        flush()
        return bytes.count
    }

    /// The client closed its side: as on HTTP/1.1, taken as giving up on what is in flight.
    func transportReadEOF() {
        transport.close()
    }

    func transportWritable() {
        retired.removeAll()
        transport.resumeReading(.peerBackpressure)
        flush()
    }

    func transportClosed() {
        closing = true
        deadline = 0
        context.worker.unregister(self)
        context.clientClosed(self)
        let open = Array(streams.values)
        streams.removeAll()
        for stream in open where !stream.isFinished { stream.exchange?.downstreamClosed() }
        retired += open
    }

    // MARK: ClientConnection

    /// Drain: GOAWAY (no new streams), in-flight streams finish, then the connection closes.
    func closeIfIdle() {
        guard !closing else { return }
        session.beginGracefulShutdown()
        flush()
    }

    func closeNow() { transport.close() }

    // MARK: output and events

    /// Writes what the session has to send (while the transport takes it), handles the events
    /// the session collected, and repeats until neither produces anything. Re-entrant calls
    /// (an exchange answering from inside an event) make the running one go round again.
    func flush() {
        if flushing {
            flushAgain = true
            return
        }
        guard !closing else { return }
        flushing = true
        repeat {
            flushAgain = false
            drainSession()
            let events = session.takeEvents()
            for event in events { handle(event) }
            if !events.isEmpty { flushAgain = true }
        } while flushAgain && !closing
        flushing = false
        guard !closing else { return }
        notifyWritableStreams()
        if session.isFinished {
            closing = true
            transport.closeAfterFlush()
            return
        }
        updateDeadline()
    }

    /// `flush` once the worker's current poll batch is done (at once outside a batch): response
    /// frames that streams submit during one batch share one write. On the worker's queue.
    func scheduleFlush() {
        guard !flushScheduled, !closing else { return }
        flushScheduled = true
        context.worker.poller.runAtBatchEnd(self)
    }

    func pollBatchEnded() {
        flushScheduled = false
        flush()
    }

    private func drainSession() {
        guard transport.isWritable else {
            transport.pauseReading(.peerBackpressure)
            return
        }
        session.drainOutput { piece in
            output.append(contentsOf: piece)
            if output.count >= 64 * 1024 { writeOutput() }
            return transport.isWritable
        }
        writeOutput()
        if !transport.isWritable { transport.pauseReading(.peerBackpressure) }
    }

    private func writeOutput() {
        guard !output.isEmpty else { return }
        transport.write(output)
        output.removeAll(keepingCapacity: output.capacity <= 128 * 1024)
    }

    private func notifyWritableStreams() {
        for stream in streams.values where stream.waitingForWritable {
            guard stream.canSendResponseBody else { continue }
            stream.waitingForWritable = false
            stream.exchange?.downstreamWritable()
        }
    }

    private func handle(_ event: HTTP2SessionEvent) {
        switch event {
        case .requestHead(let id, let head, let endStream):
            startExchange(id, head, endStream: endStream)
        case .headersTooLarge(let id, let endStream):
            let stream = newStream(id, endStream: endStream)
            let exchange = Exchange(context: context, downstream: stream,
                                    request: RequestHead(method: "-", target: "-", version: .http2, fields: HTTPFields()),
                                    body: .none, expectsContinue: false, client: peer, scheme: scheme)
            stream.exchange = exchange
            exchange.failToProxy(ProxyError(.headerFieldsTooLarge))
        case .requestBody(let id, let bytes):
            if let stream = streams[id] {
                stream.receiveBody(bytes)
            } else {
                session.consume(streamID: id, count: bytes.count)
            }
        case .requestEnd(let id):
            streams[id]?.receiveEnd()
        case .streamClosed(let id, _):
            guard let stream = streams[id] else { return }
            stream.streamClosed = true
            stream.releaseHeldBody()
            if !stream.isFinished && !stream.exchangeEnding {
                stream.exchange?.downstreamClosed() // reset by the client, or by the session (a protocol error)
            }
            remove(stream)
        case .goawayReceived:
            break
        }
    }

    private func newStream(_ id: Int32, endStream: Bool) -> HTTP2StreamDownstream {
        let stream = HTTP2StreamDownstream(streamID: id, connection: self)
        stream.requestEnded = endStream
        streams[id] = stream
        return stream
    }

    /// `:authority` is the Host (RFC 9113 §8.3.1); the stream's body framing comes from
    /// END_STREAM and `content-length`.
    private func startExchange(_ id: Int32, _ head: HTTP2RequestHead, endStream: Bool) {
        var fields = head.fields
        if let authority = head.authority {
            fields.remove("host")
            fields.append("host", authority)
        }
        let body: RequestBodyLength
        if endStream {
            body = .none
        } else if let n = head.contentLength {
            body = n == 0 ? .none : .length(n)
        } else {
            body = .streamed
        }
        let stream = newStream(id, endStream: endStream)
        let request = RequestHead(method: head.method, target: head.path, version: .http2, fields: fields)
        let exchange = Exchange(context: context, downstream: stream, request: request, body: body,
                                expectsContinue: false, client: peer, scheme: scheme)
        if head.path.utf8.count > context.config.snapshot.limits.uriBytes {
            stream.exchange = exchange
            return exchange.failToProxy(ProxyError(.uriTooLong))
        }
        stream.start(exchange, method: head.method)
    }

    /// A stream's exchange finished: forgotten once the stream has closed too.
    func streamFinished(_ stream: HTTP2StreamDownstream) {
        if stream.streamClosed { remove(stream) }
        scheduleFlush()
    }

    private func remove(_ stream: HTTP2StreamDownstream) {
        guard streams.removeValue(forKey: stream.streamID) != nil else { return }
        retired.append(stream)
    }

    // MARK: deadline

    private func updateDeadline() {
        let pending = transport.bufferedBytes + streams.keys.reduce(0) { $0 + session.bufferedResponseBytes(streamID: $1) }
        let now = Worker.now()
        if pending == 0 || pending < lastPendingOutput { lastOutputProgress = now }
        lastPendingOutput = pending
        if streams.isEmpty {
            deadline = lastRead + idleTimeout
        } else if pending > 0 {
            deadline = lastOutputProgress + idleTimeout
        } else {
            deadline = 0 // streams wait for their upstreams, whose own timeouts apply
        }
    }

    func deadlineExpired(now: UInt64) {
        retired.removeAll()
        guard !closing else { return }
        updateDeadline()
        guard deadline != 0, deadline <= now else { return }
        if streams.isEmpty {
            session.sendFinalGoaway()
        } else {
            session.terminate(code: HTTP2ErrorCode.enhanceYourCalm)
        }
        flush()
        if !closing { transport.close() }
    }
}
