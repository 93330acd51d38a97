import Foundation
import HTTPTestClient
import LegacyDemo
import Router
import XCTest

/// HTTP/1.1 client → errata → HTTP/1.1 upstream: what passes through untouched.
final class H1H1PassThroughTests: XCTestCase {
    func testGetIsRelayedWithUpstreamBodyAndStatus() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let response = try proxy.client().exchange("GET /a/b?x=1 HTTP/1.1\r\nHost: api.test\r\n\r\n")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json?["target"] as? String, "/a/b?x=1")
        XCTAssertEqual(response.json?["method"] as? String, "GET")
        XCTAssertNotNil(response.header("X-Request-Id"))
    }

    func testResponseBodiesFromEmptyTo50MiBArriveIntact() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.client(timeoutMilliseconds: 30_000)
        for size in [0, 1, 4095, 65_536, 1 << 20, 50 << 20] {
            let response = try client.exchange("GET /bytes/\(size) HTTP/1.1\r\nHost: t\r\n\r\n")
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.body.count, size)
            XCTAssertTrue(response.body == patternBytes(size), "body of \(size) bytes differs")
        }
    }

    func testRequestBodiesFromEmptyTo50MiBArriveIntact() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, limits: .init(requestBodyBytes: 64 << 20))
        let client = try proxy.client(timeoutMilliseconds: 30_000)
        for size in [0, 1, 65_536, 1 << 20, 50 << 20] {
            let body = patternBytes(size)
            client.send(Array("POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: \(size)\r\n\r\n".utf8) + body)
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertTrue(response.body == body, "echo of \(size) bytes differs (got \(response.body.count))")
        }
    }

    func testChunkedRequestBodyIsForwardedChunked() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.client()
        client.send("POST /echo-body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.bodyText, "hello world")
    }

    func testKeepAliveReusesOneUpstreamConnection() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [upstream.port])],
                                     routes: [Route(name: "all", upstream: "app")], workers: 1)
        let client = try proxy.client()
        for i in 0..<20 {
            let response = try client.exchange("GET /n/\(i) HTTP/1.1\r\nHost: t\r\n\r\n")
            XCTAssertEqual(response.json?["target"] as? String, "/n/\(i)")
        }
        XCTAssertEqual(upstream.requestCount, 20)
        XCTAssertEqual(upstream.connectionCount, 1, "the pooled connection should be reused")
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.client()
        var batch = ""
        for i in 0..<10 { batch += "GET /p/\(i) HTTP/1.1\r\nHost: t\r\n\r\n" }
        client.send(batch)
        for i in 0..<10 {
            let response = try client.readResponse()
            XCTAssertEqual(response.json?["target"] as? String, "/p/\(i)")
        }
    }

    func testChunkedAndCloseDelimitedUpstreamBodiesAreReframed() throws {
        let body = Array(repeating: UInt8(ascii: "z"), count: 100_000)
        let upstream = try LegacyServer { request in
            request.path == "/chunked"
                ? LegacyResponse(status: 200, body: body, mode: .chunked(chunkSize: 7000))
                : LegacyResponse(status: 200, body: body, mode: .closeDelimited)
        }
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.client()
        let chunked = try client.exchange("GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(chunked.body, body)
        let closeDelimited = try client.exchange("GET /close HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(closeDelimited.header("Transfer-Encoding"), "chunked", "HTTP/1.1 clients keep their connection")
        XCTAssertEqual(closeDelimited.body, body)
        let again = try client.exchange("GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(again.status, 200)
    }

    func testHeadResponseKeepsContentLengthAndHasNoBody() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.client()
        let head = try client.exchange("HEAD /bytes/1234 HTTP/1.1\r\nHost: t\r\n\r\n", forHEAD: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), "1234")
        let next = try client.exchange("GET /bytes/3 HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(next.body.count, 3, "no stray body bytes after the HEAD response")
    }

    func testHTTP10ClientGetsCloseDelimitedOrLengthFramedResponse() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.client()
        client.send("GET /bytes/10 HTTP/1.0\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.body.count, 10)
        XCTAssertTrue(client.waitForClose(), "HTTP/1.0 without keep-alive closes")
    }

    func testExpectContinueGets100ThenTheResponse() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.client()
        client.send("POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let interim = try client.readResponse()
        XCTAssertEqual(interim.status, 100)
        client.send("ping")
        let response = try client.readResponse()
        XCTAssertEqual(response.bodyText, "ping")
    }
}
