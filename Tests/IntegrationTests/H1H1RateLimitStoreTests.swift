import Foundation
import HTTPTestClient
import LegacyDemo
import Logging
import Proxy
import ProxyConfig
import RateLimit
import RedisTestServer
import Router
import XCTest

/// `rate_limit_store` through the proxy, with a real redis-server: two proxies (two instances)
/// share one limit; Redis killed → `on_failure`; Redis back → shared limits again.
final class H1H1RateLimitStoreTests: XCTestCase {
    private let shared = RateLimitPolicy(name: "shared", key: .header("Authorization"), rate: 1, per: .seconds(60), burst: 4)

    private func proxy(upstreamPort: Int, redisPort: Int, onFailure: RateLimitStoreConfig.OnFailure,
                       log: JSONLogHandlerTests.Lines? = nil) throws -> ProxyHarness {
        let logger = log.map { sink in Logger(label: "errata") { _ in JSONLogHandler(sink: sink) } }
            ?? Logger(label: "errata", factory: { _ in SwiftLogNoOpLogHandler() })
        return try ProxyHarness(
            upstreams: [ProxyHarness.upstream("app", ports: [upstreamPort])],
            routes: [Route(name: "limited", pathPrefix: "/limited/", upstream: "app", rateLimits: [shared.name]),
                     Route(name: "open", upstream: "app")],
            rateLimits: [shared.name: shared],
            rateLimitStore: RateLimitStoreConfig(redis: HostPort(host: "127.0.0.1", port: redisPort), onFailure: onFailure,
                                                 timeout: .milliseconds(200)),
            log: logger)
    }

    private func get(_ proxy: ProxyHarness, key: String = "Bearer sk_live_secret_4242") throws -> RawResponse {
        try proxy.client().exchange("GET /limited/x HTTP/1.1\r\nHost: t\r\nAuthorization: \(key)\r\nConnection: close\r\n\r\n")
    }

    /// Requests until Redis answers every one of a batch of 8 (each on a new connection, so on
    /// either worker; each worker reconnects on its own, after its back-off), judged by the
    /// store metric. Each request has a key of its own, so no bucket used later is touched.
    private func waitForStore(_ proxy: ProxyHarness, key: String) -> Bool {
        var batch = 0
        return waitUntil(10) {
            batch += 1
            let ok = { PrometheusText(proxy.server.metricsText()).sum("errata_rate_limit_store_total", ["result": "ok"]) }
            let before = ok()
            for i in 0..<8 { _ = try? get(proxy, key: "\(key)-\(batch)-\(i)") }
            return ok() - before == 8
        }
    }

    func testTwoProxiesSharingOneRedisEnforceOneLimitTogether() throws {
        let redis = try RedisTestServer()
        let upstream = try echoServer()
        defer { upstream.stop() }
        let a = try proxy(upstreamPort: upstream.port, redisPort: redis.port, onFailure: .deny)
        let b = try proxy(upstreamPort: upstream.port, redisPort: redis.port, onFailure: .deny)
        var statuses: [Int] = []
        for i in 0..<8 { statuses.append(try get(i % 2 == 0 ? a : b).status) }
        // Each proxy alone would let 4 through (8 in all); together they let 4.
        XCTAssertEqual(statuses.filter { $0 == 200 }.count, 4, "\(statuses)")
        XCTAssertEqual(statuses.filter { $0 == 429 }.count, 4, "\(statuses)")
        XCTAssertEqual(upstream.requestCount, 4)
        let denied = try get(b)
        XCTAssertEqual(denied.status, 429)
        XCTAssertEqual(denied.canonical?.code, "rate_limited")
        XCTAssertEqual(denied.header("Retry-After"), "60")
        XCTAssertEqual(denied.header("RateLimit-Policy"), "\"shared\";q=4;w=240")
        XCTAssertEqual(denied.header("RateLimit")?.hasPrefix("\"shared\";r=0;t="), true)
        // Another key has its own bucket; an unlimited route is not limited.
        XCTAssertEqual(try get(a, key: "Bearer other").status, 200)
        XCTAssertEqual(try a.client().exchange("GET /open HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        let metrics = PrometheusText(a.server.metricsText()) 
        XCTAssertEqual(metrics.sum("errata_rate_limit_store_total", ["result": "ok"]), 5)
        XCTAssertEqual(metrics.sum("errata_rate_limit_store_total", ["result": "unavailable"]), 0)
    }

    func testKeysReachRedisHashedNeverAsTheAuthorizationValue() throws {
        let redis = try RedisTestServer()
        let upstream = try echoServer()
        defer { upstream.stop() }
        let a = try proxy(upstreamPort: upstream.port, redisPort: redis.port, onFailure: .deny)
        XCTAssertEqual(try get(a, key: "Bearer sk_live_secret_4242").status, 200)
        XCTAssertEqual(try get(a, key: "Basic dXNlcjpwYXNzd29yZA==").status, 200)
        let keys = try redis.keys()
        XCTAssertEqual(keys.count, 2, "\(keys)")
        for key in keys {
            XCTAssertTrue(key.hasPrefix("errata:rl:") && key.count == "errata:rl:".count + 64, key)
            for secret in ["sk_live", "secret", "4242", "Bearer", "Basic", "dXNlcjpwYXNzd29yZA"] {
                XCTAssertFalse(key.contains(secret), "\(secret) in \(key)")
            }
        }
    }

    func testRedisKilledFallsBackToLocalBucketsLoggedOnceThenSharedAgain() throws {
        let redis = try RedisTestServer()
        let upstream = try echoServer()
        defer { upstream.stop() }
        let log = JSONLogHandlerTests.Lines()
        let a = try proxy(upstreamPort: upstream.port, redisPort: redis.port, onFailure: .local, log: log)
        let b = try proxy(upstreamPort: upstream.port, redisPort: redis.port, onFailure: .local)
        // Shared: 2 through a and 2 through b empty the one bucket.
        for p in [a, b, a, b] { XCTAssertEqual(try get(p).status, 200) }
        XCTAssertEqual(try get(a).status, 429)

        redis.kill()
        // Local: a's own bucket (full, never used) lets 4 through, then limits.
        let local = try (0..<5).map { _ in try get(a).status }
        XCTAssertEqual(local, [200, 200, 200, 200, 429])
        let outages = log.all.filter { $0.contains("Redis gives no answer") }
        XCTAssertEqual(outages.count, 1, "the outage is logged once: \(log.all)")
        XCTAssertTrue(outages.first?.contains("\"on_failure\":\"local\"") == true, outages.first ?? "-")
        XCTAssertGreaterThanOrEqual(PrometheusText(a.server.metricsText()).sum("errata_rate_limit_store_total", ["result": "unavailable"]), 5)

        try redis.start()
        // Back: Redis starts empty, so the shared bucket is full again, and both proxies draw from it.
        XCTAssertTrue(waitForStore(a, key: "Bearer warmup-a"))
        XCTAssertTrue(waitForStore(b, key: "Bearer warmup-b"))
        let statuses = try [a, b, a, b, a].map { try get($0, key: "Bearer after").status }
        XCTAssertEqual(statuses, [200, 200, 200, 200, 429])
        XCTAssertEqual(log.all.filter { $0.contains("Redis answers again") }.count, 1, "\(log.all)")
    }

    func testRedisKilledWithAllowLetsEverythingThroughUntilItIsBack() throws {
        let redis = try RedisTestServer()
        let upstream = try echoServer()
        defer { upstream.stop() }
        let a = try proxy(upstreamPort: upstream.port, redisPort: redis.port, onFailure: .allow)
        for _ in 0..<4 { XCTAssertEqual(try get(a).status, 200) }
        XCTAssertEqual(try get(a).status, 429)
        redis.kill()
        for _ in 0..<6 {
            let open = try get(a)
            XCTAssertEqual(open.status, 200)
            XCTAssertNil(open.header("RateLimit"), "no decision, no RateLimit fields")
        }
        try redis.start()
        XCTAssertTrue(waitForStore(a, key: "Bearer warmup"))
        let statuses = try (0..<5).map { _ in try get(a, key: "Bearer after").status }
        XCTAssertEqual(statuses, [200, 200, 200, 200, 429])
    }

    func testRedisKilledWithDenyAnswersCanonical503AndKeepsServingOtherRoutes() throws {
        let redis = try RedisTestServer()
        let upstream = try echoServer()
        defer { upstream.stop() }
        let a = try proxy(upstreamPort: upstream.port, redisPort: redis.port, onFailure: .deny)
        XCTAssertEqual(try get(a).status, 200)
        redis.kill()
        let denied = try get(a)
        XCTAssertEqual(denied.status, 503)
        XCTAssertEqual(denied.canonical?.type, "api")
        XCTAssertEqual(denied.canonical?.code, "rate_limit_unavailable")
        XCTAssertEqual(denied.header("Proxy-Status"), "errata; error=proxy_internal_error; details=\"rate limit store unavailable\"")
        XCTAssertNil(denied.header("Retry-After"))
        XCTAssertEqual(try a.client().exchange("GET /open HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertEqual(upstream.requestCount, 2)
        try redis.start()
        XCTAssertTrue(waitForStore(a, key: "Bearer warmup"))
        XCTAssertEqual(try get(a).status, 200)
    }

    func testASlowRedisTimesOutIntoOnFailure() throws {
        let redis = try RedisTestServer()
        let upstream = try echoServer()
        defer { upstream.stop() }
        let a = try proxy(upstreamPort: upstream.port, redisPort: redis.port, onFailure: .deny)
        XCTAssertTrue(waitForStore(a, key: "Bearer warmup"))
        redis.pause()
        defer { redis.resume() }
        // Both workers may need a connect of their own: the paused server still accepts them.
        let started = Date()
        let slow = try get(a)
        XCTAssertEqual(slow.status, 503)
        XCTAssertEqual(slow.header("Proxy-Status"), "errata; error=proxy_internal_error; details=\"rate limit store timeout\"")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the timeout did not fire")
        redis.resume()
        XCTAssertTrue(waitForStore(a, key: "Bearer warmup"))
    }
}
