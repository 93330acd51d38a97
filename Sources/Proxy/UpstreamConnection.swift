#if canImport(Glibc)
import Glibc
#endif
import EventLoop
import HTTP1
import ProxyModel
import TLS

/// What an upstream connection reports to the exchange it serves.
protocol UpstreamConnectionDelegate: AnyObject {
    func upstreamConnected(_ conn: UpstreamConnection)
    /// The connect (or, for TLS, the handshake) failed; `details` says why, for an operator.
    func upstreamConnectFailed(_ conn: UpstreamConnection, _ failure: ProxyError.ConnectFailure, details: String)
    /// The final response head (interim 1xx responses are dropped before this).
    func upstreamResponseHead(_ conn: UpstreamConnection, _ head: ResponseHead, framing: BodyFraming)
    /// Body bytes, valid only during the call. Returns false when the downstream cannot take
    /// more now: the connection then stops reading until `resumeResponse`.
    func upstreamResponseBody(_ conn: UpstreamConnection, _ bytes: UnsafeRawBufferPointer) -> Bool
    /// The response is complete. `reusable`: the upstream allows keep-alive and sent nothing extra.
    func upstreamResponseEnd(_ conn: UpstreamConnection, reusable: Bool)
    /// The connection failed before the response was complete.
    func upstreamFailed(_ conn: UpstreamConnection, _ failure: UpstreamConnection.Failure)
    /// Everything read in one event has been delivered (a good moment to flush downstream).
    func upstreamReadBatchDone(_ conn: UpstreamConnection)
    func upstreamWritable(_ conn: UpstreamConnection)
}

/// One HTTP/1.1 connection to one upstream server, owned by an `UpstreamPool`, over a plain or
/// TLS `ByteTransport` (for TLS, "connecting" lasts until the handshake is complete).
///
/// Confined to the worker's queue. States: connecting → active (serving one exchange) ⇄ idle
/// (in the pool, reading only to notice the server closing it) → closed. Its deadline is the
/// connect timeout while connecting, the response-head timeout once the request is written,
/// and the idle timeout while pooled.
final class UpstreamConnection: ByteTransportHandler, DeadlineTarget {
    enum Failure: Equatable {
        /// Closed or reset before the response was complete.
        case closed
        case protocolError(String)
        case timeout(ProxyError.TimeoutPhase)
    }

    enum State { case connecting, active, idle, closed }

    /// Strong: a retired pool must outlive its busy connections.
    let pool: UpstreamPool
    let serverIndex: Int
    let channel: any ByteTransport
    private(set) var state: State
    private(set) var deadline: UInt64 = 0
    private var parser: HTTP1ResponseParser
    weak var delegate: (any UpstreamConnectionDelegate)?
    /// Requests this connection has completed (0: fresh).
    private(set) var completedRequests = 0
    /// Whether any byte of the current response has arrived.
    private(set) var responseBytesSeen = false
    private var sawFinalHead = false

    /// Takes over `transport` (not started; created connecting when `connecting`).
    init(pool: UpstreamPool, serverIndex: Int, transport: any ByteTransport, connecting: Bool) {
        self.pool = pool
        self.serverIndex = serverIndex
        self.state = connecting ? .connecting : .active
        self.parser = HTTP1ResponseParser()
        channel = transport
        if connecting {
            deadline = Worker.now() + UInt64(pool.config.timeouts.connect.nanoseconds)
        }
        pool.worker.register(self)
        transport.setHandler(self)
        transport.start()
    }

    var isClosed: Bool { state == .closed }
    var isReused: Bool { completedRequests > 0 }

    /// Starts a request: the parser learns the method, the response-head timer waits for `requestWritten`.
    /// On a connection still connecting (or, for TLS, handshaking), the connect timeout keeps running.
    func begin(method: String, delegate: any UpstreamConnectionDelegate) {
        self.delegate = delegate
        parser.expectResponse(toMethod: method)
        responseBytesSeen = false
        sawFinalHead = false
        guard state != .connecting else { return }
        state = .active
        deadline = 0
    }

    func write(_ bytes: [UInt8]) { channel.write(bytes) }
    var isWritable: Bool { channel.isWritable }

    /// The whole request is on its way: the response head must now arrive within the timeout.
    func requestWritten() {
        if !sawFinalHead {
            deadline = Worker.now() + UInt64(pool.config.timeouts.responseHead.nanoseconds)
        }
    }

    func pauseResponse() { channel.pauseReading(.peerBackpressure) }
    func resumeResponse() { channel.resumeReading(.peerBackpressure) }

    func enterIdle(until: UInt64) {
        state = .idle
        delegate = nil
        deadline = until
    }

    func leaveIdle() {
        state = .active
        deadline = 0
    }

    func close() {
        guard state != .closed else { return }
        channel.close()
    }

    // MARK: ByteTransportHandler

    func transportConnected(errno: Int32) {
        deadline = 0
        if errno != 0 {
            let d = delegate
            delegate = nil
            close()
            d?.upstreamConnectFailed(self, .refused, details: String(cString: strerror(errno)))
            return
        }
        state = .active
        delegate?.upstreamConnected(self)
    }

    func transportRead(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard state == .active, delegate != nil else {
            // A pooled connection must be silent: bytes or not, it is no longer reusable.
            close()
            return bytes.count
        }
        responseBytesSeen = true
        var offset = 0
        defer { if state == .active { delegate?.upstreamReadBatchDone(self) } }
        while true {
            let result: (consumed: Int, event: HTTP1Event<ResponseHead>?)
            do {
                result = try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            } catch {
                fail(.protocolError(error.reason))
                return bytes.count
            }
            let base = offset
            offset += result.consumed
            guard let event = result.event else { return offset }
            switch event {
            case .head(let head):
                if head.status < 200 {
                    if head.status == 101 {
                        fail(.protocolError("101 Switching Protocols without an upgrade request"))
                        return bytes.count
                    }
                    continue // interim response: its .end follows, then the final head
                }
                sawFinalHead = true
                deadline = 0
                delegate?.upstreamResponseHead(self, head, framing: parser.framing)
            case .body(let range):
                let slice = UnsafeRawBufferPointer(rebasing: bytes[(base + range.lowerBound)..<(base + range.upperBound)])
                if let d = delegate, !d.upstreamResponseBody(self, slice) {
                    channel.pauseReading(.peerBackpressure)
                }
            case .end:
                guard sawFinalHead else { continue }
                finishResponse(extraBytes: offset < bytes.count)
                return bytes.count
            }
            guard state == .active, delegate != nil else { return bytes.count }
            // Paused with every byte parsed: go round once more, so that an `.end` due now (the
            // last body byte was in this read) is reported; no later read would bring it.
            if channel.isReadingPaused && offset < bytes.count { return offset }
        }
    }

    private func finishResponse(extraBytes: Bool) {
        // The response is over: a pause the client's backpressure left must not follow the
        // connection into the pool.
        channel.resumeReading(.peerBackpressure)
        let reusable = parser.keepAlive && !extraBytes && !channel.sawEOF
        completedRequests += 1
        let d = delegate
        delegate = nil
        d?.upstreamResponseEnd(self, reusable: reusable)
        if extraBytes { close() }
    }

    func transportReadEOF() {
        guard state == .active, delegate != nil else {
            close()
            return
        }
        if sawFinalHead, parser.finish() != nil {
            completedRequests += 1
            let d = delegate
            delegate = nil
            close()
            d?.upstreamResponseEnd(self, reusable: false)
            return
        }
        fail(.closed)
    }

    func transportWritable() {
        delegate?.upstreamWritable(self)
    }

    func transportClosed() {
        let wasConnecting = state == .connecting
        state = .closed
        deadline = 0
        pool.worker.unregister(self)
        pool.connectionClosed(self)
        if let d = delegate {
            delegate = nil
            if wasConnecting {
                let (failure, details) = connectFailure
                d.upstreamConnectFailed(self, failure, details: details)
            } else {
                d.upstreamFailed(self, .closed)
            }
        }
    }

    /// Why a connection closed before it was ready: a TLS handshake failure (certificate
    /// verification, or anything else TLS rejected, a non-TLS peer included), else a reset.
    private var connectFailure: (ProxyError.ConnectFailure, String) {
        switch (channel as? TLSTransport)?.failure {
        case .certificate(let reason): return (.tlsCertificate, reason)
        case .protocolError(let reason): return (.tlsProtocol, reason)
        case .uncleanEOF: return (.tlsProtocol, "the server closed the connection during the TLS handshake")
        case nil: return (.refused, "connection closed while connecting")
        }
    }

    // MARK: DeadlineTarget

    func deadlineExpired(now: UInt64) {
        deadline = 0
        switch state {
        case .connecting: fail(.timeout(.connect))
        case .active: fail(.timeout(.responseHead))
        case .idle, .closed: close()
        }
    }

    private func fail(_ failure: Failure) {
        let d = delegate
        delegate = nil
        close()
        d?.upstreamFailed(self, failure)
    }
}
