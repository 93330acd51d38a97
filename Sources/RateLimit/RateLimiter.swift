import ProxyModel

/// Every policy's table for one config snapshot. Build it once per snapshot (off the hot path)
/// and share it with every worker; it is `Sendable` and lock-free across keys of different
/// shards (see `RateLimitTable`).
public final class RateLimiter: Sendable {
    public let tables: [String: RateLimitTable]
    public let policies: [String: RateLimitPolicy]

    /// - Parameter previous: the limiter of the config being replaced (a reload). A policy whose
    ///   name and definition (key, rate, per, burst, max_keys) are equal to one of `previous`
    ///   shares that policy's table, so its buckets keep their levels and requests on either
    ///   config draw from the same buckets; changed and new policies start with empty tables
    ///   (every key full). Nil: every table is new.
    public init(policies: [String: RateLimitPolicy], shardCount: Int = 16, inheriting previous: RateLimiter? = nil) {
        self.policies = policies
        var tables: [String: RateLimitTable] = [:]
        for (name, policy) in policies {
            if let previous, previous.policies[name] == policy, let table = previous.tables[name] {
                tables[name] = table
            } else {
                tables[name] = RateLimitTable(policy, shardCount: shardCount)
            }
        }
        self.tables = tables
    }

    /// The check for a route listing `policyNames` (names not in the config are skipped;
    /// the config loader rejects them).
    public func check(for policyNames: [String]) -> RateLimitCheck {
        RateLimitCheck(entries: policyNames.compactMap { name in
            guard let p = policies[name], let t = tables[name] else { return nil }
            return RateLimitCheck.Entry(policy: p, table: t)
        })
    }
}

/// The rate limits of one route, compiled: policies in the route's order. `Sendable`; build it
/// once per route per snapshot.
public struct RateLimitCheck: Sendable {
    /// A class, so a check copies one reference per policy, not the policy's strings.
    final class Entry: Sendable {
        let policy: RateLimitPolicy
        let table: RateLimitTable
        let windowSeconds: Int
        /// This policy's `RateLimit-Policy` member and the start of its `RateLimit` member
        /// (`"NAME";r=`): the same for every request, rendered once.
        let policyMember: String
        let limitMemberPrefix: String
        init(policy: RateLimitPolicy, table: RateLimitTable) {
            self.policy = policy
            self.table = table
            windowSeconds = table.shape.windowSeconds
            policyMember = RateLimitHeaders.policyMember(name: policy.name, burst: max(1, policy.burst), window: windowSeconds)
            limitMemberPrefix = RateLimitHeaders.quoted(policy.name) + ";r="
        }
    }

    let entries: [Entry]
    /// `RateLimit-Policy` when every policy was consulted (every allowed request).
    let fullPolicyField: String

    init(entries: [Entry]) {
        self.entries = entries
        fullPolicyField = entries.map(\.policyMember).joined(separator: ", ")
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// The route's policies, in the order they are consulted.
    public var policies: [RateLimitPolicy] { entries.map(\.policy) }

    /// Takes one token from each policy's bucket, in order; the first empty bucket denies and
    /// the policies after it are not consulted. Tokens already taken by earlier policies stay
    /// taken (CONFIG.md): a denied request still cost the client those, and undoing them would
    /// need a second lock round per policy.
    ///
    /// Allocates nothing for a route with one policy (the outcome renders its fields lazily).
    ///
    /// - Parameters:
    ///   - now: monotonic nanoseconds (the same clock for every call on this limiter).
    public func check(peer: IPAddress?, headers: HTTPFields, route: String, trustedProxies: [AddressRange],
                      now: UInt64) -> RateLimitOutcome {
        var outcome = RateLimitOutcome(check: self)
        for e in entries {
            let key = RateLimitKey.derive(policy: e.policy.key, peer: peer, headers: headers, route: route,
                                          trustedProxies: trustedProxies)
            let decision = e.table.take(key, now: now)
            outcome.append(decision)
            if !decision.isAllowed { break }
        }
        return outcome
    }

    /// The outcome of decisions made elsewhere (a store shared across instances), one per
    /// policy consulted, in the route's order: the same rendering as a local `check`.
    /// Decisions past the route's policies, or after the first denial, are ignored.
    public func outcome(_ decisions: [TokenBucket.Decision]) -> RateLimitOutcome {
        var outcome = RateLimitOutcome(check: self)
        for d in decisions.prefix(entries.count) {
            outcome.append(d)
            if !d.isAllowed { break }
        }
        return outcome
    }
}

/// What a check decided, with everything the proxy renders computed from it on demand.
public struct RateLimitOutcome: Sendable, Equatable {
    public struct PolicyResult: Sendable, Equatable {
        public let name: String
        public let rate: Int
        public let per: Duration
        public let burst: Int
        /// Seconds to refill from empty, rounded up (`w`).
        public let windowSeconds: Int
        public let decision: TokenBucket.Decision

        public init(policy: RateLimitPolicy, windowSeconds: Int, decision: TokenBucket.Decision) {
            name = policy.name
            rate = policy.rate
            per = policy.per
            burst = max(1, policy.burst)
            self.windowSeconds = windowSeconds
            self.decision = decision
        }

        /// Whole tokens left (`r`): 0 when denied.
        public var remaining: Int { decision.remaining }

        /// Seconds until full, rounded up (`t`).
        public var secondsUntilFull: Int { decision.secondsUntilFull }
    }

    private let check: RateLimitCheck
    /// The decisions in policy order: the first inline, the others (routes with several
    /// policies) in an array, so a one-policy check allocates nothing.
    private var first: TokenBucket.Decision?
    private var others: [TokenBucket.Decision] = []

    init(check: RateLimitCheck) { self.check = check }

    mutating func append(_ decision: TokenBucket.Decision) {
        if first == nil { first = decision } else { others.append(decision) }
    }

    private var last: TokenBucket.Decision? { others.last ?? first }

    /// Policies consulted.
    public var count: Int { first == nil ? 0 : 1 + others.count }

    /// One result per policy consulted, in order; when denied, the last is the one that denied.
    public var results: [PolicyResult] {
        guard let first else { return [] }
        return zip(check.entries, [first] + others).map { e, d in
            PolicyResult(policy: e.policy, windowSeconds: e.windowSeconds, decision: d)
        }
    }

    /// The name of the policy that decided: the denying one, or the route's last; nil when none applied.
    public var decidingPolicy: String? { count == 0 ? nil : check.entries[count - 1].policy.name }

    public var isAllowed: Bool { last?.isAllowed ?? true }

    /// The policy that denied, or nil when allowed.
    public var denial: PolicyResult? { isAllowed ? nil : results.last }

    /// `Retry-After` in whole seconds (rounded up, at least 1) when denied; nil when allowed.
    public var retryAfterSeconds: Int? {
        guard case .denied(let wait, _)? = last else { return nil }
        return max(1, RateLimitHeaders.ceilSeconds(wait))
    }

    /// The 429 message (ERRORS.md), e.g. "Rate limit exceeded: 100 requests per 1s"; nil when allowed.
    public var message: String? {
        denial.map { RateLimitHeaders.message(rate: $0.rate, per: $0.per) }
    }

    /// The `RateLimit-Policy` field value; nil when no policy applied (send no field).
    public var policyField: String? {
        if count == 0 { return nil }
        if count == check.entries.count { return check.fullPolicyField }
        return check.entries.prefix(count).map(\.policyMember).joined(separator: ", ")
    }

    /// The `RateLimit` field value; nil when no policy applied (send no field).
    public var limitField: String? {
        guard let first else { return nil }
        var out = ""
        out.reserveCapacity(32 * count)
        func append(_ entry: RateLimitCheck.Entry, _ d: TokenBucket.Decision) {
            if !out.isEmpty { out += ", " }
            out += entry.limitMemberPrefix
            out += String(d.remaining)
            out += ";t="
            out += String(d.secondsUntilFull)
        }
        append(check.entries[0], first)
        for (i, d) in others.enumerated() { append(check.entries[i + 1], d) }
        return out
    }

    public static func == (a: RateLimitOutcome, b: RateLimitOutcome) -> Bool { a.results == b.results }
}

/// Pure renderings of the draft-ietf-httpapi-ratelimit-headers-10 fields as CONFIG.md spells
/// them, and of the 429 message. The proxy copies these strings; it appends them after any
/// RateLimit fields the upstream sent.
public enum RateLimitHeaders {
    /// `"NAME";q=BURST;w=W`: one policy's member of `RateLimit-Policy` (members are joined by ", ").
    public static func policyMember(name: String, burst: Int, window: Int) -> String {
        "\(quoted(name));q=\(burst);w=\(window)"
    }

    /// `RateLimit` members are `"NAME";r=TOKENS_LEFT;t=SECONDS_UNTIL_FULL`, joined by ", "
    /// (rendered by `RateLimitOutcome.limitField`).

    /// "Rate limit exceeded: 100 requests per 1s" ("1 request per 1m" for one).
    public static func message(rate: Int, per: Duration) -> String {
        "Rate limit exceeded: \(rate) \(rate == 1 ? "request" : "requests") per \(durationText(per))"
    }

    /// A duration as config.json writes one: `1h`, `5m`, `30s`, `250ms` (largest exact unit).
    public static func durationText(_ d: Duration) -> String {
        let ms = Int(clamping: d.components.seconds) &* 1000 &+ Int(d.components.attoseconds / 1_000_000_000_000_000)
        if ms > 0 && ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms > 0 && ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }

    /// Whole seconds, rounded up (0 stays 0).
    public static func ceilSeconds(_ d: Duration) -> Int {
        let (s, atto) = d.components
        return Int(clamping: s) + (atto > 0 ? 1 : 0)
    }

    /// An RFC 9651 sf-string: `"` and `\` escaped; bytes outside 0x20–0x7E (not allowed in an
    /// sf-string) become `?`.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case " "..."~": out.unicodeScalars.append(u)
            default: out += "?"
            }
        }
        return out + "\""
    }
}
