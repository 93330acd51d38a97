/// The byte stream a protocol driver (an HTTP/1.1 or HTTP/2 client connection, an upstream
/// connection) reads from and writes to: a plain `SocketChannel`, or a TLS transport that
/// decrypts into the driver and encrypts the driver's writes.
///
/// Confined to the worker's queue, like the channel below it. The driver is the transport's
/// `ByteTransportHandler`; events reach it on the worker's queue.
public protocol ByteTransport: AnyObject {
    /// Makes `handler` the receiver of this transport's events (replacing any earlier one).
    /// Call before `start`, or (after a TLS handshake) to hand the stream to the chosen driver.
    func setHandler(_ handler: any ByteTransportHandler)
    /// Starts delivering events to the handler. Idempotent.
    func start()

    /// Writes `bytes` now if possible, else queues them (see `isWritable`).
    func write(_ bytes: UnsafeRawBufferPointer)
    func write(_ bytes: [UInt8])
    /// False while more than the high-water mark is queued: the driver should stop producing
    /// until `transportWritable`.
    var isWritable: Bool { get }
    /// Bytes queued for the socket (ciphertext for TLS).
    var bufferedBytes: Int { get }

    /// Reading stops while any reason is set; unconsumed bytes stay buffered.
    func pauseReading(_ reason: PauseReasons)
    func resumeReading(_ reason: PauseReasons)
    var isReadingPaused: Bool { get }
    /// Hands bytes received but not consumed to the handler again, soon and outside the
    /// caller's stack (nothing when none wait or reading is paused).
    func redeliverPending()
    /// The peer closed its sending side (EOF, or TLS close_notify / unclean end).
    var sawEOF: Bool { get }

    /// Closes once everything queued is written (TLS: after a close_notify); reading stops now.
    func closeAfterFlush()
    /// Closes now; queued bytes are dropped; the handler gets `transportClosed` once.
    func close()
    var isClosed: Bool { get }
}

/// A protocol driver's side of a `ByteTransport`. Every `ByteTransportHandler` is also a
/// `SocketChannelHandler`, so a plain `SocketChannel` delivers to it directly (one protocol
/// call per read, no adapter object).
public protocol ByteTransportHandler: SocketChannelHandler {
    /// Plaintext arrived: the unconsumed bytes from before followed by the new ones, valid
    /// only during the call. Returns how many were consumed (the rest comes again, in front
    /// of the next bytes) — the `SocketChannelHandler.channelRead` contract.
    func transportRead(_ bytes: UnsafeRawBufferPointer) -> Int
    /// No more bytes will come.
    func transportReadEOF()
    /// The write queue drained to the low-water mark after having passed the high-water mark.
    func transportWritable()
    /// The transport closed (by `close()`, an I/O error or a TLS failure). Called once.
    func transportClosed()
    /// An outgoing connection is ready for bytes (for TLS: connected and handshake complete),
    /// or failed: `errno` 0 on success. Only transports created connecting report this.
    func transportConnected(errno: Int32)
}

extension ByteTransportHandler {
    public func transportConnected(errno: Int32) {}
    public func transportWritable() {}

    public func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) -> Int { transportRead(bytes) }
    public func channelReadEOF(_ channel: SocketChannel) { transportReadEOF() }
    public func channelWritable(_ channel: SocketChannel) { transportWritable() }
    public func channelConnected(_ channel: SocketChannel, errno: Int32) { transportConnected(errno: errno) }
    public func channelClosed(_ channel: SocketChannel) { transportClosed() }
}

extension SocketChannel: ByteTransport {
    public func setHandler(_ handler: any ByteTransportHandler) {
        setChannelHandler(handler)
    }
}
