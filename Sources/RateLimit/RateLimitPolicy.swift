/// One `rate_limits.NAME` entry of config.json: a token bucket per key.
public struct RateLimitPolicy: Sendable, Equatable {
    public enum Key: Sendable, Equatable, Hashable {
        case global
        /// The peer address; when the peer is a trusted proxy, the right-most untrusted
        /// `X-Forwarded-For` address.
        case clientIP
        /// The value of a request header (absent: the empty value, one shared bucket).
        case header(String)
        /// The route's name.
        case route
    }

    public var name: String
    public var key: Key
    /// Tokens added per `per`.
    public var rate: Int
    public var per: Duration
    /// Capacity.
    public var burst: Int
    /// At most this many keys are kept; the longest idle are evicted.
    public var maxKeys: Int

    public init(name: String, key: Key, rate: Int, per: Duration, burst: Int, maxKeys: Int = 100_000) {
        self.name = name
        self.key = key
        self.rate = rate
        self.per = per
        self.burst = burst
        self.maxKeys = maxKeys
    }
}
