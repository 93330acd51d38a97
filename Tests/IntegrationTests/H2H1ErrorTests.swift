import Foundation
import HTTP2
import HTTP2TestClient
import LegacyDemo
import ProxyConfig
import Router
import XCTest

/// HTTP/2 client → errata → HTTP/1.1 upstream: rewritten and synthesized errors over h2, and a
/// failure after the head went out, which resets that stream only.
final class H2H1ErrorTests: XCTestCase {
    /// Seed vector 000-key-error-auto over h2.
    func testUpstreamErrorIsRewrittenOverH2() throws {
        let upstream = try LegacyServer { _ in
            LegacyResponse.json(401, #"{"type": "key_error", "message": "The API key in the request is invalid."}"#)
        }
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let response = try XCTUnwrap(proxy.h2Client().request(path: "/v1/things"))
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(response.canonical?.type, "authentication")
        XCTAssertEqual(response.canonical?.code, "unauthorized")
        XCTAssertEqual(response.canonical?.message, "The API key in the request is invalid.")
        XCTAssertEqual(response.header("proxy-status"), "errata; received-status=401")
        XCTAssertEqual(response.header("content-length"), String(response.body.count))
    }

    func testNoRouteIsASynthesized404OverH2() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [upstream.port])],
                                     routes: [Route(name: "api", pathPrefix: "/api/", upstream: "app")])
        let client = try proxy.h2Client()
        let response = try XCTUnwrap(client.request(path: "/elsewhere"))
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(response.canonical?.code, "route_not_found")
        XCTAssertEqual(try XCTUnwrap(client.request(path: "/api/x")).status, 200, "the connection goes on")
    }

    func testUpstreamDownIsA502OverH2() throws {
        let proxy = try ProxyHarness(upstreamPort: closedPort())
        let response = try XCTUnwrap(proxy.h2Client().request(path: "/"))
        XCTAssertEqual(response.status, 502)
        XCTAssertNotNil(response.canonical)
    }

    func testFailureAfterTheHeadResetsOnlyThatStream() throws {
        let upstream = try LegacyServer { request in
            if request.path == "/broken" {
                return LegacyResponse(status: 200, body: [UInt8](repeating: 1, count: 1000), mode: .headThenClose)
            }
            return LegacyResponse(status: 200, body: patternBytes(300_000), delayMilliseconds: 100)
        }
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.h2Client()
        let good = client.session.submitRequest(path: "/good")
        let broken = client.session.submitRequest(path: "/broken")
        XCTAssertTrue(client.waitForStreams([good, broken]))
        XCTAssertEqual(client.session.response(broken)?.status, 200, "the head went out")
        XCTAssertEqual(client.session.response(broken)?.resetCode, HTTP2ErrorCode.internalError)
        XCTAssertEqual(client.session.response(broken)?.complete, false)
        XCTAssertEqual(client.session.response(good)?.status, 200)
        XCTAssertTrue(client.session.response(good)?.body == patternBytes(300_000))
        XCTAssertNil(client.session.goaway, "the connection is not closed")
        XCTAssertEqual(try XCTUnwrap(client.request(path: "/again")).status, 200)
    }

    func testOversizedRequestBodyIs413OverH2() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, limits: .init(requestBodyBytes: 1000))
        let client = try proxy.h2Client()
        let declared = try XCTUnwrap(client.request(method: "POST", path: "/echo-body",
                                                    headers: [("content-length", "5000")], body: patternBytes(5000)))
        XCTAssertEqual(declared.status, 413)
        XCTAssertEqual(declared.canonical?.code, "payload_too_large")
        let streamed = try XCTUnwrap(client.request(method: "POST", path: "/echo-body", body: patternBytes(200_000)))
        XCTAssertEqual(streamed.status, 413)
        XCTAssertEqual(try XCTUnwrap(client.request(path: "/after")).status, 200)
    }

    func testHeaderListOverTheLimitIs431() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, limits: .init(headerBytes: 8 * 1024))
        let client = try proxy.h2Client()
        let response = try XCTUnwrap(client.request(path: "/", headers: [("x-big", String(repeating: "a", count: 10_000))]))
        XCTAssertEqual(client.session.serverSettings[6], 8 * 1024, "advertised as SETTINGS_MAX_HEADER_LIST_SIZE")
        XCTAssertEqual(response.status, 431)
        XCTAssertEqual(response.canonical?.code, "request_header_fields_too_large")
        XCTAssertEqual(try XCTUnwrap(client.request(path: "/small")).status, 200)
    }
}
