import EventLoop
import HTTP1
import ProxyConfig
import RateLimit

/// A validated snapshot plus what must be computed from it off the workers: the resolved
/// addresses of every upstream server. Immutable; shared by all workers. A request keeps the
/// `RuntimeConfig` it started with until it ends, so a reload never changes a request mid-flight.
public final class RuntimeConfig: Sendable {
    public let snapshot: ConfigSnapshot
    /// Increases with each reload; pools compare it to know when to rebuild.
    public let generation: Int
    /// Addresses per configured server; an empty list means the name did not resolve.
    let addresses: [HostPort: [SocketAddress]]
    let http1Limits: HTTP1Limits
    /// The token buckets of this snapshot, shared by every worker (sharded, no global lock).
    /// Policies unchanged from the config it replaced keep that config's buckets.
    public let rateLimiter: RateLimiter
    /// Whether any configured dialect has `error_when`: only then are success heads looked at
    /// by the normalizer at all.
    let dialectsInspectSuccess: Bool
    /// Each route's policies, resolved once; routes without limits are absent.
    let rateLimitChecks: [String: RateLimitCheck]
    /// The snapshot's TLS contexts, or (`.failure`) why they could not be built: the server
    /// refuses to start on, or reload to, such a config.
    let tls: Result<TLSContextSet, ConfigErrors>
    /// `rate_limit_store`: buckets in Redis shared across instances (nil: local buckets only).
    /// Kept across a reload that leaves its config unchanged (connections and outage state stay).
    let rateLimitStore: SharedRateLimitStore?

    /// Resolves every server name with getaddrinfo. It blocks: call it off the workers.
    ///
    /// - Parameter previous: the running config this one is to replace (a reload): rate-limit
    ///   policies whose definition did not change keep its buckets (`RateLimiter(inheriting:)`).
    public static func resolving(_ snapshot: ConfigSnapshot, generation: Int = 0,
                                 replacing previous: RuntimeConfig? = nil) -> RuntimeConfig {
        var addresses: [HostPort: [SocketAddress]] = [:]
        for upstream in snapshot.upstreams.values {
            for server in upstream.servers where addresses[server] == nil {
                switch Resolver.resolve(host: server.host, port: server.port) {
                case .success(let list): addresses[server] = list
                case .failure: addresses[server] = []
                }
            }
        }
        var store: SharedRateLimitStore?
        if let storeConfig = snapshot.rateLimitStore {
            if let kept = previous?.rateLimitStore, kept.config == storeConfig {
                store = kept
            } else {
                store = SharedRateLimitStore(resolving: storeConfig)
            }
        }
        return RuntimeConfig(snapshot: snapshot, generation: generation, addresses: addresses,
                             previousLimiter: previous?.rateLimiter, rateLimitStore: store)
    }

    init(snapshot: ConfigSnapshot, generation: Int, addresses: [HostPort: [SocketAddress]],
         previousLimiter: RateLimiter? = nil, rateLimitStore: SharedRateLimitStore? = nil) {
        self.snapshot = snapshot
        self.generation = generation
        self.addresses = addresses
        self.http1Limits = HTTP1Limits(headerBytes: snapshot.limits.headerBytes, uriBytes: snapshot.limits.uriBytes)
        let limiter = RateLimiter(policies: snapshot.rateLimits, inheriting: previousLimiter)
        var checks: [String: RateLimitCheck] = [:]
        for route in snapshot.routes.routes where !route.rateLimits.isEmpty {
            let check = limiter.check(for: route.rateLimits)
            if !check.isEmpty { checks[route.name] = check }
        }
        self.dialectsInspectSuccess = snapshot.dialects.values.contains { $0.hasErrorWhen }
        self.rateLimiter = limiter
        self.rateLimitChecks = checks
        self.tls = TLSContextSet.build(snapshot)
        self.rateLimitStore = rateLimitStore
    }
}
