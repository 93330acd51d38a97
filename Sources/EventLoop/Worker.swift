import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Something with a deadline that the worker's tick checks.
///
/// Confined to the worker's queue. `deadline` is a `DispatchTime.uptimeNanoseconds` value, 0 for none.
public protocol DeadlineTarget: AnyObject {
    var deadline: UInt64 { get }
    /// Called on the worker's queue once `deadline` has passed (and is not 0).
    func deadlineExpired(now: UInt64)
}

/// One event-loop worker: a serial queue that every source of its connections targets.
///
/// Everything a connection owns (its sources, its upstream connections, its pool) lives on one
/// worker, so the hot path takes no lock and hops no queue. The type is `@unchecked Sendable`
/// because it is handed to the acceptors of its queue; its mutable state is touched only on
/// `queue` (checked with `dispatchPrecondition` in debug builds).
public final class Worker: @unchecked Sendable {
    public let index: Int
    public let queue: DispatchQueue
    public let io = KernelSocketIO()
    /// The worker's epoll instance: every socket of the worker is watched through it.
    public let poller: Poller

    /// Read scratch shared by the worker's connections: an idle connection holds no read buffer.
    public let scratch: UnsafeMutableRawBufferPointer
    public static let scratchSize = 64 * 1024

    private var targets: [ObjectIdentifier: any DeadlineTarget] = [:]
    private var tickTimer: (any DispatchSourceTimer)?
    /// How often deadlines are checked: timeouts fire at most this late.
    public let tickInterval: DispatchTimeInterval

    public init(index: Int, tickMilliseconds: Int = 50) {
        self.index = index
        self.queue = DispatchQueue(label: "errata.worker.\(index)", qos: .userInitiated)
        self.poller = Poller(queue: queue)
        self.scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Worker.scratchSize, alignment: 16)
        self.tickInterval = .milliseconds(tickMilliseconds)
    }

    deinit {
        scratch.deallocate()
    }

    @inline(__always)
    public func assertOnQueue() {
        #if DEBUG
        dispatchPrecondition(condition: .onQueue(queue))
        #endif
    }

    /// Monotonic now in nanoseconds.
    @inline(__always)
    public static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Starts the deadline tick. Call once.
    public func start() {
        queue.async { [self] in
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.schedule(deadline: .now() + tickInterval, repeating: tickInterval, leeway: .milliseconds(5))
            timer.setEventHandler { [weak self] in self?.tick() }
            timer.activate()
            tickTimer = timer
        }
    }

    /// Stops the tick (the worker is being torn down).
    public func stop() {
        queue.async { [self] in
            tickTimer?.cancel()
            tickTimer = nil
            targets.removeAll()
        }
    }

    /// Registers `target` for deadline checks until `unregister`. On the worker's queue.
    public func register(_ target: any DeadlineTarget) {
        assertOnQueue()
        targets[ObjectIdentifier(target)] = target
    }

    public func unregister(_ target: any DeadlineTarget) {
        assertOnQueue()
        targets.removeValue(forKey: ObjectIdentifier(target))
    }

    public var registeredTargetCount: Int { targets.count }

    private func tick() {
        let now = Worker.now()
        var expired: [any DeadlineTarget] = []
        for target in targets.values {
            let d = target.deadline
            if d != 0 && d <= now { expired.append(target) }
        }
        for target in expired where target.deadline != 0 && target.deadline <= now {
            target.deadlineExpired(now: now)
        }
    }
}

/// The workers of the process, one per core by default.
public final class WorkerGroup: Sendable {
    public let workers: [Worker]

    public init(count: Int) {
        workers = (0..<max(1, count)).map { Worker(index: $0) }
        for w in workers { w.start() }
    }

    public static var defaultCount: Int {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? Int(n) : 1
    }

    public func stop() {
        for w in workers { w.stop() }
    }
}
