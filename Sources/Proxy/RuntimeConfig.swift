import EventLoop
import HTTP1
import ProxyConfig

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

    /// Resolves every server name with getaddrinfo. It blocks: call it off the workers.
    public static func resolving(_ snapshot: ConfigSnapshot, generation: Int = 0) -> RuntimeConfig {
        var addresses: [HostPort: [SocketAddress]] = [:]
        for upstream in snapshot.upstreams.values {
            for server in upstream.servers where addresses[server] == nil {
                switch Resolver.resolve(host: server.host, port: server.port) {
                case .success(let list): addresses[server] = list
                case .failure: addresses[server] = []
                }
            }
        }
        return RuntimeConfig(snapshot: snapshot, generation: generation, addresses: addresses)
    }

    init(snapshot: ConfigSnapshot, generation: Int, addresses: [HostPort: [SocketAddress]]) {
        self.snapshot = snapshot
        self.generation = generation
        self.addresses = addresses
        self.http1Limits = HTTP1Limits(headerBytes: snapshot.limits.headerBytes, uriBytes: snapshot.limits.uriBytes)
    }
}
