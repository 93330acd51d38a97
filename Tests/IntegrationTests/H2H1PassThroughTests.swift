import Foundation
import HTTP2TestClient
import LegacyDemo
import XCTest

/// HTTP/2 client (h2c prior knowledge) → errata → HTTP/1.1 upstream: what passes through.
final class H2H1PassThroughTests: XCTestCase {
    func testGetIsRelayedWithAuthorityAsHost() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.h2Client()
        let response = try XCTUnwrap(client.request(path: "/a/b?x=1", authority: "api.test",
                                                    headers: [("accept", "application/json")]))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json?["target"] as? String, "/a/b?x=1")
        XCTAssertEqual(response.json?["method"] as? String, "GET")
        let headers = response.json?["headers"] as? [String: String]
        XCTAssertEqual(headers?["host"], "api.test", ":authority becomes Host")
        XCTAssertEqual(headers?["accept"], "application/json")
        XCTAssertNotNil(response.header("x-request-id"))
        XCTAssertEqual(client.session.serverSettings[3], 128, "limits.h2_max_concurrent_streams advertised")
        // The same plain port still speaks HTTP/1.1.
        proxy.assertHealthy()
    }

    func testResponseBodiesUpTo50MiBArriveIntact() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.h2Client()
        for size in [0, 1, 65_536, 1 << 20, 50 << 20] {
            let response = try XCTUnwrap(client.request(path: "/bytes/\(size)", timeoutMilliseconds: 60_000))
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.header("content-length"), String(size))
            XCTAssertEqual(response.body.count, size)
            XCTAssertTrue(response.body == patternBytes(size), "body of \(size) bytes differs")
        }
    }

    func testRequestBodiesUpTo50MiBArriveIntact() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, limits: .init(requestBodyBytes: 64 << 20))
        let client = try proxy.h2Client()
        for size in [1, 65_536, 1 << 20, 50 << 20] {
            let body = patternBytes(size)
            // With content-length (forwarded as is) and without (forwarded chunked).
            for headers in [[("content-length", String(size))], []] {
                let response = try XCTUnwrap(client.request(method: "POST", path: "/echo-body", headers: headers,
                                                            body: body, timeoutMilliseconds: 60_000))
                XCTAssertEqual(response.status, 200)
                XCTAssertTrue(response.body == body, "echo of \(size) bytes differs (got \(response.body.count))")
            }
        }
    }

    func testHundredConcurrentStreamsOnOneConnection() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.h2Client()
        let ids = (0..<100).map { client.session.submitRequest(path: "/n/\($0)") }
        XCTAssertTrue(client.waitForStreams(ids))
        for (i, id) in ids.enumerated() {
            let response = client.session.response(id)
            XCTAssertEqual(response?.status, 200)
            XCTAssertEqual(response?.json?["target"] as? String, "/n/\(i)")
        }
    }

    func testMetricsLabelTheProtocolH2() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        XCTAssertEqual(try proxy.h2Client().request(path: "/m")?.status, 200)
        let text = proxy.server.metricsText()
        XCTAssertTrue(text.split(separator: "\n").contains { $0.hasPrefix("errata_requests_total") && $0.contains("protocol=\"h2\"") },
                      text)
    }

    func testHEADAndNoContentCarryNoBody() throws {
        let upstream = try LegacyServer { request in
            request.path == "/empty" ? LegacyResponse(status: 204) : LegacyResponse.json(200, "{\"a\":1}")
        }
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.h2Client()
        let head = try XCTUnwrap(client.request(method: "HEAD", path: "/x"))
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body.count, 0)
        XCTAssertTrue(head.complete)
        let empty = try XCTUnwrap(client.request(path: "/empty"))
        XCTAssertEqual(empty.status, 204)
        XCTAssertEqual(empty.body.count, 0)
    }

    /// The protocol is picked only once the bytes allow: a preface split across reads is HTTP/2,
    /// a request whose first byte is the preface's "P" is HTTP/1.1.
    func testPlainListenerWaitsForEnoughBytesToPickTheProtocol() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let raw = try HTTP2RawClient(port: proxy.port)
        let preface = HTTP2Frames.preface
        raw.send(Array(preface[0..<3]))
        usleep(50_000)
        raw.send(Array(preface[3..<20]))
        usleep(50_000)
        raw.send(Array(preface[20...]) + HTTP2Frames.settings() + HTTP2Frames.getHeaders(stream: 1, path: "/split"))
        let frames = raw.readUntilClosed(timeoutMilliseconds: 1000)
        XCTAssertTrue(frames.contains { $0.type == HTTP2Frames.FrameType.headers.rawValue && $0.stream == 1 }, "\(frames.map(\.type))")
        XCTAssertTrue(frames.contains { $0.type == HTTP2Frames.FrameType.data.rawValue && $0.stream == 1 && $0.flags & 1 == 1 })

        let http1 = try proxy.client()
        http1.send("P")
        usleep(50_000)
        http1.send("OST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
        let response = try http1.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.bodyText, "hi")
    }

    /// A stream whose response went out whole is one access-log line and one count, without an
    /// error: the stream close that sending END_STREAM reports is not the client going away.
    /// (It was logged twice, both times `client_closed`, found by bench/h2.sh.)
    func testACompletedStreamIsLoggedAndCountedOnceWithoutAnError() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let log = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        let proxy = try ProxyHarness(upstreamPort: upstream.port, accessLogFD: fds[1])
        let client = try proxy.h2Client()
        XCTAssertEqual(try XCTUnwrap(client.request(path: "/one")).status, 200)
        XCTAssertEqual(try XCTUnwrap(client.request(path: "/two")).status, 200)
        proxy.server.stop()
        close(fds[1])
        let lines = String(decoding: log.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        let entries = try lines.map { try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(entries.map { $0["path"] as? String }, ["/one", "/two"], lines.joined(separator: "\n"))
        for entry in entries {
            XCTAssertEqual(entry["status"] as? Int, 200)
            XCTAssertEqual(entry["protocol"] as? String, "h2")
            XCTAssertNil(entry["error"] as? String, "no error on a completed stream: \(entry)")
        }
        XCTAssertEqual(PrometheusText(proxy.server.metricsText()).sum("errata_requests_total", ["protocol": "h2"]), 2)
    }
}
