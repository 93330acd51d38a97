#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTestClient
import LegacyDemo
import Proxy
import ProxyConfig
import RateLimit
import Router
import XCTest

/// The rate-limit table's bound as a client population sees it through the proxy. Apart from
/// H1H1RateLimitTests because it sends 200,000 requests: `make test-tsan` skips it (the pure
/// RateLimitTableTests cover the table's concurrency under TSan).
final class H1H1RateLimitKeyBoundTests: XCTestCase {
    /// 200,000 clients, each with its own key, leave at most `max_keys` buckets behind. A global
    /// policy after the keyed one is empty from the second request on, so every request takes a
    /// token from a new keyed bucket and is then answered 429 without upstream work.
    func testTwoHundredThousandDistinctKeysLeaveTheTableBounded() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let keyed = RateLimitPolicy(name: "per_key", key: .header("X-Key"), rate: 1, per: .seconds(60), burst: 5, maxKeys: 1_000)
        let global = RateLimitPolicy(name: "global", key: .global, rate: 1, per: .seconds(3600), burst: 1)
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [upstream.port])],
                                     routes: [Route(name: "limited", upstream: "app", rateLimits: ["per_key", "global"])],
                                     rateLimits: ["per_key": keyed, "global": global])
        let client = try proxy.client(timeoutMilliseconds: 60_000)
        let total = 200_000, batch = 500
        var limited = 0
        for start in stride(from: 0, to: total, by: batch) {
            var burst = ""
            for n in start..<(start + batch) { burst += "GET / HTTP/1.1\r\nHost: t\r\nX-Key: client-\(n)\r\n\r\n" }
            client.send(burst)
            for _ in 0..<batch where try client.readResponse().status == 429 { limited += 1 }
        }
        XCTAssertEqual(limited, total - 1)
        XCTAssertEqual(upstream.requestCount, 1)
        let table = try XCTUnwrap(proxy.server.config.rateLimiter.tables["per_key"])
        XCTAssertLessThanOrEqual(table.count, 1_000, "max_keys bounds the buckets kept")
        XCTAssertGreaterThan(table.count, 900, "the table holds the most recent keys")
        XCTAssertTrue(table.contains(.header(["client-199999"])), "the newest key is kept")
        XCTAssertFalse(table.contains(.header(["client-0"])), "the oldest keys were evicted")
    }
}
