import Foundation
import HTTPTestClient
import LegacyDemo
import Proxy
import ProxyConfig
import Router
import XCTest

/// The errors errata makes itself (ERRORS.md), each in the canonical shape with `Proxy-Status`,
/// and the proxy still serving afterwards.
final class H1H1SynthesizedErrorTests: XCTestCase {
    private var upstream: LegacyServer!

    override func setUpWithError() throws {
        upstream = try echoServer()
    }

    override func tearDown() {
        upstream.stop()
    }

    private func assertCanonical(_ response: RawResponse, status: Int, type: String, code: String, proxyStatus: String,
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, status, response.bodyText, file: file, line: line)
        XCTAssertEqual(response.header("Content-Type"), "application/json", file: file, line: line)
        XCTAssertEqual(response.header("Content-Length"), String(response.body.count), file: file, line: line)
        guard let error = response.canonical else {
            return XCTFail("not a canonical error: \(response.bodyText)", file: file, line: line)
        }
        XCTAssertEqual(error.type, type, file: file, line: line)
        XCTAssertEqual(error.code, code, file: file, line: line)
        XCTAssertFalse(error.message.isEmpty, file: file, line: line)
        XCTAssertEqual(response.header("Proxy-Status")?.hasPrefix("errata; error=\(proxyStatus)"), true,
                       "Proxy-Status: \(response.header("Proxy-Status") ?? "none")", file: file, line: line)
        let keys = (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?.keys.sorted()
        XCTAssertEqual(keys, ["code", "message", "param", "type"], file: file, line: line)
        XCTAssertTrue(response.bodyText.hasPrefix("{\"type\":"), "keys in order", file: file, line: line)
    }

    private func send(_ proxy: ProxyHarness, _ raw: String) throws -> RawResponse {
        try proxy.client().exchange(raw)
    }

    func testNoRouteIs404RouteNotFound() throws {
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [upstream.port])],
                                     routes: [Route(name: "api", host: HostPattern("api.test"), upstream: "app")])
        let response = try send(proxy, "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n")
        assertCanonical(response, status: 404, type: "invalid_request", code: "route_not_found",
                        proxyStatus: "destination_not_found")
        let routed = try send(proxy, "GET / HTTP/1.1\r\nHost: api.test:8080\r\n\r\n")
        XCTAssertEqual(routed.status, 200, "a port in Host is ignored")
    }

    func testSmugglingProneFramingIs400AndCloses() throws {
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let cases = [
            "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : t\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET /../../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n",
        ]
        for raw in cases {
            let client = try proxy.client()
            let response = try client.exchange(raw)
            assertCanonical(response, status: 400, type: "invalid_request", code: "malformed_request",
                            proxyStatus: "http_request_error")
            XCTAssertEqual(upstream.requestCount, 0, "nothing reaches the upstream for \(raw.debugDescription)")
        }
        proxy.assertHealthy()
    }

    func testUnknownTransferCodingIs501() throws {
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let response = try send(proxy, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
        assertCanonical(response, status: 501, type: "api", code: "not_implemented", proxyStatus: "http_request_error")
    }

    func testLimitsGive414And431And413() throws {
        let proxy = try ProxyHarness(upstreamPort: upstream.port,
                                     limits: LimitsConfig(headerBytes: 2048, uriBytes: 256, requestBodyBytes: 1000))
        assertCanonical(try send(proxy, "GET /\(String(repeating: "a", count: 300)) HTTP/1.1\r\nHost: t\r\n\r\n"),
                        status: 414, type: "invalid_request", code: "uri_too_long", proxyStatus: "http_request_error")
        assertCanonical(try send(proxy, "GET / HTTP/1.1\r\nHost: t\r\nX: \(String(repeating: "b", count: 3000))\r\n\r\n"),
                        status: 431, type: "invalid_request", code: "request_header_fields_too_large",
                        proxyStatus: "http_request_error")
        assertCanonical(try send(proxy, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n"),
                        status: 413, type: "invalid_request", code: "payload_too_large", proxyStatus: "http_request_error")
        // A chunked body that crosses the limit mid-stream.
        let client = try proxy.client()
        client.send("POST /echo-body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        client.send("258\r\n" + String(repeating: "c", count: 600) + "\r\n")
        client.send("258\r\n" + String(repeating: "c", count: 600) + "\r\n")
        let response = try client.readResponse()
        assertCanonical(response, status: 413, type: "invalid_request", code: "payload_too_large",
                        proxyStatus: "http_request_error")
        XCTAssertTrue(client.waitForClose())
        proxy.assertHealthy()
    }

    func testUnsupportedVersionIs505() throws {
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        assertCanonical(try send(proxy, "GET / HTTP/3.0\r\nHost: t\r\n\r\n"), status: 505, type: "api",
                        code: "http_version_not_supported", proxyStatus: "http_request_error")
    }

    func testSlowHeadIs408() throws {
        let proxy = try ProxyHarness(upstreamPort: upstream.port,
                                     timeouts: ClientTimeouts(clientHeader: .milliseconds(300)))
        let client = try proxy.client()
        client.send("GET / HTTP/1.1\r\nHost: t\r\n")
        let response = try client.readResponse()
        assertCanonical(response, status: 408, type: "invalid_request", code: "request_timeout",
                        proxyStatus: "http_request_error")
        XCTAssertTrue(client.waitForClose())
    }

    func testIdleKeepAliveConnectionIsClosedSilently() throws {
        let proxy = try ProxyHarness(upstreamPort: upstream.port, timeouts: ClientTimeouts(clientIdle: .milliseconds(200)))
        let client = try proxy.client()
        XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertEqual(try client.readToEOF(), [], "closed with no bytes")
    }

    func testRefusedUpstreamIs502ConnectFailed() throws {
        let proxy = try ProxyHarness(upstreamPort: closedPort())
        let response = try send(proxy, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assertCanonical(response, status: 502, type: "api", code: "upstream_connect_failed",
                        proxyStatus: "connection_refused")
        XCTAssertFalse(response.canonical!.message.contains("127.0.0.1"), "no internal address in the message")
    }

    func testGarbageFromUpstreamIs502ProtocolError() throws {
        let bad = try LegacyServer { _ in LegacyResponse(status: 200, mode: .raw(Array("SSH-2.0-OpenSSH\r\n\r\n".utf8))) }
        defer { bad.stop() }
        let proxy = try ProxyHarness(upstreamPort: bad.port)
        assertCanonical(try send(proxy, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"), status: 502, type: "api",
                        code: "upstream_protocol_error", proxyStatus: "http_protocol_error")
    }

    func testUpstreamClosingBeforeAnswerIs502Closed() throws {
        let bad = try LegacyServer { _ in LegacyResponse(status: 200, mode: .closeWithoutResponse) }
        defer { bad.stop() }
        let proxy = try ProxyHarness(upstreamPort: bad.port)
        assertCanonical(try send(proxy, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx"), status: 502,
                        type: "api", code: "upstream_closed", proxyStatus: "connection_terminated")
    }

    func testHungUpstreamIs504ResponseTimeout() throws {
        let bad = try LegacyServer { _ in LegacyResponse(status: 200, mode: .hang) }
        defer { bad.stop() }
        let proxy = try ProxyHarness(upstreamPort: bad.port,
                                     upstreamTimeouts: UpstreamTimeouts(responseHead: .milliseconds(300)))
        let response = try send(proxy, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assertCanonical(response, status: 504, type: "api", code: "upstream_timeout", proxyStatus: "http_response_timeout")
        XCTAssertTrue(response.canonical!.message.contains("300 ms"), response.canonical!.message)
    }

    func testConnectThatNeverCompletesIs504ConnectTimeout() throws {
        let blackhole = try BlackholeListener()
        defer { blackhole.close() }
        let proxy = try ProxyHarness(
            upstreams: [ProxyHarness.upstream("stuck", ports: [blackhole.port],
                                              timeouts: UpstreamTimeouts(connect: .milliseconds(300))),
                        ProxyHarness.upstream("good", ports: [upstream.port])],
            routes: [Route(name: "stuck", pathPrefix: "/stuck", upstream: "stuck"), Route(name: "good", upstream: "good")],
            workers: 1)
        let started = ContinuousClock.now
        let response = try send(proxy, "GET /stuck HTTP/1.1\r\nHost: t\r\n\r\n")
        assertCanonical(response, status: 504, type: "api", code: "upstream_timeout", proxyStatus: "connection_timeout")
        XCTAssertTrue(response.canonical!.message.contains("300 ms"), response.canonical!.message)
        // The connect timer fired, not the 30 s response-head one (a functional check, not a speed one).
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(10))
        proxy.assertHealthy()
    }

    func testConnectTimeoutMovesToTheNextServer() throws {
        let blackhole = try BlackholeListener()
        defer { blackhole.close() }
        let proxy = try ProxyHarness(
            upstreams: [ProxyHarness.upstream("app", ports: [blackhole.port, upstream.port],
                                              timeouts: UpstreamTimeouts(connect: .milliseconds(200)))],
            routes: [Route(name: "all", upstream: "app")], workers: 1)
        // Round robin starts on either server; whichever it is, nothing of the request was sent to
        // the blackhole, so every request ends on the live server.
        for _ in 0..<2 {
            XCTAssertEqual(try send(proxy, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status, 200)
        }
    }

    func testEveryServerDownIs503() throws {
        let proxy = try ProxyHarness(
            upstreams: [ProxyHarness.upstream("app", ports: [closedPort()],
                                              passiveHealth: PassiveHealth(failures: 1, cooldown: .seconds(60)))],
            routes: [Route(name: "all", upstream: "app")], workers: 1)
        let client = try proxy.client()
        XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 502)
        assertCanonical(try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n"), status: 503, type: "api",
                        code: "upstream_unavailable", proxyStatus: "destination_unavailable")
    }

    func testConnectionLimitIs503() throws {
        let slow = try LegacyServer { _ in LegacyResponse.json(200, "{}").with(delayMilliseconds: 500) }
        defer { slow.stop() }
        let proxy = try ProxyHarness(
            upstreams: [ProxyHarness.upstream("app", ports: [slow.port], maxConnections: 1)],
            routes: [Route(name: "all", upstream: "app")], workers: 1)
        let first = try proxy.client()
        first.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        usleep(100_000)
        assertCanonical(try send(proxy, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"), status: 503, type: "api",
                        code: "upstream_unavailable", proxyStatus: "connection_limit_reached")
        XCTAssertEqual(try first.readResponse().status, 200)
    }

    func testFailureAfterHeadTruncatesTheResponse() throws {
        let bad = try LegacyServer { _ in
            LegacyResponse(status: 200, body: Array(repeating: 65, count: 1000), mode: .chunkedThenClose(chunkSize: 100))
        }
        defer { bad.stop() }
        let proxy = try ProxyHarness(
            upstreams: [ProxyHarness.upstream("bad", ports: [bad.port]), ProxyHarness.upstream("good", ports: [upstream.port])],
            routes: [Route(name: "bad", pathPrefix: "/bad", upstream: "bad"), Route(name: "good", upstream: "good")])
        let client = try proxy.client()
        client.send("GET /bad HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertThrowsError(try client.readResponse(), "the client must see a truncated response") { error in
            guard case RawClientError.closedEarly = error else { return XCTFail("\(error)") }
        }
        proxy.assertHealthy()
    }

    func testWrappedAndProblemJSONRendering() throws {
        let proxy = try ProxyHarness(
            upstreams: [ProxyHarness.upstream("app", ports: [upstream.port])],
            routes: [Route(name: "api", host: HostPattern("api.test"), upstream: "app")],
            errors: ErrorsConfig(render: .init(format: .wrapped, problemJSON: .negotiate,
                                               problemTypeBase: "https://errors.example/")))
        let wrapped = try send(proxy, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(wrapped.bodyText.hasPrefix("{\"error\":{\"type\":\"invalid_request\""), true, wrapped.bodyText)
        let problem = try send(proxy, "GET / HTTP/1.1\r\nHost: x\r\nAccept: application/problem+json\r\n\r\n")
        XCTAssertEqual(problem.header("Content-Type"), "application/problem+json")
        XCTAssertEqual(problem.json?["type"] as? String, "https://errors.example/route_not_found")
        XCTAssertEqual(problem.json?["status"] as? Int, 404)
    }
}
