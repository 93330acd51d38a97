import ProxyModel
import XCTest
@testable import RateLimit

final class RateLimiterTests: XCTestCase {
    let policies = [
        "per_api_key": RateLimitPolicy(name: "per_api_key", key: .header("Authorization"), rate: 100, per: .seconds(1), burst: 200),
        "global": RateLimitPolicy(name: "global", key: .global, rate: 2, per: .seconds(1), burst: 2),
        "slow": RateLimitPolicy(name: "slow", key: .clientIP, rate: 1, per: .seconds(60), burst: 1),
    ]

    func headers(_ auth: String) -> HTTPFields {
        var h = HTTPFields(); h.append("Authorization", auth); return h
    }

    func testAReloadedLimiterKeepsTheTablesOfUnchangedPoliciesOnly() {
        let before = RateLimiter(policies: policies)
        let peer = IPAddress("203.0.113.1")!
        for check in [before.check(for: ["global"]), before.check(for: ["slow"])] {
            while check.check(peer: peer, headers: [:], route: "r", trustedProxies: [], now: 0).isAllowed {}
        }
        var next = policies
        next["slow"]!.burst = 2
        next["per_api_key"]!.maxKeys = 10
        next["added"] = RateLimitPolicy(name: "added", key: .global, rate: 1, per: .seconds(60), burst: 1)
        let after = RateLimiter(policies: next, inheriting: before)

        XCTAssertTrue(after.tables["global"] === before.tables["global"], "an unchanged policy keeps its table")
        XCTAssertFalse(after.tables["slow"] === before.tables["slow"], "a changed burst gets a new table")
        XCTAssertFalse(after.tables["per_api_key"] === before.tables["per_api_key"], "a changed max_keys gets a new table")
        XCTAssertEqual(after.tables["per_api_key"]?.maxKeys, 10)
        XCTAssertEqual(after.tables["slow"]?.shape.burst, 2)
        XCTAssertFalse(after.check(for: ["global"]).check(peer: peer, headers: [:], route: "r", trustedProxies: [], now: 0).isAllowed,
                       "the exhausted bucket is still empty after the reload")
        XCTAssertTrue(after.check(for: ["slow"]).check(peer: peer, headers: [:], route: "r", trustedProxies: [], now: 0).isAllowed,
                      "the changed policy starts full")
        XCTAssertTrue(after.check(for: ["added"]).check(peer: peer, headers: [:], route: "r", trustedProxies: [], now: 0).isAllowed)
        // The old limiter (requests still in flight on the old config) shares the kept bucket.
        XCTAssertFalse(before.check(for: ["global"]).check(peer: peer, headers: [:], route: "r", trustedProxies: [], now: 0).isAllowed)
    }

    func testAPolicyWithAnotherKeyOrRateOrAnotherNameIsNotInherited() {
        let before = RateLimiter(policies: policies)
        var next: [String: RateLimitPolicy] = [:]
        var rekeyed = policies["global"]!
        rekeyed.key = .route
        next["global"] = rekeyed
        var slower = policies["slow"]!
        slower.per = .seconds(30)
        next["slow"] = slower
        var renamed = policies["per_api_key"]!
        renamed.name = "per_key"
        next["per_key"] = renamed
        let after = RateLimiter(policies: next, inheriting: before)
        for name in ["global", "slow"] {
            XCTAssertFalse(after.tables[name] === before.tables[name], name)
        }
        XCTAssertFalse(after.tables["per_key"] === before.tables["per_api_key"])
        XCTAssertEqual(Set(after.tables.keys), ["global", "slow", "per_key"], "removed policies are not carried over")
    }

    func testAllowedRendersBothFields() {
        let check = RateLimiter(policies: policies).check(for: ["per_api_key", "global"])
        let o = check.check(peer: nil, headers: headers("k"), route: "r", trustedProxies: [], now: 0)
        XCTAssertTrue(o.isAllowed)
        XCTAssertNil(o.retryAfterSeconds)
        XCTAssertNil(o.message)
        XCTAssertEqual(o.policyField, #""per_api_key";q=200;w=2, "global";q=2;w=1"#)
        XCTAssertEqual(o.limitField, #""per_api_key";r=199;t=1, "global";r=1;t=1"#)
    }

    func testDeniedByLaterPolicyKeepsEarlierTokens() {
        let check = RateLimiter(policies: policies).check(for: ["per_api_key", "global"])
        _ = check.check(peer: nil, headers: headers("a"), route: "r", trustedProxies: [], now: 0)
        _ = check.check(peer: nil, headers: headers("a"), route: "r", trustedProxies: [], now: 0)
        let o = check.check(peer: nil, headers: headers("a"), route: "r", trustedProxies: [], now: 0)
        XCTAssertFalse(o.isAllowed)
        XCTAssertEqual(o.denial?.name, "global")
        XCTAssertEqual(o.retryAfterSeconds, 1)
        XCTAssertEqual(o.message, "Rate limit exceeded: 2 requests per 1s")
        // The earlier policy's token stays taken: 200 - 3 (30 ms from full: t rounds up to 1).
        XCTAssertEqual(o.limitField, #""per_api_key";r=197;t=1, "global";r=0;t=1"#)
        XCTAssertEqual(o.policyField, #""per_api_key";q=200;w=2, "global";q=2;w=1"#)
    }

    func testFirstDenialStopsLaterPolicies() {
        let limiter = RateLimiter(policies: policies)
        let check = limiter.check(for: ["slow", "global"])
        let peer = IPAddress("203.0.113.1")!
        XCTAssertTrue(check.check(peer: peer, headers: [:], route: "r", trustedProxies: [], now: 0).isAllowed)
        let o = check.check(peer: peer, headers: [:], route: "r", trustedProxies: [], now: 0)
        XCTAssertEqual(o.denial?.name, "slow")
        XCTAssertEqual(o.results.count, 1)
        XCTAssertEqual(o.retryAfterSeconds, 60)
        XCTAssertEqual(o.message, "Rate limit exceeded: 1 request per 1m")
        XCTAssertEqual(o.limitField, #""slow";r=0;t=60"#)
        // "global" was not consulted for the denied request: one token left of two.
        XCTAssertEqual(limiter.tables["global"]!.take(.global, now: 0), .allowed(remaining: 0, untilFull: .seconds(1)))
    }

    func testDecisionsMadeElsewhereRenderLikeALocalCheck() {
        let check = RateLimiter(policies: policies).check(for: ["per_api_key", "global"])
        let local = check.check(peer: nil, headers: headers("k"), route: "r", trustedProxies: [], now: 0)
        let shared = check.outcome([.allowed(remaining: 199, untilFull: .milliseconds(10)),
                                    .allowed(remaining: 1, untilFull: .milliseconds(500))])
        XCTAssertEqual(shared, local)
        XCTAssertEqual(shared.decidingPolicy, "global")
        let denied = check.outcome([.denied(retryAfter: .milliseconds(1500), untilFull: .seconds(2)), .allowed(remaining: 5, untilFull: .zero)])
        XCTAssertEqual(denied.count, 1, "a denial ends the list")
        XCTAssertEqual(denied.decidingPolicy, "per_api_key")
        XCTAssertEqual(denied.retryAfterSeconds, 2)
        XCTAssertEqual(denied.limitField, #""per_api_key";r=0;t=2"#)
        XCTAssertNil(check.outcome([]).decidingPolicy)
        XCTAssertNil(check.outcome([]).policyField)
    }

    func testRetryAfterRoundsUpWithMinimumOne() {
        let limiter = RateLimiter(policies: ["p": RateLimitPolicy(name: "p", key: .global, rate: 1, per: .milliseconds(1500), burst: 1),
                                             "fast": RateLimitPolicy(name: "fast", key: .global, rate: 1000, per: .seconds(1), burst: 1)])
        let check = limiter.check(for: ["p"])
        _ = check.check(peer: nil, headers: [:], route: "r", trustedProxies: [], now: 0)
        XCTAssertEqual(check.check(peer: nil, headers: [:], route: "r", trustedProxies: [], now: 0).retryAfterSeconds, 2)
        XCTAssertEqual(check.check(peer: nil, headers: [:], route: "r", trustedProxies: [], now: 499_999_999).retryAfterSeconds, 2)
        XCTAssertEqual(check.check(peer: nil, headers: [:], route: "r", trustedProxies: [], now: 500_000_000).retryAfterSeconds, 1)
        let fast = limiter.check(for: ["fast"])
        _ = fast.check(peer: nil, headers: [:], route: "r", trustedProxies: [], now: 0)
        let o = fast.check(peer: nil, headers: [:], route: "r", trustedProxies: [], now: 0)
        XCTAssertEqual(o.retryAfterSeconds, 1) // 1 ms away, still at least 1 s
        XCTAssertEqual(o.message, "Rate limit exceeded: 1000 requests per 1s")
    }

    func testNoPoliciesNoFields() {
        let o = RateLimiter(policies: policies).check(for: []).check(peer: nil, headers: [:], route: "r",
                                                                      trustedProxies: [], now: 0)
        XCTAssertTrue(o.isAllowed)
        XCTAssertNil(o.policyField)
        XCTAssertNil(o.limitField)
    }

    func testRenderingQuotesNamesAndDurations() {
        XCTAssertEqual(RateLimitHeaders.quoted(#"a"b\c"#), #""a\"b\\c""#)
        XCTAssertEqual(RateLimitHeaders.quoted("é"), #""?""#)
        XCTAssertEqual(RateLimitHeaders.durationText(.milliseconds(250)), "250ms")
        XCTAssertEqual(RateLimitHeaders.durationText(.seconds(30)), "30s")
        XCTAssertEqual(RateLimitHeaders.durationText(.seconds(300)), "5m")
        XCTAssertEqual(RateLimitHeaders.durationText(.seconds(7200)), "2h")
        XCTAssertEqual(RateLimitHeaders.message(rate: 100, per: .seconds(1)), "Rate limit exceeded: 100 requests per 1s")
    }
}
