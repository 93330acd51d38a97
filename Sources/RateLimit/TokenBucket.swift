/// The fixed shape of a token bucket: `burst` tokens at most, refilled at `rate` per `per`.
///
/// Arithmetic is exact integer fixed point: one token is `unitsPerToken` units and each
/// nanosecond adds `unitsPerNanosecond` units (`rate / per` reduced by their gcd), so a rate of
/// 1 per minute or 7 per 3 s accrues with no rounding and no drift. Units are `UInt128`, so
/// no product of config values (`burst` × `per` in ns, elapsed ns × `rate`) can overflow.
public struct BucketShape: Sendable, Equatable {
    public let burst: Int
    /// Units one token is worth (`per` in ns / gcd).
    public let unitsPerToken: UInt128
    /// Units added per nanosecond (`rate` / gcd).
    public let unitsPerNanosecond: UInt128
    /// `burst` × `unitsPerToken`.
    public let capacity: UInt128

    /// `rate` ≥ 1, `per` > 0 (at least 1 ns), `burst` ≥ 1; smaller values are raised to those.
    public init(rate: Int, per: Duration, burst: Int) {
        let (seconds, attoseconds) = per.components
        let perNs = max(1, UInt64(clamping: seconds) &* 1_000_000_000 &+ UInt64(clamping: attoseconds / 1_000_000_000))
        let r = UInt64(max(1, rate))
        let g = BucketShape.gcd(perNs, r)
        self.burst = max(1, burst)
        unitsPerToken = UInt128(perNs / g)
        unitsPerNanosecond = UInt128(r / g)
        capacity = UInt128(self.burst) * unitsPerToken
    }

    public init(_ policy: RateLimitPolicy) {
        self.init(rate: policy.rate, per: policy.per, burst: policy.burst)
    }

    static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    /// `a / b`, in 64 bits when both fit (the usual case: a 128-bit division is a libcall,
    /// several times slower).
    @inline(__always)
    static func divide(_ a: UInt128, _ b: UInt128) -> UInt128 {
        if a >> 64 == 0 && b >> 64 == 0 { return UInt128(UInt64(truncatingIfNeeded: a) / UInt64(truncatingIfNeeded: b)) }
        return a / b
    }

    /// Nanoseconds until `units` more units have accrued, rounded up.
    @inline(__always)
    func nanoseconds(toAccrue units: UInt128) -> UInt64 {
        let ns = BucketShape.divide(units + unitsPerNanosecond - 1, unitsPerNanosecond)
        return UInt64(clamping: ns)
    }

    /// Seconds a bucket takes to refill from empty, rounded up (the `w` of `RateLimit-Policy`).
    public var windowSeconds: Int {
        Int(clamping: (UInt128(nanoseconds(toAccrue: capacity)) + 999_999_999) / 1_000_000_000)
    }

    /// Brings `state` forward to `now` (lazy refill), then takes one token if there is one.
    /// A `now` earlier than the state's last update counts as no time passed.
    @inline(__always)
    public func take(_ state: inout BucketState, now: UInt64) -> TokenBucket.Decision {
        refill(&state, now: now)
        if state.level >= unitsPerToken {
            state.level -= unitsPerToken
            return .allowed(remaining: Int(truncatingIfNeeded: BucketShape.divide(state.level, unitsPerToken)),
                            untilFull: .nanoseconds(nanoseconds(toAccrue: capacity - state.level)))
        }
        return .denied(retryAfter: .nanoseconds(nanoseconds(toAccrue: unitsPerToken - state.level)),
                       untilFull: .nanoseconds(nanoseconds(toAccrue: capacity - state.level)))
    }

    @inline(__always)
    func refill(_ state: inout BucketState, now: UInt64) {
        guard now > state.last else { return }
        let missing = capacity - state.level
        if missing != 0 {
            let elapsed = UInt128(now - state.last)
            let added = elapsed * unitsPerNanosecond
            state.level = added >= missing ? capacity : state.level + added
        }
        state.last = now
    }

    /// Whether the bucket would be full at `now` (a full bucket is the same as no bucket).
    public func isFull(_ state: BucketState, now: UInt64) -> Bool {
        var s = state
        refill(&s, now: now)
        return s.level == capacity
    }

    /// A full bucket as of `now`.
    public func fullState(now: UInt64) -> BucketState {
        BucketState(level: capacity, last: now)
    }
}

/// The mutable part of a bucket: its level in units and when it was last brought forward.
public struct BucketState: Sendable, Equatable {
    public var level: UInt128
    /// Monotonic nanoseconds of the last refill.
    public var last: UInt64

    public init(level: UInt128, last: UInt64) {
        self.level = level
        self.last = last
    }
}

/// One token bucket (a value: copy it and the copy is independent). Time is injected: pass
/// monotonic nanoseconds (e.g. `DispatchTime.now().uptimeNanoseconds`) to every call; the
/// bucket never reads a clock. Starts full. Not synchronized: guard it yourself if shared
/// (`RateLimitTable` does).
public struct TokenBucket: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        /// A token was taken; `remaining` whole tokens are left, and the bucket is full again
        /// after `untilFull` with no further takes.
        case allowed(remaining: Int, untilFull: Duration)
        /// No token: one is back after `retryAfter` (never zero); nothing was taken.
        case denied(retryAfter: Duration, untilFull: Duration)

        public var isAllowed: Bool {
            if case .allowed = self { return true }
            return false
        }

        /// Whole tokens left (the `r` of a `RateLimit` member): 0 when denied.
        public var remaining: Int {
            if case .allowed(let r, _) = self { return r }
            return 0
        }

        /// Seconds until full, rounded up (the `t` of a `RateLimit` member).
        public var secondsUntilFull: Int {
            switch self {
            case .allowed(_, let d), .denied(_, let d): return RateLimitHeaders.ceilSeconds(d)
            }
        }
    }

    public let shape: BucketShape
    public private(set) var state: BucketState

    public init(shape: BucketShape, now: UInt64) {
        self.shape = shape
        state = shape.fullState(now: now)
    }

    public init(rate: Int, per: Duration, burst: Int, now: UInt64) {
        self.init(shape: BucketShape(rate: rate, per: per, burst: burst), now: now)
    }

    /// Refills lazily up to `now`, then takes one token if there is one.
    public mutating func take(now: UInt64) -> Decision {
        shape.take(&state, now: now)
    }

    /// Whole tokens available at `now` (without taking one).
    public func tokens(now: UInt64) -> Int {
        var s = state
        shape.refill(&s, now: now)
        return Int(truncatingIfNeeded: s.level / shape.unitsPerToken)
    }
}
