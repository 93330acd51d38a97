import ProxyModel

/// The bucket key of one request under one policy: a 64-bit keyed hash, never the text itself.
///
/// The hash is Swift's `Hasher` (SipHash-1-3 with a per-process random seed), so an
/// `Authorization` value is not kept in memory past derivation, and a client cannot craft a
/// value that collides with someone else's key without knowing the seed. Two distinct values
/// share a bucket only by accident: with 100,000 keys the chance of any collision is about
/// 100,000² / 2⁶⁵ ≈ 3 × 10⁻¹⁰. Keys are only meaningful within one process.
public struct RateLimitKey: Sendable, Hashable {
    public let hash: UInt64

    public init(hash: UInt64) { self.hash = hash }

    private init(kind: UInt8, _ feed: (inout Hasher) -> Void) {
        var h = Hasher()
        h.combine(kind)
        feed(&h)
        hash = UInt64(UInt(bitPattern: h.finalize()))
    }

    /// The one key of a `global` policy.
    public static let global = RateLimitKey(kind: 0) { _ in }

    public static func route(_ name: String) -> RateLimitKey { RateLimitKey(kind: 1) { $0.combine(name) } }

    /// The key of a header policy: the field's values, joined by ", " as HTTP combines them;
    /// a request without the field has the empty value (one shared bucket, as CONFIG.md says).
    public static func header(_ values: [String]) -> RateLimitKey {
        if values.isEmpty { return header([""]) }
        return RateLimitKey(kind: 2) { h in
            for (i, v) in values.enumerated() {
                if i > 0 { h.combine(0 as UInt8) }
                h.combine(v)
            }
        }
    }

    public static func address(_ ip: IPAddress) -> RateLimitKey {
        RateLimitKey(kind: 3) { h in h.combine(ip.bytes) }
    }

    /// An address we could not parse, keyed by its text (trimmed).
    static func addressText(_ text: Substring) -> RateLimitKey {
        RateLimitKey(kind: 4) { h in h.combine(String(text)) }
    }

    /// The key of `policy` for one request.
    ///
    /// - `client_ip`: the peer address; when the peer is in `trustedProxies`, the right-most
    ///   `X-Forwarded-For` entry that is not (all fields, in order, as one list). When every entry
    ///   is trusted, the left-most one. An entry that is not a bare IP address (a port, a name,
    ///   garbage) stops the walk and is keyed by its text. A nil peer (no IP transport) keys as
    ///   the empty text. `X-Forwarded-For` from an untrusted peer is ignored.
    /// - `header:NAME`: see `header(_:)`.
    /// - `route`: the route's name. `global`: one key.
    public static func derive(policy: RateLimitPolicy.Key, peer: IPAddress?, headers: HTTPFields, route: String,
                              trustedProxies: [AddressRange]) -> RateLimitKey {
        switch policy {
        case .global: return .global
        case .route: return .route(route)
        case .header(let name):
            // Same hash as `header(_:)`, without building the array of values.
            return RateLimitKey(kind: 2) { h in
                var n = 0
                // By index: no copy (and retain) of every field, only of the ones that match.
                let entries = headers.entries
                for i in entries.indices where HTTPFields.equalsIgnoringCase(entries[i].name, name) {
                    if n > 0 { h.combine(0 as UInt8) }
                    h.combine(entries[i].value)
                    n += 1
                }
                if n == 0 { h.combine("") }
            }
        case .clientIP: return clientIP(peer: peer, headers: headers, trustedProxies: trustedProxies)
        }
    }

    static func clientIP(peer: IPAddress?, headers: HTTPFields, trustedProxies: [AddressRange]) -> RateLimitKey {
        switch ClientIdentity(peer: peer, headers: headers, trustedProxies: trustedProxies) {
        case .address(let ip): return .address(ip)
        case .text(let text): return addressText(text)
        }
    }

    /// The key of `policy` as text that is the same in every process (no seed), for a store
    /// shared across instances: `g` (global), `r:ROUTE`, `h:` + the field's values joined by a
    /// NUL (`h:` alone when absent), `a:` + the client address, `t:` + an unparsable
    /// forwarded entry. It holds the raw header value: hash it before it leaves the process.
    public static func sharedText(policy: RateLimitPolicy.Key, peer: IPAddress?, headers: HTTPFields, route: String,
                                  trustedProxies: [AddressRange]) -> String {
        switch policy {
        case .global: return "g"
        case .route: return "r:" + route
        case .header(let name):
            var text = "h:"
            var n = 0
            for f in headers.entries where HTTPFields.equalsIgnoringCase(f.name, name) {
                if n > 0 { text += "\0" }
                text += f.value
                n += 1
            }
            return text
        case .clientIP:
            switch ClientIdentity(peer: peer, headers: headers, trustedProxies: trustedProxies) {
            case .address(let ip): return "a:\(ip)"
            case .text(let text): return "t:" + text
            }
        }
    }
}

/// Who a `client_ip` policy keys on: the peer, or when the peer is a trusted proxy, the
/// right-most `X-Forwarded-For` entry that is not (see `RateLimitKey.derive`).
enum ClientIdentity {
    case address(IPAddress)
    /// An entry that is not a bare IP address, or no peer at all (the empty text).
    case text(Substring)

    init(peer: IPAddress?, headers: HTTPFields, trustedProxies: [AddressRange]) {
        guard let peer else { self = .text(""); return }
        func trusted(_ ip: IPAddress) -> Bool { trustedProxies.contains { $0.contains(ip) } }
        guard trusted(peer) else { self = .address(peer); return }
        var entries: [Substring] = []
        for value in headers.all("X-Forwarded-For") {
            for member in value.split(separator: ",", omittingEmptySubsequences: false) {
                let t = member.trimmingSpaces()
                if !t.isEmpty { entries.append(t) }
            }
        }
        var client = peer
        for entry in entries.reversed() {
            guard let ip = IPAddress(String(entry)) else { self = .text(entry); return }
            client = ip
            if !trusted(ip) { break }
        }
        self = .address(client)
    }
}
