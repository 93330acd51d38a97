import EventLoop

/// A new connection on a plain listener until its first bytes tell HTTP/1.1 from h2c prior
/// knowledge (`ProtocolSelector.plaintextDriver`); then it hands the transport, with the bytes
/// read so far, to the chosen driver and leaves the worker's registry.
///
/// Confined to the worker's queue. Consumes nothing itself. Deadline: `timeouts.client_idle`
/// from accept (a client that sends nothing is closed as an idle HTTP/1.1 one would be).
final class PlaintextProtocolSniffer: ByteTransportHandler, ClientConnection, DeadlineTarget {
    unowned let context: WorkerContext
    let transport: any ByteTransport
    let peer: String
    private(set) var deadline: UInt64
    private var decided = false

    init(context: WorkerContext, transport: any ByteTransport, peer: String) {
        self.context = context
        self.transport = transport
        self.peer = peer
        deadline = Worker.now() + UInt64(context.config.snapshot.timeouts.clientIdle.nanoseconds)
        context.worker.register(self)
        transport.setHandler(self)
        transport.start()
    }

    func transportRead(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard !decided, let driver = ProtocolSelector.plaintextDriver(firstBytes: bytes) else { return 0 }
        decided = true
        deadline = 0
        context.worker.unregister(self)
        let conn = context.startProtocol(on: transport, alpn: driver == .http2 ? "h2" : nil, peer: peer, scheme: "http")
        context.replaceClient(self, with: conn)
        // The driver is the transport's handler from now on; these bytes are its first.
        return (conn as? any ByteTransportHandler)?.transportRead(bytes) ?? 0
    }

    func transportReadEOF() { transport.close() }

    func transportClosed() {
        deadline = 0
        context.worker.unregister(self)
        context.clientClosed(self)
    }

    func closeIfIdle() { transport.close() }

    func closeNow() { transport.close() }

    func deadlineExpired(now: UInt64) { transport.close() }
}
