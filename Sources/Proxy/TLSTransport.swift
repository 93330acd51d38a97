import EventLoop
import TLS

/// A TLS connection over a `SocketChannel`: the channel's handler, it feeds ciphertext to its
/// `TLSEngine`, hands the decrypted bytes to its own handler (the protocol driver) and encrypts
/// the driver's writes. Server role for listeners, client role for upstreams.
///
/// Confined to the worker's queue (like its channel and engine); `@unchecked Sendable` only so
/// that a redelivery can be queued on that same queue.
///
/// Contracts:
/// - the handler hears `transportConnected(errno: 0)` once the handshake is complete (a server
///   transport starts its handshake at `start`; a client one when its connect completes), or a
///   failure: `transportConnected(errno:)` with the connect's errno, or `transportClosed` with
///   `failure` set when the handshake failed;
/// - every socket read is decrypted at once, draining `SSL_read` until it wants more ciphertext
///   (the engine does), so no plaintext stays hidden in OpenSSL; decrypted bytes not consumed by
///   the handler wait here, and while reading is paused the socket is paused too;
/// - a close_notify or the socket's EOF is `transportReadEOF`; `uncleanEOF` tells which;
/// - `closeAfterFlush` and `close` send a close_notify first once the handshake is complete
///   (one bounded `SSL_shutdown`, never waiting for the peer's).
final class TLSTransport: ByteTransport, SocketChannelHandler, @unchecked Sendable {
    let engine: TLSEngine
    let channel: SocketChannel
    private var handler: (any ByteTransportHandler)?
    private var started = false
    private var handshakeReported = false
    /// Waiting for the TCP connect (client role).
    private var connecting: Bool
    /// Decrypted bytes the handler has not consumed yet, from `plaintextStart` on.
    private var plaintext: [UInt8] = []
    private var plaintextStart = 0
    private var ciphertextOut: [UInt8] = []
    private var pauseReasons: PauseReasons = []
    private var redeliveryScheduled = false
    private var readEnded = false
    /// Why the TLS connection failed (set before `transportClosed` reaches the handler).
    private(set) var failure: TLSFailure?
    /// The peer ended the stream without close_notify.
    private(set) var uncleanEOF = false

    /// `connecting`: the socket's non-blocking connect is still in progress.
    init(fd: Int32, worker: Worker, engine: TLSEngine, connecting: Bool = false) {
        self.engine = engine
        self.connecting = connecting
        channel = SocketChannel(fd: fd, worker: worker, connecting: connecting)
        channel.setChannelHandler(self)
    }

    var isHandshakeComplete: Bool { engine.isHandshakeComplete }

    // MARK: ByteTransport

    func setHandler(_ handler: any ByteTransportHandler) {
        self.handler = handler
    }

    /// Starts the socket (first call), and hands plaintext that arrived before the handler was
    /// set to it (a request that came right behind the client's Finished).
    func start() {
        channel.worker.assertOnQueue()
        if !started {
            started = true
            channel.start()
            if !connecting { advanceHandshake() }
            return
        }
        redeliverPending()
    }

    func write(_ bytes: UnsafeRawBufferPointer) {
        guard !channel.isClosed, bytes.count > 0 else { return }
        guard engine.write(bytes) else {
            failure = failure ?? .protocolError("TLS write failed")
            close()
            return
        }
        flushCiphertext()
    }

    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    var isWritable: Bool { channel.isWritable }
    var bufferedBytes: Int { channel.bufferedBytes }
    var isReadingPaused: Bool { !pauseReasons.isEmpty }
    var sawEOF: Bool { readEnded }
    var isClosed: Bool { channel.isClosed }

    func pauseReading(_ reason: PauseReasons) {
        pauseReasons.insert(reason)
        channel.pauseReading(reason)
    }

    func resumeReading(_ reason: PauseReasons) {
        guard pauseReasons.contains(reason) else { return }
        pauseReasons.remove(reason)
        channel.resumeReading(reason)
        if pauseReasons.isEmpty { redeliverPending() }
    }

    func redeliverPending() {
        guard plaintextStart < plaintext.count, !redeliveryScheduled, !channel.isClosed else { return }
        redeliveryScheduled = true
        channel.worker.queue.async { [self] in
            redeliveryScheduled = false
            if !channel.isClosed && pauseReasons.isEmpty { deliverPlaintext() }
        }
    }

    func closeAfterFlush() {
        guard !channel.isClosed else { return }
        pauseReasons.insert(.closing)
        sendCloseNotify()
        channel.closeAfterFlush()
    }

    func close() {
        guard !channel.isClosed else { return }
        sendCloseNotify()
        channel.close()
    }

    private func sendCloseNotify() {
        guard engine.isHandshakeComplete, failure == nil else { return }
        engine.shutdown()
        flushCiphertext()
    }

    private func flushCiphertext() {
        guard engine.drainCiphertext(into: &ciphertextOut) > 0 else { return }
        channel.write(ciphertextOut)
        ciphertextOut.removeAll(keepingCapacity: ciphertextOut.capacity <= 64 * 1024)
    }

    // MARK: SocketChannelHandler

    func channelConnected(_ channel: SocketChannel, errno: Int32) {
        connecting = false
        if errno != 0 {
            handshakeReported = true
            handler?.transportConnected(errno: errno)
            return
        }
        advanceHandshake()
    }

    func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) -> Int {
        engine.receiveCiphertext(bytes)
        if !engine.isHandshakeComplete {
            advanceHandshake()
            guard engine.isHandshakeComplete, !channel.isClosed else { return bytes.count }
        }
        decrypt()
        return bytes.count
    }

    func channelReadEOF(_ channel: SocketChannel) {
        engine.receiveEndOfStream()
        if !engine.isHandshakeComplete {
            if case .failed(let f) = engine.handshake() { failure = f } else { failure = .uncleanEOF }
            channel.close()
            return
        }
        decrypt()
        if !readEnded && !channel.isClosed {
            // No close_notify and nothing decryptable: the stream just ended.
            endOfStream(clean: false)
        }
    }

    func channelWritable(_ channel: SocketChannel) {
        handler?.transportWritable()
    }

    func channelClosed(_ channel: SocketChannel) {
        if !engine.isHandshakeComplete && failure == nil { failure = .uncleanEOF }
        let h = handler
        handler = nil
        h?.transportClosed()
    }

    // MARK: Handshake and decryption

    private func advanceHandshake() {
        let result = engine.handshake()
        flushCiphertext()
        switch result {
        case .incomplete:
            return
        case .failed(let f):
            failure = f
            // The alert (if any) was queued by flushCiphertext; the socket write is attempted now.
            channel.close()
        case .complete:
            guard !handshakeReported else { return }
            handshakeReported = true
            handler?.transportConnected(errno: 0)
            // Application data may have come in the same read as the handshake's last flight.
            if !channel.isClosed { decrypt() }
        }
    }

    /// Decrypts what the engine holds and delivers it (unless paused).
    private func decrypt() {
        guard !readEnded else { return }
        if plaintextStart > 0 && plaintextStart == plaintext.count {
            plaintext.removeAll(keepingCapacity: true)
            plaintextStart = 0
        }
        let result = engine.read(into: &plaintext)
        flushCiphertext() // key updates, session tickets
        switch result {
        case .bytes:
            if pauseReasons.isEmpty { deliverPlaintext() }
            // A close_notify or failure behind the bytes is reported by the next read.
            if !channel.isClosed, !readEnded { decryptTrailingEnd() }
        case .wantMoreCiphertext:
            return
        case .closed:
            endOfStream(clean: true)
        case .failed(.uncleanEOF):
            endOfStream(clean: false)
        case .failed(let f):
            failure = f
            channel.close()
        }
    }

    /// After bytes, an end that was already decrypted behind them.
    private func decryptTrailingEnd() {
        switch engine.read(into: &plaintext) {
        case .closed: endOfStream(clean: true)
        case .failed(.uncleanEOF): endOfStream(clean: false)
        case .failed(let f):
            failure = f
            channel.close()
        case .bytes:
            if pauseReasons.isEmpty { deliverPlaintext() }
        case .wantMoreCiphertext:
            return
        }
    }

    private func endOfStream(clean: Bool) {
        guard !readEnded else { return }
        readEnded = true
        uncleanEOF = !clean
        handler?.transportReadEOF()
    }

    private func deliverPlaintext() {
        guard let handler, plaintextStart < plaintext.count else { return }
        let consumed = plaintext.withUnsafeBytes { all in
            handler.transportRead(UnsafeRawBufferPointer(rebasing: all[plaintextStart...]))
        }
        plaintextStart += consumed
        if plaintextStart == plaintext.count {
            plaintext.removeAll(keepingCapacity: plaintext.capacity <= 256 * 1024)
            plaintextStart = 0
        }
    }
}
