#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTestClient
import LegacyDemo
import Proxy
import ProxyConfig
import Router
import XCTest

/// What errata changes on the way upstream: hop-by-hop fields, X-Forwarded-*, the request id,
/// the path; and how it retries.
final class H1H1ForwardingTests: XCTestCase {
    func testHopByHopFieldsAreRemovedAndEndToEndKept() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let response = try proxy.client().exchange(
            "GET / HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n"
            + "TE: trailers\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\n\r\n")
        let headers = response.echoedHeaders
        for name in ["x-secret", "keep-alive", "te", "upgrade", "proxy-connection"] {
            XCTAssertNil(headers[name], "\(name) must not be forwarded")
        }
        XCTAssertEqual(headers["x-kept"], "yes")
        XCTAssertEqual(headers["host"], "t", "Host is forwarded as the client sent it")
    }

    func testForwardedFieldsFromUntrustedPeerAreReplaced() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let headers = try proxy.client().exchange(
            "GET / HTTP/1.1\r\nHost: api.test\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n\r\n").echoedHeaders
        XCTAssertEqual(headers["x-forwarded-for"], "127.0.0.1")
        XCTAssertEqual(headers["x-forwarded-proto"], "http")
        XCTAssertEqual(headers["x-forwarded-host"], "api.test")
    }

    func testForwardedForFromTrustedPeerIsAppended() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [upstream.port])],
                                     routes: [Route(name: "all", upstream: "app")], trustedProxies: ["127.0.0.1/32"])
        let headers = try proxy.client().exchange(
            "GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n").echoedHeaders
        XCTAssertEqual(headers["x-forwarded-for"], "203.0.113.7, 10.0.0.1, 127.0.0.1")
    }

    func testRequestIdIsKeptOrGenerated() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.client()
        let kept = try client.exchange("GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-123\r\n\r\n")
        XCTAssertEqual(kept.echoedHeaders["x-request-id"], "abc-123")
        XCTAssertEqual(kept.header("X-Request-Id"), "abc-123")
        let first = try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").echoedHeaders["x-request-id"]
        let second = try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").echoedHeaders["x-request-id"]
        XCTAssertEqual(first?.count, 32)
        XCTAssertNotEqual(first, second)
        // The worker's 16-digit random prefix, then its counter: lower-case hex, consecutive.
        let a = try XCTUnwrap(first), b = try XCTUnwrap(second)
        XCTAssertTrue(a.allSatisfy { "0123456789abcdef".contains($0) }, a)
        XCTAssertEqual(a.prefix(16), b.prefix(16))
        XCTAssertEqual(UInt64(b.suffix(16), radix: 16), UInt64(a.suffix(16), radix: 16).map { $0 &+ 1 })
    }

    func testPathIsNormalizedAndPrefixStripped() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("billing", ports: [upstream.port])],
                                     routes: [Route(name: "billing", pathPrefix: "/billing/", upstream: "billing",
                                                    stripPrefix: true)])
        let client = try proxy.client()
        XCTAssertEqual(try client.exchange("GET /billing/v1/./x/../invoices?id=7 HTTP/1.1\r\nHost: t\r\n\r\n")
            .json?["target"] as? String, "/v1/invoices?id=7")
        XCTAssertEqual(try client.exchange("GET /billing/ HTTP/1.1\r\nHost: t\r\n\r\n").json?["target"] as? String, "/")
        XCTAssertEqual(try client.exchange("GET /other HTTP/1.1\r\nHost: t\r\n\r\n").status, 404)
    }

    func testRoutesMatchHostWildcardMethodInFileOrder() throws {
        let a = try echoServer(), b = try echoServer()
        defer { a.stop(); b.stop() }
        let proxy = try ProxyHarness(
            upstreams: [ProxyHarness.upstream("a", ports: [a.port]), ProxyHarness.upstream("b", ports: [b.port])],
            routes: [Route(name: "writes", host: HostPattern("*.example.com"), methods: ["POST"], upstream: "a"),
                     Route(name: "rest", host: HostPattern("*.example.com"), upstream: "b")])
        let client = try proxy.client()
        client.send("POST / HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200)
        XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: x.y.example.com\r\n\r\n").status, 200)
        XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n").status, 404)
        XCTAssertEqual(a.requestCount, 1)
        XCTAssertEqual(b.requestCount, 1)
    }

    func testRefusedServerFallsThroughToTheNext() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [closedPort(), upstream.port])],
                                     routes: [Route(name: "all", upstream: "app")], workers: 1)
        let client = try proxy.client()
        for _ in 0..<4 {
            XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        }
    }

    func testRoundRobinSpreadsOverServers() throws {
        let a = try echoServer(), b = try echoServer()
        defer { a.stop(); b.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [a.port, b.port], maxIdle: 0)],
                                     routes: [Route(name: "all", upstream: "app")], workers: 1)
        let client = try proxy.client()
        for _ in 0..<6 { _ = try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n") }
        XCTAssertEqual(a.requestCount, 3)
        XCTAssertEqual(b.requestCount, 3)
    }

    /// The keep-alive race: the pooled connection is closed by the upstream as the next request
    /// goes out. An idempotent request is retried once on a fresh connection; a POST is not.
    func testStalePooledConnectionIsRetriedForIdempotentRequests() throws {
        let counter = RequestCounter()
        let upstream = try LegacyServer { request in
            let n = counter.next()
            if n == 2 || n == 4 { return LegacyResponse(status: 200, mode: .closeWithoutResponse) }
            return LegacyResponse.json(200, "{\"n\":\(n)}")
        }
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [upstream.port])],
                                     routes: [Route(name: "all", upstream: "app")], workers: 1)
        let client = try proxy.client()
        XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").bodyText, "{\"n\":1}")
        let retried = try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(retried.status, 200)
        XCTAssertEqual(retried.bodyText, "{\"n\":3}", "retried once on a fresh connection")
        client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
        let post = try client.readResponse()
        XCTAssertEqual(post.status, 502, "a POST that reached the upstream is not replayed")
        XCTAssertEqual(post.canonical?.code, "upstream_closed")
    }

    func testSlowClientDoesNotStallOthers() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [upstream.port])],
                                     routes: [Route(name: "all", upstream: "app")], workers: 1)
        // A client that asks for 50 MiB and never reads.
        let slow = try proxy.client()
        slow.send("GET /bytes/\(50 << 20) HTTP/1.1\r\nHost: t\r\n\r\n")
        usleep(200_000)
        let fast = try proxy.client(timeoutMilliseconds: 3000)
        for i in 0..<20 {
            XCTAssertEqual(try fast.exchange("GET /f/\(i) HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        }
    }

    func testClientDisconnectMidResponseLeavesProxyHealthy() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        do {
            let client = try proxy.client()
            client.send("GET /bytes/\(20 << 20) HTTP/1.1\r\nHost: t\r\n\r\n")
            usleep(50_000)
        }
        do {
            let client = try proxy.client()
            client.send("POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\npartial")
        }
        usleep(100_000)
        proxy.assertHealthy()
        for _ in 0..<100 where proxy.server.openConnectionCount > 0 { usleep(20_000) }
        XCTAssertEqual(proxy.server.openConnectionCount, 0, "closed clients are forgotten")
    }

    func testAccessLogLineHasTheFields() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]) }
        do {
            let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [upstream.port])],
                                         routes: [Route(name: "main", upstream: "app")], workers: 1,
                                         accessLogFD: fds[1])
            _ = try proxy.client().exchange("GET /logged?q=1 HTTP/1.1\r\nHost: t\r\nX-Request-Id: rid-1\r\n\r\n")
            proxy.server.stop()
        }
        close(fds[1])
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        let entry = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        XCTAssertEqual(entry["request_id"] as? String, "rid-1")
        XCTAssertEqual(entry["method"] as? String, "GET")
        XCTAssertEqual(entry["path"] as? String, "/logged?q=1")
        XCTAssertEqual(entry["status"] as? Int, 200)
        XCTAssertEqual(entry["upstream"] as? String, "app")
        XCTAssertEqual(entry["upstream_status"] as? Int, 200)
        XCTAssertEqual(entry["client"] as? String, "127.0.0.1")
        XCTAssertNotNil(entry["time"] as? String)
        XCTAssertNotNil(entry["duration_ms"] as? Double)
        XCTAssertGreaterThan(entry["bytes"] as? Int ?? 0, 0)
    }
}

/// A thread-safe request counter for upstream handlers.
final class RequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
