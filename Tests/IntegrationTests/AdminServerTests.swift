import HTTPTestClient
import Proxy
import ProxyConfig
import Router
import XCTest

/// The admin listener, live: `/metrics` after a known sequence of requests, `/healthz`,
/// `/readyz` before and during a drain, and its canonical errors.
final class AdminServerTests: XCTestCase {
    private func admin(_ proxy: ProxyHarness) throws -> RawHTTPClient {
        let port = try XCTUnwrap(proxy.server.adminAddress?.port, "the admin listener is bound")
        return try RawHTTPClient(port: port)
    }

    private func proxy(upstreamPort: Int) throws -> ProxyHarness {
        try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [upstreamPort]),
                                     ProxyHarness.upstream("gone", ports: [closedPort()])],
                         routes: [Route(name: "ok", pathPrefix: "/ok", upstream: "app"),
                                  Route(name: "down", pathPrefix: "/down", upstream: "gone")],
                         admin: true)
    }

    func testMetricsCountAKnownSequenceOfRequests() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try proxy(upstreamPort: upstream.port)
        let client = try proxy.client()
        XCTAssertEqual(try client.exchange("GET /ok/1 HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertEqual(try client.exchange("GET /ok/2 HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertEqual(try client.exchange("GET /down HTTP/1.1\r\nHost: t\r\n\r\n").status, 502)
        XCTAssertEqual(try client.exchange("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n").status, 404)
        // Back to the first label set after others (the worker remembers the last one used).
        XCTAssertEqual(try client.exchange("GET /ok/4 HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        let http10 = try proxy.client()
        XCTAssertEqual(try http10.exchange("GET /ok/3 HTTP/1.0\r\n\r\n").status, 200)

        let response = try admin(proxy).exchange("GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        let metrics = PrometheusText(response.bodyText)
        let requests = "errata_requests_total"
        XCTAssertEqual(metrics.types[requests], "counter")
        XCTAssertEqual(metrics.sum(requests, ["route": "ok", "status_class": "2xx", "protocol": "HTTP/1.1"]), 3)
        XCTAssertEqual(metrics.sum(requests, ["route": "ok", "status_class": "2xx", "protocol": "HTTP/1.0"]), 1)
        XCTAssertEqual(metrics.sum(requests, ["route": "down", "status_class": "5xx"]), 1)
        XCTAssertEqual(metrics.sum(requests, ["route": "-", "status_class": "4xx"]), 1)
        XCTAssertEqual(metrics.sum(requests), 6)
        XCTAssertEqual(metrics.sum("errata_synthesized_errors_total", ["code": "upstream_connect_failed"]), 1)
        XCTAssertEqual(metrics.sum("errata_synthesized_errors_total", ["code": "route_not_found"]), 1)
        XCTAssertEqual(metrics.types["errata_request_duration_seconds"], "histogram")
        XCTAssertEqual(metrics.sum("errata_request_duration_seconds_count", ["route": "ok"]), 4)
        XCTAssertEqual(metrics.sum("errata_request_duration_seconds_bucket", ["route": "ok", "le": "+Inf"]), 4)
        XCTAssertEqual(metrics.sum("errata_upstream_response_seconds_count", ["upstream": "app"]), 4)
        XCTAssertFalse(metrics.has("errata_upstream_response_seconds_count", ["upstream": "gone"]),
                       "a refused connect has no upstream response time")
        XCTAssertGreaterThanOrEqual(metrics.sum("errata_open_connections"), 1, "two clients are still open")
        XCTAssertEqual(metrics.sum("errata_config_reloads_total"), 0)
        XCTAssertTrue(metrics.has("errata_tls_handshakes_total", ["result": "failure"]))
        // Series carry the worker that counted them: no two workers share one.
        XCTAssertTrue(metrics.samples.filter { $0.name == requests }.allSatisfy { $0.labels["worker"] != nil })
    }

    func testReloadsAreCounted() throws {
        let proxy = try proxy(upstreamPort: closedPort())
        proxy.server.metrics.recordReload(succeeded: true, generation: 1)
        proxy.server.metrics.recordReload(succeeded: false, generation: nil)
        let metrics = PrometheusText(try admin(proxy).exchange("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").bodyText)
        XCTAssertEqual(metrics.sum("errata_config_reloads_total", ["result": "success"]), 1)
        XCTAssertEqual(metrics.sum("errata_config_reloads_total", ["result": "failure"]), 1)
        XCTAssertEqual(metrics.sum("errata_config_generation"), 1)
    }

    func testHealthzAndReadyzThenNotReadyWhileDraining() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try proxy(upstreamPort: upstream.port)
        let client = try admin(proxy)
        XCTAssertEqual(try client.exchange("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").status, 200)
        XCTAssertEqual(try client.exchange("GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n").status, 200)
        // An open proxy connection keeps the drain going while /readyz is asked.
        let busy = try proxy.client()
        XCTAssertEqual(try busy.exchange("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        proxy.server.drain(timeout: .seconds(5)) {}
        let notReady = try client.exchange("GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(notReady.status, 503)
        XCTAssertEqual(notReady.canonical?.code, "draining")
        XCTAssertEqual(try client.exchange("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").status, 200)
    }

    func testOtherPathsAndMethodsGetCanonicalErrors() throws {
        let proxy = try proxy(upstreamPort: closedPort())
        let client = try admin(proxy)
        let notFound = try client.exchange("GET /admin HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(notFound.status, 404)
        XCTAssertEqual(notFound.canonical?.code, "route_not_found")
        let post = try client.exchange("POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}")
        XCTAssertEqual(post.status, 405)
        XCTAssertEqual(post.header("Allow"), "GET, HEAD")
        XCTAssertEqual(post.canonical?.code, "method_not_allowed")
        let head = try client.exchange("HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n", forHEAD: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertTrue(head.body.isEmpty)
        let garbage = try client.exchange("GET /metrics HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
        XCTAssertEqual(garbage.status, 400)
        XCTAssertEqual(garbage.canonical?.type, "invalid_request")
    }

    func testTheProxyListenerDoesNotServeAdminPaths() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        XCTAssertNil(proxy.server.adminAddress, "no admin listener unless configured")
        let relayed = try proxy.client().exchange("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(relayed.status, 200)
        XCTAssertEqual(relayed.json?["target"] as? String, "/metrics", "the path went to the upstream")
    }
}
