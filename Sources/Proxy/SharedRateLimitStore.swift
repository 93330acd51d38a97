import EventLoop
import ProxyConfig
import Synchronization

/// `rate_limit_store` of one config, resolved, and how many workers are in an outage of it:
/// shared by every worker (each has its own connection, `WorkerContext.rateLimitClient(for:)`).
///
/// Thread-safety: `Sendable`; the count of workers whose last check failed is an `Atomic`, so
/// an outage is logged once when the first worker sees it and its end once when the last
/// worker is answered again (workers reconnect on their own, at different times).
final class SharedRateLimitStore: Sendable {
    let config: RateLimitStoreConfig
    /// The numeric address hiredis connects to (resolved off the workers); nil when the name
    /// did not resolve: every check then fails as `unavailable` and `on_failure` decides.
    let host: String?
    private let workersDown = Atomic<Int>(0)

    /// Resolves `config.redis` with getaddrinfo: it blocks, call it off the workers.
    init(resolving config: RateLimitStoreConfig) {
        self.config = config
        if case .success(let addresses) = Resolver.resolve(host: config.redis.host, port: config.redis.port) {
            host = addresses.first?.host
        } else {
            host = nil
        }
    }

    /// Records a failed check on a worker whose own state is `workerDown` (worker-confined);
    /// true when it begins the process's outage (the caller logs it).
    func markFailed(workerDown: inout Bool) -> Bool {
        guard !workerDown else { return false }
        workerDown = true
        return workersDown.add(1, ordering: .relaxed).oldValue == 0
    }

    /// Records an answered check; true when it ends the process's outage (the caller logs it).
    func markAnswered(workerDown: inout Bool) -> Bool {
        guard workerDown else { return false }
        workerDown = false
        return workersDown.subtract(1, ordering: .relaxed).newValue == 0
    }
}
