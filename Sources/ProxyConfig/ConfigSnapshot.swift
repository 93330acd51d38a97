import ErrorNormalizer
import ProxyModel
import RateLimit
import Router

/// A `host:port` as written in config.json (IPv6 in brackets there, stored without them).
/// Names are resolved off the workers, never by the snapshot.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// One `listeners[]` entry.
public struct ListenerConfig: Sendable, Equatable {
    public var address: HostPort
    public var tls: ListenerTLSConfig?

    public init(address: HostPort, tls: ListenerTLSConfig? = nil) {
        self.address = address
        self.tls = tls
    }
}

/// `listeners[].tls`. File paths are absolute (resolved against the config file's folder).
public struct ListenerTLSConfig: Sendable, Equatable {
    public struct Certificate: Sendable, Equatable {
        public var cert: String
        public var key: String
        public init(cert: String, key: String) {
            self.cert = cert
            self.key = key
        }
    }

    public enum MinVersion: String, Sendable, Equatable { case tls12 = "1.2", tls13 = "1.3" }

    /// First is the default (no SNI, or no match).
    public var certificates: [Certificate]
    public var minVersion: MinVersion
    public var alpn: [String]
    /// A CA bundle: when set, clients must present a certificate it signed (mTLS).
    public var clientCA: String?

    public init(certificates: [Certificate], minVersion: MinVersion = .tls12, alpn: [String] = ["h2", "http/1.1"],
                clientCA: String? = nil) {
        self.certificates = certificates
        self.minVersion = minVersion
        self.alpn = alpn
        self.clientCA = clientCA
    }
}

/// `upstreams.NAME.tls`.
public struct UpstreamTLSConfig: Sendable, Equatable {
    public var verify: Bool
    /// A CA bundle (absolute path); nil: the system store.
    public var ca: String?
    /// SNI and the name verified; nil: the server's host.
    public var serverName: String?

    public init(verify: Bool = true, ca: String? = nil, serverName: String? = nil) {
        self.verify = verify
        self.ca = ca
        self.serverName = serverName
    }
}

/// `upstreams.NAME.timeouts`.
public struct UpstreamTimeouts: Sendable, Equatable {
    public var connect: Duration
    public var responseHead: Duration
    /// How long a pooled connection may sit idle before it is closed.
    public var idle: Duration

    public init(connect: Duration = .seconds(2), responseHead: Duration = .seconds(30), idle: Duration = .seconds(60)) {
        self.connect = connect
        self.responseHead = responseHead
        self.idle = idle
    }
}

/// `upstreams.NAME.passive_health`: a server is marked down after `failures` consecutive
/// connect failures or timeouts, for `cooldown`.
public struct PassiveHealth: Sendable, Equatable {
    public var failures: Int
    public var cooldown: Duration

    public init(failures: Int = 3, cooldown: Duration = .seconds(10)) {
        self.failures = failures
        self.cooldown = cooldown
    }
}

/// One `upstreams.NAME` entry.
public struct UpstreamConfig: Sendable, Equatable {
    public var name: String
    public var servers: [HostPort]
    /// A name in `dialects`, or `auto`.
    public var dialect: String
    public var tls: UpstreamTLSConfig?
    /// Per worker: open connections (busy + idle) at most.
    public var maxConnections: Int
    /// Per worker: idle keep-alive connections kept at most.
    public var maxIdleConnections: Int
    public var timeouts: UpstreamTimeouts
    public var passiveHealth: PassiveHealth

    public init(name: String, servers: [HostPort], dialect: String = "auto", tls: UpstreamTLSConfig? = nil,
                maxConnections: Int = 256, maxIdleConnections: Int = 64, timeouts: UpstreamTimeouts = UpstreamTimeouts(),
                passiveHealth: PassiveHealth = PassiveHealth()) {
        self.name = name
        self.servers = servers
        self.dialect = dialect
        self.tls = tls
        self.maxConnections = maxConnections
        self.maxIdleConnections = maxIdleConnections
        self.timeouts = timeouts
        self.passiveHealth = passiveHealth
    }
}

/// `errors`.
public struct ErrorsConfig: Sendable, Equatable {
    public var render: ErrorRenderOptions
    /// Whether synthesized messages may name upstream addresses.
    public var exposeUpstreamAddresses: Bool

    public init(render: ErrorRenderOptions = ErrorRenderOptions(), exposeUpstreamAddresses: Bool = false) {
        self.render = render
        self.exposeUpstreamAddresses = exposeUpstreamAddresses
    }
}

/// `limits`.
public struct LimitsConfig: Sendable, Equatable {
    public var headerBytes: Int
    public var uriBytes: Int
    public var requestBodyBytes: Int
    public var errorBodyBytes: Int
    /// Open client connections per process.
    public var maxConnections: Int
    public var h2MaxConcurrentStreams: Int

    public init(headerBytes: Int = 64 * 1024, uriBytes: Int = 8 * 1024, requestBodyBytes: Int = 10 * 1024 * 1024,
                errorBodyBytes: Int = 64 * 1024, maxConnections: Int = 10_000, h2MaxConcurrentStreams: Int = 128) {
        self.headerBytes = headerBytes
        self.uriBytes = uriBytes
        self.requestBodyBytes = requestBodyBytes
        self.errorBodyBytes = errorBodyBytes
        self.maxConnections = maxConnections
        self.h2MaxConcurrentStreams = h2MaxConcurrentStreams
    }
}

/// `timeouts` (client side).
public struct ClientTimeouts: Sendable, Equatable {
    /// Deadline for a whole request head, from its first byte.
    public var clientHeader: Duration
    /// A keep-alive connection with no request in progress is closed after this.
    public var clientIdle: Duration
    /// How long a graceful stop waits for in-flight requests.
    public var drain: Duration

    public init(clientHeader: Duration = .seconds(10), clientIdle: Duration = .seconds(60), drain: Duration = .seconds(30)) {
        self.clientHeader = clientHeader
        self.clientIdle = clientIdle
        self.drain = drain
    }
}

/// `access_log`.
public struct AccessLogConfig: Sendable, Equatable {
    public enum Destination: Sendable, Equatable {
        case stdout, stderr, off
        /// An absolute path, reopened on SIGHUP.
        case file(String)
    }

    public var to: Destination
    /// Only `json` today.
    public var format: String

    public init(to: Destination = .stdout, format: String = "json") {
        self.to = to
        self.format = format
    }
}

/// `rate_limit_store`: buckets shared across instances through Redis.
public struct RateLimitStoreConfig: Sendable, Equatable {
    public enum OnFailure: String, Sendable, Equatable { case local, allow, deny }

    public var redis: HostPort
    public var onFailure: OnFailure
    /// How long a Redis answer may take before `onFailure` applies (default 50ms).
    public var timeout: Duration

    public init(redis: HostPort, onFailure: OnFailure = .local, timeout: Duration = .milliseconds(50)) {
        self.redis = redis
        self.onFailure = onFailure
        self.timeout = timeout
    }
}

/// The validated, immutable configuration a worker serves with. A reload builds a new one off
/// the workers; an exchange keeps the snapshot it started with.
public struct ConfigSnapshot: Sendable {
    public var listeners: [ListenerConfig]
    /// `admin.address`; nil: no admin listener.
    public var admin: HostPort?
    public var upstreams: [String: UpstreamConfig]
    public var routes: RouteTable
    public var rateLimits: [String: RateLimitPolicy]
    /// Compiled `dialects` (without `auto`, which is built in).
    public var dialects: [String: Dialect]
    public var errors: ErrorsConfig
    public var limits: LimitsConfig
    public var timeouts: ClientTimeouts
    public var accessLog: AccessLogConfig
    public var trustedProxies: [AddressRange]
    /// nil: one per core.
    public var workers: Int?
    public var rateLimitStore: RateLimitStoreConfig?

    public init(listeners: [ListenerConfig], admin: HostPort? = nil, upstreams: [String: UpstreamConfig],
                routes: RouteTable, rateLimits: [String: RateLimitPolicy] = [:], dialects: [String: Dialect] = [:],
                errors: ErrorsConfig = ErrorsConfig(), limits: LimitsConfig = LimitsConfig(),
                timeouts: ClientTimeouts = ClientTimeouts(), accessLog: AccessLogConfig = AccessLogConfig(),
                trustedProxies: [AddressRange] = [], workers: Int? = nil, rateLimitStore: RateLimitStoreConfig? = nil) {
        self.listeners = listeners
        self.admin = admin
        self.upstreams = upstreams
        self.routes = routes
        self.rateLimits = rateLimits
        self.dialects = dialects
        self.errors = errors
        self.limits = limits
        self.timeouts = timeouts
        self.accessLog = accessLog
        self.trustedProxies = trustedProxies
        self.workers = workers
        self.rateLimitStore = rateLimitStore
    }

    /// The dialect for a response: the route's, else the upstream's, else `auto`.
    public func dialect(route: Route, upstream: UpstreamConfig) -> Dialect {
        let name = route.dialect ?? upstream.dialect
        return dialects[name] ?? .auto
    }

    /// Whether `address` (numeric, no brackets) is in `trusted_proxies`.
    public func isTrustedProxy(_ address: String) -> Bool {
        guard !trustedProxies.isEmpty, let ip = IPAddress(address) else { return false }
        return trustedProxies.contains { $0.contains(ip) }
    }
}
