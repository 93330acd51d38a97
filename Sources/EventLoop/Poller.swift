import CSystemShims
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// What epoll reported for one registered descriptor.
public struct PollEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let readable = PollEvents(rawValue: errata_epollin)
    public static let writable = PollEvents(rawValue: errata_epollout)
    /// `EPOLLERR` or `EPOLLHUP`: reported whatever the interest, until the descriptor is removed.
    public static let failure = PollEvents(rawValue: errata_epollerr | errata_epollhup)
}

/// Work deferred to the end of the current poll batch (`Poller.runAtBatchEnd`), on the worker's queue.
public protocol BatchEndTarget: AnyObject {
    /// Called once per `runAtBatchEnd` request, after every event of the batch was delivered.
    func pollBatchEnded()
}

/// Receives a registered descriptor's readiness, on the worker's queue.
public protocol PollTarget: AnyObject {
    func pollReady(_ events: PollEvents)
}

/// Readiness for every descriptor of one worker: one epoll instance, level-triggered, watched by
/// a single Dispatch read source on the worker's queue. Each time the source fires, the worker
/// collects every ready descriptor with `epoll_wait(…, 0)` and handles them in one batch.
///
/// Why not a Dispatch source per descriptor: libdispatch on Linux re-arms a `EPOLLONESHOT`
/// registration and hands off to the queue's thread for every event of every source (an
/// `ioctl(FIONREAD)`, two `epoll_ctl`, an eventfd write and read, about two context switches —
/// BENCHMARKS.md). Here those costs are paid once per batch, and a descriptor costs an
/// `epoll_ctl` only when what it waits for changes (a write that met EAGAIN, a pause).
///
/// Confined to the worker's queue. Registrations carry a generation, so an event collected for
/// a descriptor that was removed (or whose number was reused) earlier in the same batch is
/// dropped, never delivered to the wrong target. A target is retained from `register` until
/// `deregister`.
public final class Poller: @unchecked Sendable {
    public struct Interest: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let read = Interest(rawValue: 1)
        public static let write = Interest(rawValue: 2)

        var epollEvents: UInt32 {
            (contains(.read) ? errata_epollin : 0) | (contains(.write) ? errata_epollout : 0)
        }
    }

    /// One registered descriptor; pass it back to `update` and `deregister`.
    public struct Registration: Equatable, Sendable {
        fileprivate let token: UInt64
        public let fd: Int32
        fileprivate var slot: Int { Int(truncatingIfNeeded: token & 0xffff_ffff) }
        fileprivate var generation: UInt32 { UInt32(truncatingIfNeeded: token >> 32) }
    }

    private struct Slot {
        var target: (any PollTarget)?
        var generation: UInt32 = 0
    }

    private let queue: DispatchQueue
    private let epfd: Int32
    private var source: (any DispatchSourceRead)?
    private var slots: [Slot] = []
    private var freeSlots: [Int] = []
    private static let batch = 256
    private let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: Poller.batch)
    private let events = UnsafeMutablePointer<UInt32>.allocate(capacity: Poller.batch)

    /// Descriptors registered now.
    public private(set) var registeredCount = 0
    /// True while a batch's events are being delivered (`runAtBatchEnd` defers only then).
    public private(set) var isDeliveringBatch = false
    private var batchEndTargets: [any BatchEndTarget] = []

    init(queue: DispatchQueue) {
        self.queue = queue
        epfd = errata_epoll_create()
        precondition(epfd >= 0, "epoll_create1 failed: errno \(errno)")
    }

    deinit {
        source?.cancel()
        tokens.deallocate()
        events.deallocate()
    }

    /// Watches `fd` for `interest` and delivers its events to `target`; `.failure(errno)` when
    /// epoll refuses it (the descriptor is then not watched).
    public func register(_ fd: Int32, interest: Interest, target: any PollTarget) -> Result<Registration, SocketError> {
        assertOnQueue()
        activateIfNeeded()
        let slot: Int
        if let reused = freeSlots.popLast() {
            slot = reused
        } else {
            slot = slots.count
            slots.append(Slot())
        }
        slots[slot].target = target
        let registration = Registration(token: UInt64(slots[slot].generation) << 32 | UInt64(slot), fd: fd)
        guard errata_epoll_ctl(epfd, 1, fd, interest.epollEvents, registration.token) == 0 else {
            let code = errno
            release(slot)
            return .failure(SocketError(call: "epoll_ctl", errno: code))
        }
        registeredCount += 1
        return .success(registration)
    }

    /// Changes what `registration` waits for (an empty interest still reports `.failure`).
    public func update(_ registration: Registration, interest: Interest) {
        assertOnQueue()
        _ = errata_epoll_ctl(epfd, 3, registration.fd, interest.epollEvents, registration.token)
    }

    /// Stops watching; no event of `registration` is delivered after this returns, and the
    /// target is released. Call it before closing the descriptor.
    public func deregister(_ registration: Registration) {
        guard forget(registration) else { return }
        _ = errata_epoll_ctl(epfd, 2, registration.fd, 0, 0)
    }

    /// `deregister` for a descriptor that is closed right after this returns: no `epoll_ctl`,
    /// because closing the last descriptor of a socket removes it from the epoll set (every
    /// socket here has exactly one: none is `dup`ed, all are `CLOEXEC`, so a child a test spawns
    /// holds one at most until its `exec`). Events of it already collected, or reported before
    /// that last close, are dropped by the generation check.
    public func deregisterClosing(_ registration: Registration) {
        _ = forget(registration)
    }

    /// Releases `registration`'s slot; false when it was already gone.
    private func forget(_ registration: Registration) -> Bool {
        assertOnQueue()
        guard registration.slot < slots.count, slots[registration.slot].generation == registration.generation,
              slots[registration.slot].target != nil else { return false }
        release(registration.slot)
        registeredCount -= 1
        return true
    }

    /// Calls `target.pollBatchEnded()` once the batch being delivered is done, or at once when no
    /// batch is being delivered (called from a timer or a queued block). Targets are retained
    /// until called; one that asks twice in a batch is called twice, so callers keep their own
    /// "already scheduled" flag.
    public func runAtBatchEnd(_ target: any BatchEndTarget) {
        assertOnQueue()
        guard isDeliveringBatch else { return target.pollBatchEnded() }
        batchEndTargets.append(target)
    }

    /// Runs what `runAtBatchEnd` deferred; those run outside the batch, so what they ask for
    /// in turn runs at once.
    private func endBatch() {
        isDeliveringBatch = false
        guard !batchEndTargets.isEmpty else { return }
        let targets = batchEndTargets
        batchEndTargets.removeAll(keepingCapacity: true)
        for target in targets { target.pollBatchEnded() }
    }

    @inline(__always)
    private func assertOnQueue() {
        #if DEBUG
        dispatchPrecondition(condition: .onQueue(queue))
        #endif
    }

    private func release(_ slot: Int) {
        slots[slot].target = nil
        slots[slot].generation &+= 1
        freeSlots.append(slot)
    }

    private func activateIfNeeded() {
        guard source == nil else { return }
        let source = DispatchSource.makeReadSource(fileDescriptor: epfd, queue: queue)
        // Weak: a worker torn down with descriptors still ready (tests drop whole workers) must not
        // find a freed poller when an event already on its way runs.
        source.setEventHandler { [weak self] in self?.deliverReady() }
        self.source = source
        source.activate()
    }

    /// Everything ready now, in batches; bounded so timers and queued blocks get their turn
    /// (level-triggered: what is left is reported again at the next round).
    private func deliverReady() {
        for _ in 0..<4 {
            let n = Int(errata_epoll_wait(epfd, tokens, events, Int32(Poller.batch), 0))
            if n <= 0 { return }
            isDeliveringBatch = true
            defer { endBatch() }
            for i in 0..<n {
                let token = tokens[i]
                let slot = Int(truncatingIfNeeded: token & 0xffff_ffff)
                guard slot < slots.count, slots[slot].generation == UInt32(truncatingIfNeeded: token >> 32),
                      let target = slots[slot].target else { continue }
                target.pollReady(PollEvents(rawValue: events[i]))
            }
            if n < Poller.batch { return }
        }
    }
}
