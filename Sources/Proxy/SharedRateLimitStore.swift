import EventLoop
import ProxyConfig
import Synchronization

/// `rate_limit_store` of one config, resolved, and whether the store is in an outage: shared
/// by every worker (each has its own connection, `WorkerContext.rateLimitClient(for:)`).
///
/// Thread-safety: `Sendable`; the outage flag is an `Atomic`, so of all the workers that see
/// the same outage begin (or end) exactly one logs it.
final class SharedRateLimitStore: Sendable {
    let config: RateLimitStoreConfig
    /// The numeric address hiredis connects to (resolved off the workers); nil when the name
    /// did not resolve: every check then fails as `unavailable` and `on_failure` decides.
    let host: String?
    private let down = Atomic<Bool>(false)

    /// Resolves `config.redis` with getaddrinfo: it blocks, call it off the workers.
    init(resolving config: RateLimitStoreConfig) {
        self.config = config
        if case .success(let addresses) = Resolver.resolve(host: config.redis.host, port: config.redis.port) {
            host = addresses.first?.host
        } else {
            host = nil
        }
    }

    /// Records a failed check; true when it begins an outage (the caller logs it, once).
    func markFailed() -> Bool {
        !down.exchange(true, ordering: .relaxed)
    }

    /// Records an answered check; true when it ends an outage (the caller logs the recovery).
    func markAnswered() -> Bool {
        down.load(ordering: .relaxed) && down.exchange(false, ordering: .relaxed)
    }
}
