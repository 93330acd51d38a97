import EventLoop
import TLS

/// A client connection on a TLS listener until its handshake ends: the worker's registry holds
/// it (so drain and stop close it), its deadline is `timeouts.client_header`, and once the
/// handshake completes the worker starts the protocol driver ALPN chose on the same transport
/// and registers that instead. Counts the handshake in the metrics either way.
///
/// Confined to the worker's queue.
final class TLSAcceptingConnection: ByteTransportHandler, ClientConnection, DeadlineTarget {
    unowned let context: WorkerContext
    let transport: TLSTransport
    let peer: String
    private(set) var deadline: UInt64

    /// Takes over `transport` and starts its handshake.
    init(context: WorkerContext, transport: TLSTransport, peer: String) {
        self.context = context
        self.transport = transport
        self.peer = peer
        deadline = Worker.now() + UInt64(context.config.snapshot.timeouts.clientHeader.nanoseconds)
        context.worker.register(self)
        transport.setHandler(self)
        transport.start()
    }

    func transportConnected(errno: Int32) {
        deadline = 0
        context.worker.unregister(self)
        context.metrics.recordTLSHandshake(succeeded: true)
        context.handshakeCompleted(self)
    }

    func transportRead(_ bytes: UnsafeRawBufferPointer) -> Int { 0 }
    func transportReadEOF() { transport.close() }

    func transportClosed() {
        deadline = 0
        context.worker.unregister(self)
        context.metrics.recordTLSHandshake(succeeded: false)
        context.clientClosed(self)
    }

    func deadlineExpired(now: UInt64) {
        deadline = 0
        transport.close()
    }

    func closeIfIdle() { transport.close() }
    func closeNow() { transport.close() }
}
