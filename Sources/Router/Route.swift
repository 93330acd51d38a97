import ProxyModel

/// One `routes[]` entry, compiled.
public struct Route: Sendable, Equatable {
    /// `name`, default `route<index>`; used by metrics, logs and the `route` rate-limit key.
    public var name: String
    /// nil: any host.
    public var host: HostPattern?
    /// A plain byte prefix of the normalized path (`/` when absent).
    public var pathPrefix: String
    /// Upper-case method names; nil: any method.
    public var methods: Set<String>?
    /// A key of `upstreams`.
    public var upstream: String
    /// Remove `pathPrefix` before forwarding, keeping a leading `/`.
    public var stripPrefix: Bool
    /// Policy names in `rate_limits`, checked in order.
    public var rateLimits: [String]
    /// Overrides the upstream's dialect.
    public var dialect: String?

    public init(name: String, host: HostPattern? = nil, pathPrefix: String = "/", methods: Set<String>? = nil,
                upstream: String, stripPrefix: Bool = false, rateLimits: [String] = [], dialect: String? = nil) {
        self.name = name
        self.host = host
        self.pathPrefix = pathPrefix
        self.methods = methods
        self.upstream = upstream
        self.stripPrefix = stripPrefix
        self.rateLimits = rateLimits
        self.dialect = dialect
    }

    /// Whether this route takes a request for `host` (lower-cased, port removed), the normalized
    /// `path` and `method`.
    public func matches(host: String?, path: String, method: String) -> Bool {
        if let pattern = self.host {
            guard let host, pattern.matches(host) else { return false }
        }
        if let methods, !methods.contains(method) { return false }
        return path.utf8.starts(with: pathPrefix.utf8)
    }

    /// The path to send upstream for the normalized `path` this route matched.
    public func forwardedPath(_ path: String) -> String {
        guard stripPrefix, pathPrefix != "/" else { return path }
        let rest = path.utf8.dropFirst(pathPrefix.utf8.count)
        let s = String(decoding: rest, as: UTF8.self)
        return s.hasPrefix("/") ? s : "/" + s
    }
}

/// `routes[].host`: an exact name, or `*.example.com` (one or more labels before
/// `example.com`, not the bare domain). Compared case-insensitively; a trailing dot (a fully
/// qualified name) is dropped, as `RequestTarget.hostWithoutPort` drops it from a Host.
public enum HostPattern: Sendable, Equatable {
    case exact(String)
    /// The suffix including its leading dot: `.example.com`.
    case wildcard(suffix: String)

    /// Parses `routes[].host`: a DNS name or IPv4 address, an IPv6 address in brackets, or `*.`
    /// and a DNS name. nil for anything else (a port, a path, a `*` elsewhere, an empty label).
    public init?(_ text: String) {
        var lower = text.lowercased()
        if lower.count > 1 && lower.hasSuffix(".") { lower.removeLast() }
        if lower.hasPrefix("*.") {
            let suffix = lower.dropFirst(2)
            guard HostPattern.isDNSName(suffix) else { return nil }
            self = .wildcard(suffix: "." + suffix)
        } else if lower.hasPrefix("[") {
            guard lower.hasSuffix("]"), let ip = IPAddress(String(lower.dropFirst().dropLast())), !ip.isV4 else {
                return nil
            }
            self = .exact(lower)
        } else {
            guard HostPattern.isDNSName(Substring(lower)) else { return nil }
            self = .exact(lower)
        }
    }

    /// Lower-case labels of letters, digits, `-` and `_`, 1–63 bytes each, 253 bytes at most.
    private static func isDNSName(_ name: Substring) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.utf8.allSatisfy { b in
                (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
            }
        }
    }

    /// `host` is lower-cased with any port removed.
    public func matches(_ host: String) -> Bool {
        switch self {
        case .exact(let name): return host == name
        case .wildcard(let suffix): return host.count > suffix.count && host.hasSuffix(suffix)
        }
    }
}

/// The routes in file order; the first that matches wins.
public struct RouteTable: Sendable, Equatable {
    public var routes: [Route]

    public init(_ routes: [Route]) {
        self.routes = routes
    }

    /// The first route matching; `host` is the request's Host (any case, a port allowed).
    public func match(host: String?, path: String, method: String) -> Route? {
        let h = host.map(RequestTarget.hostWithoutPort)
        for route in routes where route.matches(host: h, path: path, method: method) { return route }
        return nil
    }
}
