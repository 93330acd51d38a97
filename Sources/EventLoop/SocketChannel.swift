import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Why a channel is not reading. Reading resumes only when no reason is left, so the read
/// source's suspend and resume calls always balance (nghttpx's pause reasons).
public struct PauseReasons: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The peer we relay to cannot take more bytes now.
    public static let peerBackpressure = PauseReasons(rawValue: 1 << 0)
    /// The protocol driver does not want the next message yet (pipelining, waiting for upstream).
    public static let awaitingTurn = PauseReasons(rawValue: 1 << 1)
    /// The connection is closing after a flush.
    public static let closing = PauseReasons(rawValue: 1 << 2)
    /// The process is refusing new work (accept back-off, drain).
    public static let throttled = PauseReasons(rawValue: 1 << 3)
}

/// The events of a `SocketChannel`, delivered on its worker's queue.
public protocol SocketChannelHandler: AnyObject {
    /// Bytes arrived. `bytes` are the unconsumed bytes left from before followed by the new
    /// ones; they are valid only during the call. Returns how many the handler consumed: the
    /// rest is kept and delivered again, in front of the next bytes (or at `resumeReading`).
    func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) -> Int
    /// The peer closed its sending side; no more `channelRead`.
    func channelReadEOF(_ channel: SocketChannel)
    /// The write queue dropped to the low-water mark after having passed the high-water mark.
    func channelWritable(_ channel: SocketChannel)
    /// A non-blocking connect finished: `errno` 0 on success.
    func channelConnected(_ channel: SocketChannel, errno: Int32)
    /// The channel closed (by `close()` or an I/O error). Called once; the fd itself is closed
    /// later, when Dispatch has cancelled every source of it.
    func channelClosed(_ channel: SocketChannel)
}

extension SocketChannelHandler {
    public func channelConnected(_ channel: SocketChannel, errno: Int32) {}
    public func channelWritable(_ channel: SocketChannel) {}
}

/// A non-blocking connected socket watched by its worker's `Poller` (one epoll instance per
/// worker, level-triggered).
///
/// Confined to `worker.queue`: every method must be called there (`@unchecked Sendable` only so
/// that it can be created from another queue and handed over before `start`).
///
/// Contracts:
/// - the descriptor is registered once, at `start`; what it waits for changes (one `epoll_ctl`)
///   only when reading pauses or resumes, at EOF, and when a write meets EAGAIN or drains;
/// - `close()` removes it from epoll, then closes it, then tells the handler: no event of this
///   channel is delivered afterwards, even one already collected in the current batch;
/// - at EOF reading stops being watched (a level-triggered EOF would be reported forever); an
///   error or hang-up while nothing is watched removes the registration, and the next read or
///   write finds out what happened.
public final class SocketChannel: PollTarget, @unchecked Sendable {
    public let fd: Int32
    public let worker: Worker
    public private(set) var handler: (any SocketChannelHandler)?

    /// Above this many queued bytes, `isWritable` is false (the peer side should pause).
    public var highWaterMark = 256 * 1024
    /// `channelWritable` fires when the queue drops to this after passing the high-water mark.
    public var lowWaterMark = 64 * 1024

    private var registration: Poller.Registration?
    /// What the registration waits for now.
    private var interest: Poller.Interest = []
    private var started = false
    /// Queued bytes wait for the socket to become writable.
    private var writeArmed = false
    /// An error or hang-up was reported while nothing was watched: the registration is gone.
    private var hungUp = false

    private var pauseReasons: PauseReasons = []
    private var pendingInput: [UInt8] = []
    private var redeliveryScheduled = false
    private var writeQueue = WriteQueue()
    private var aboveHighWater = false
    private var connecting = false
    private var closeWhenFlushed = false

    public private(set) var isClosed = false
    public private(set) var sawEOF = false

    /// An accepted socket (`connecting` false) or one whose non-blocking connect is in progress.
    /// Without a `handler`, set one with `setChannelHandler` before `start`.
    public init(fd: Int32, worker: Worker, handler: (any SocketChannelHandler)? = nil, connecting: Bool = false) {
        self.fd = fd
        self.worker = worker
        self.handler = handler
        self.connecting = connecting
    }

    /// Replaces the receiver of this channel's events. On the worker's queue.
    public func setChannelHandler(_ handler: any SocketChannelHandler) {
        self.handler = handler
    }

    /// Starts reading (or, while connecting, waits for the connect to finish). Call once, on the
    /// worker's queue, after the handler is ready for events.
    public func start() {
        worker.assertOnQueue()
        guard !started, !isClosed else { return }
        started = true
        let wanted = wantedInterest
        switch worker.poller.register(fd, interest: wanted, target: self) {
        case .success(let r):
            registration = r
            interest = wanted
        case .failure:
            close()
        }
    }

    private var wantedInterest: Poller.Interest {
        guard !isClosed else { return [] }
        if connecting { return .write }
        var wanted: Poller.Interest = []
        if pauseReasons.isEmpty && !sawEOF { wanted.insert(.read) }
        if writeArmed { wanted.insert(.write) }
        return wanted
    }

    /// Brings the registration in line with what the channel waits for (one `epoll_ctl` when it
    /// changed). After a hang-up with no registration, what is wanted is tried directly, soon.
    private func updateInterest() {
        guard started, !isClosed else { return }
        let wanted = wantedInterest
        guard let registration else {
            if hungUp && !wanted.isEmpty { worker.queue.async { [self] in pollReady(.failure) } }
            return
        }
        if wanted != interest {
            interest = wanted
            worker.poller.update(registration, interest: wanted)
        }
    }

    public func pollReady(_ events: PollEvents) {
        guard !isClosed else { return }
        let failed = events.contains(.failure) || hungUp
        if connecting {
            if events.contains(.writable) || failed { writable() }
            return
        }
        if wantedInterest.contains(.write) && (events.contains(.writable) || failed) {
            writable()
            if isClosed { return }
        }
        if wantedInterest.contains(.read) && (events.contains(.readable) || failed) {
            readable()
            if isClosed { return }
        }
        if failed && registration != nil && wantedInterest.isEmpty {
            // Reported again and again while registered: stop watching until something is wanted.
            worker.poller.deregister(registration!)
            registration = nil
            interest = []
            hungUp = true
        } else if hungUp && !wantedInterest.isEmpty {
            // Not watched any more: go on until the read or write meets the end (it cannot block).
            worker.queue.async { [self] in pollReady(.failure) }
        }
    }

    /// Bytes queued for writing.
    public var bufferedBytes: Int { writeQueue.count }
    /// False while the queue is above the high-water mark.
    public var isWritable: Bool { !aboveHighWater }

    // MARK: Reading

    private func readable() {
        var rounds = 0
        while !isClosed && pauseReasons.isEmpty && !sawEOF {
            switch worker.io.read(fd, into: worker.scratch) {
            case .processed(let n):
                deliver(UnsafeRawBufferPointer(rebasing: worker.scratch[0..<n]))
                rounds += 1
                if n < worker.scratch.count || rounds >= 4 { return }
            case .wouldBlock:
                return
            case .eof:
                sawEOF = true
                updateInterest()
                handler?.channelReadEOF(self)
                return
            case .failed:
                close()
                return
            }
        }
    }

    private func deliver(_ bytes: UnsafeRawBufferPointer) {
        guard let handler else { return }
        if pendingInput.isEmpty {
            let consumed = handler.channelRead(self, bytes)
            if consumed < bytes.count && !isClosed {
                pendingInput.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            }
        } else {
            pendingInput.append(contentsOf: bytes)
            deliverPending()
        }
    }

    private func deliverPending() {
        guard let handler, !pendingInput.isEmpty else { return }
        var input = pendingInput
        pendingInput = []
        let consumed = input.withUnsafeBytes { handler.channelRead(self, $0) }
        if consumed < input.count && !isClosed {
            input.removeSubrange(0..<consumed)
            // Bytes that arrived during the call (none can: reads happen only here) go after these.
            input.append(contentsOf: pendingInput)
            pendingInput = input
        }
    }

    /// Bytes read but not yet consumed by the handler.
    public var unconsumedCount: Int { pendingInput.count }

    public func pauseReading(_ reason: PauseReasons) {
        worker.assertOnQueue()
        let wasReading = pauseReasons.isEmpty
        pauseReasons.insert(reason)
        if wasReading { updateInterest() }
    }

    public func resumeReading(_ reason: PauseReasons) {
        worker.assertOnQueue()
        guard pauseReasons.contains(reason) else { return }
        pauseReasons.remove(reason)
        guard pauseReasons.isEmpty, !isClosed else { return }
        updateInterest()
        redeliverPending()
    }

    /// Hands bytes read but not consumed to the handler again, soon and outside the caller's
    /// stack (they will not make the socket readable again). Nothing when none are pending or
    /// reading is paused.
    public func redeliverPending() {
        worker.assertOnQueue()
        guard !pendingInput.isEmpty, !redeliveryScheduled, !isClosed else { return }
        redeliveryScheduled = true
        worker.queue.async { [self] in
            redeliveryScheduled = false
            if !isClosed && pauseReasons.isEmpty { deliverPending() }
        }
    }

    public var isReadingPaused: Bool { !pauseReasons.isEmpty }

    // MARK: Writing

    /// Writes `bytes` now if the kernel takes them, else queues the rest and arms the write source.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        worker.assertOnQueue()
        guard !isClosed, bytes.count > 0 else { return }
        let progress = writeQueue.write(bytes, fd: fd, io: worker.io)
        afterWrite(progress)
    }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    private func afterWrite(_ progress: WriteQueue.Progress) {
        switch progress {
        case .drained:
            disarmWriteSource()
            if aboveHighWater {
                aboveHighWater = false
                handler?.channelWritable(self)
            }
            if closeWhenFlushed { close() }
        case .pending:
            if writeQueue.count > highWaterMark { aboveHighWater = true }
            armWriteSource()
        case .failed:
            close()
        }
    }

    private func armWriteSource() {
        guard !writeArmed else { return }
        writeArmed = true
        updateInterest()
    }

    private func disarmWriteSource() {
        guard writeArmed else { return }
        writeArmed = false
        updateInterest()
    }

    private func writable() {
        guard !isClosed else { return }
        if connecting {
            connecting = false
            let error = Sockets.pendingError(fd)
            updateInterest()
            handler?.channelConnected(self, errno: error)
            return
        }
        let progress = writeQueue.flush(fd: fd, io: worker.io)
        if case .pending = progress {
            if aboveHighWater && writeQueue.count <= lowWaterMark {
                aboveHighWater = false
                handler?.channelWritable(self)
            }
            return
        }
        afterWrite(progress)
    }

    // MARK: Closing

    /// Closes once everything queued is written (reading stops now).
    public func closeAfterFlush() {
        worker.assertOnQueue()
        guard !isClosed else { return }
        pauseReading(.closing)
        if writeQueue.isEmpty {
            close()
        } else {
            closeWhenFlushed = true
        }
    }

    /// Half-closes the sending side once the queue is empty (for a lingering close).
    public func shutdownWrite() {
        guard !isClosed else { return }
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes now: queued bytes are dropped, the handler gets `channelClosed` once.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        writeQueue.discard()
        pendingInput = []
        if let registration {
            worker.poller.deregisterClosing(registration)
            self.registration = nil
        }
        Sockets.close(fd)
        let h = handler
        handler = nil
        h?.channelClosed(self)
    }
}
