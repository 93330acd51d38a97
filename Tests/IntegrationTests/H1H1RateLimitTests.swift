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

/// Token buckets through the proxy: the canonical 429, its headers, keys, and the counters.
final class H1H1RateLimitTests: XCTestCase {
    private func proxy(_ policy: RateLimitPolicy, upstreamPort: Int, trusted: [String] = []) throws -> ProxyHarness {
        try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [upstreamPort])],
                         routes: [Route(name: "limited", pathPrefix: "/limited/", upstream: "app", rateLimits: [policy.name]),
                                  Route(name: "open", upstream: "app")],
                         trustedProxies: trusted, rateLimits: [policy.name: policy])
    }

    func testBurstThenCanonical429WithRetryAfterAndRateLimitFields() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let policy = RateLimitPolicy(name: "per_client", key: .clientIP, rate: 1, per: .seconds(60), burst: 3)
        let proxy = try proxy(policy, upstreamPort: upstream.port)
        let client = try proxy.client()
        for remaining in [2, 1, 0] {
            let ok = try client.exchange("GET /limited/a HTTP/1.1\r\nHost: t\r\n\r\n")
            XCTAssertEqual(ok.status, 200)
            XCTAssertEqual(ok.header("RateLimit-Policy"), "\"per_client\";q=3;w=180")
            XCTAssertEqual(ok.header("RateLimit")?.hasPrefix("\"per_client\";r=\(remaining);t="), true, ok.header("RateLimit") ?? "-")
        }
        let denied = try client.exchange("GET /limited/a HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(denied.status, 429)
        XCTAssertEqual(denied.canonical?.type, "rate_limit")
        XCTAssertEqual(denied.canonical?.code, "rate_limited")
        XCTAssertEqual(denied.canonical?.message, "Rate limit exceeded: 1 request per 1m")
        XCTAssertEqual(denied.header("Retry-After"), "60")
        XCTAssertEqual(denied.header("Proxy-Status"), "errata; error=http_request_denied")
        XCTAssertEqual(denied.header("RateLimit")?.hasPrefix("\"per_client\";r=0;t="), true)
        XCTAssertEqual(upstream.requestCount, 3, "a denied request never reaches the upstream")
        // The connection stays usable and unlimited routes are not limited.
        XCTAssertEqual(try client.exchange("GET /other HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertNil(try client.exchange("GET /other HTTP/1.1\r\nHost: t\r\n\r\n").header("RateLimit"))
        let metrics = PrometheusText(proxy.server.metricsText())
        XCTAssertEqual(metrics.sum("errata_rate_limit_decisions_total", ["policy": "per_client", "decision": "allowed"]), 3)
        XCTAssertEqual(metrics.sum("errata_rate_limit_decisions_total", ["policy": "per_client", "decision": "limited"]), 1)
        XCTAssertEqual(metrics.sum("errata_synthesized_errors_total", ["code": "rate_limited"]), 1)
    }

    func testARequestAfterRetryAfterSucceeds() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let policy = RateLimitPolicy(name: "one", key: .global, rate: 1, per: .seconds(1), burst: 1)
        let proxy = try proxy(policy, upstreamPort: upstream.port)
        let client = try proxy.client()
        XCTAssertEqual(try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        let denied = try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(denied.status, 429)
        let wait = try XCTUnwrap(Int(denied.header("Retry-After") ?? ""))
        XCTAssertGreaterThanOrEqual(wait, 1)
        usleep(UInt32(wait) * 1_000_000 + 50_000)
        XCTAssertEqual(try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
    }

    func testKeysAreIsolatedAcrossWorkersAndConnections() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let policy = RateLimitPolicy(name: "per_key", key: .header("X-Api-Key"), rate: 1, per: .seconds(60), burst: 2)
        let proxy = try proxy(policy, upstreamPort: upstream.port)
        // Fresh connections land on either worker: the limit must not multiply with workers.
        var statuses: [Int] = []
        for _ in 0..<6 {
            let c = try proxy.client()
            statuses.append(try c.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\nX-Api-Key: alice\r\n\r\n").status)
        }
        XCTAssertEqual(statuses, [200, 200, 429, 429, 429, 429])
        let bob = try proxy.client()
        XCTAssertEqual(try bob.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\nX-Api-Key: bob\r\n\r\n").status, 200,
                       "another key has its own bucket")
    }

    func testSpoofedForwardedForFromAnUntrustedPeerIsIgnored() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let policy = RateLimitPolicy(name: "per_ip", key: .clientIP, rate: 1, per: .seconds(60), burst: 1)
        let proxy = try proxy(policy, upstreamPort: upstream.port)
        let client = try proxy.client()
        XCTAssertEqual(try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.1\r\n\r\n").status, 200)
        XCTAssertEqual(try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.2\r\n\r\n").status, 429,
                       "a new X-Forwarded-For from an untrusted peer is not a new client")
    }

    func testForwardedForFromATrustedPeerNamesTheClient() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let policy = RateLimitPolicy(name: "per_ip", key: .clientIP, rate: 1, per: .seconds(60), burst: 1)
        let proxy = try proxy(policy, upstreamPort: upstream.port, trusted: ["127.0.0.1/32"])
        let client = try proxy.client()
        XCTAssertEqual(try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.1\r\n\r\n").status, 200)
        XCTAssertEqual(try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.2\r\n\r\n").status, 200)
        XCTAssertEqual(try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.1\r\n\r\n").status, 429)
    }
    /// Swaps the proxy to `snapshot` as a SIGHUP does, and returns once every worker has applied it.
    private func reload(_ proxy: ProxyHarness, _ snapshot: ConfigSnapshot, generation: Int) throws {
        try proxy.server.reload(RuntimeConfig.resolving(snapshot, generation: generation, replacing: proxy.server.config))
        let applied = DispatchSemaphore(value: 0)
        proxy.server.pingWorkers(queue: .global()) { applied.signal() }
        XCTAssertEqual(applied.wait(timeout: .now() + 5), .success)
    }

    func testBucketsOfAnUnchangedPolicySurviveAReloadAndAChangedPolicyStartsFull() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let policy = RateLimitPolicy(name: "per_client", key: .clientIP, rate: 1, per: .seconds(60), burst: 2)
        let proxy = try proxy(policy, upstreamPort: upstream.port)
        let client = try proxy.client()
        XCTAssertEqual(try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertEqual(try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertEqual(try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\n\r\n").status, 429)

        // Same policy; another route changes so the reload is a real one.
        var same = proxy.server.config.snapshot
        same.routes = RouteTable([Route(name: "limited", pathPrefix: "/limited/", upstream: "app", rateLimits: [policy.name]),
                                  Route(name: "open2", upstream: "app")])
        try reload(proxy, same, generation: 1)
        XCTAssertEqual(try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\n\r\n").status, 429,
                       "the exhausted bucket is still empty on the open connection")
        XCTAssertEqual(try proxy.client().exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\n\r\n").status, 429,
                       "and on a new one")

        var changed = proxy.server.config.snapshot
        changed.rateLimits[policy.name]!.burst = 3
        try reload(proxy, changed, generation: 2)
        let allowed = try client.exchange("GET /limited/ HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(allowed.status, 200, "a changed burst starts a full bucket")
        XCTAssertEqual(allowed.header("RateLimit-Policy"), "\"per_client\";q=3;w=180")
        XCTAssertEqual(allowed.header("RateLimit")?.hasPrefix("\"per_client\";r=2;"), true, allowed.header("RateLimit") ?? "-")
        XCTAssertEqual(upstream.requestCount, 3)
    }
}
