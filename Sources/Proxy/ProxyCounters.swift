/// Counters one worker keeps for the metrics the operations issue exposes: plain integers on
/// the worker's queue, so counting adds no lock and no atomic to the hot path.
/// `ProxyServer.counters()` sums the workers' copies on demand.
///
/// Confined to the worker's queue (only `WorkerContext` and the exchanges it runs touch it).
public struct ProxyCounters: Sendable, Equatable {
    public struct RateLimit: Sendable, Equatable {
        public var allowed = 0
        public var limited = 0
        public init(allowed: Int = 0, limited: Int = 0) {
            self.allowed = allowed
            self.limited = limited
        }
    }
    public struct Errors: Sendable, Equatable {
        /// Upstream error responses rewritten from what a dialect rule read.
        public var rewritten = 0
        /// Error responses passed through untouched (gRPC, HEAD/204/304, streamed bodies…).
        public var passedThrough = 0
        /// Error responses rewritten, but whose body no rule could read: fell back to the status.
        public var unreadable = 0
        public init(rewritten: Int = 0, passedThrough: Int = 0, unreadable: Int = 0) {
            self.rewritten = rewritten
            self.passedThrough = passedThrough
            self.unreadable = unreadable
        }
    }

    /// Per `rate_limits` policy name (the policy that decided: the denying one, or the last).
    public var rateLimits: [String: RateLimit] = [:]
    /// Per upstream name.
    public var errors: [String: Errors] = [:]

    public init() {}

    mutating func recordRateLimit(policy: String?, allowed: Bool) {
        guard let policy else { return }
        if allowed { rateLimits[policy, default: RateLimit()].allowed += 1 } else { rateLimits[policy, default: RateLimit()].limited += 1 }
    }

    /// Adds `other` into `self` (summing workers).
    mutating func add(_ other: ProxyCounters) {
        for (k, v) in other.rateLimits {
            rateLimits[k, default: RateLimit()].allowed += v.allowed
            rateLimits[k, default: RateLimit()].limited += v.limited
        }
        for (k, v) in other.errors {
            errors[k, default: Errors()].rewritten += v.rewritten
            errors[k, default: Errors()].passedThrough += v.passedThrough
            errors[k, default: Errors()].unreadable += v.unreadable
        }
    }
}
