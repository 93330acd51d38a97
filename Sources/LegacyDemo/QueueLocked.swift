import Dispatch

/// A value guarded by a private serial queue: the lock the demo server (and its tests) use
/// instead of `Synchronization.Mutex`, whose futex-based locking ThreadSanitizer on Linux does
/// not see (it reports false races on every `withLock`), while it does understand libdispatch.
///
/// `@unchecked Sendable` is sound because `value` is confined to `queue`: it is only read or
/// written inside `withLock`, which runs on `queue` (checked with `dispatchPrecondition`).
public final class QueueLocked<Value>: @unchecked Sendable {
    private let queue = DispatchQueue(label: "LegacyDemo.QueueLocked")
    private var value: Value

    public init(_ value: Value) { self.value = value }

    /// Runs `body` with exclusive access to the value and returns its result. Must not be
    /// called from inside `body` (that would deadlock).
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try queue.sync {
            dispatchPrecondition(condition: .onQueue(queue))
            return try body(&value)
        }
    }
}
