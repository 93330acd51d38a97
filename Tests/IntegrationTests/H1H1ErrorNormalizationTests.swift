#if canImport(Glibc)
import Glibc
#endif
import ErrorNormalizer
import Foundation
import HTTPTestClient
import LegacyDemo
import LenientJSON
import Proxy
import ProxyConfig
import ProxyModel
import Router
import XCTest

/// Upstream errors rewritten by the live proxy: every acceptance vector end to end, and the
/// framing, encoding, size and header rules of ERRORS.md.
final class H1H1ErrorNormalizationTests: XCTestCase {
    private struct Vector {
        var name: String
        var dialect: String
        var response: LegacyResponse
        var expectStatus: Int?
        var expectBody: NSDictionary?
    }

    private static func fixture() -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/dialect-vectors.json")
        let data = try! Data(contentsOf: url)
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    private static func compiledDialects() throws -> [String: Dialect] {
        let specs = fixture()["dialects"] as! [String: Any]
        var out: [String: Dialect] = [:]
        for (name, spec) in specs {
            let text = String(decoding: try JSONSerialization.data(withJSONObject: spec), as: UTF8.self)
            out[name] = try Dialect.compile(name: name, spec: JSONReader.parse(text), path: "dialects.\(name)").get()
        }
        return out
    }

    private static func vectors() -> [Vector] {
        (fixture()["vectors"] as! [[String: Any]]).map { v in
            let up = v["upstream"] as! [String: Any]
            let headers = ((up["headers"] as? [String: String]) ?? [:])
                .filter { $0.key.lowercased() != "content-length" && $0.key.lowercased() != "content-encoding" }
                .map { ($0.key, $0.value) }
            var body: [UInt8]
            if let text = up["body_text"] as? String {
                body = Array(text.utf8)
            } else {
                body = Array(try! JSONSerialization.data(withJSONObject: up["body"]!))
            }
            var allHeaders = headers
            if (up["encode"] as? String) == "gzip" || (up["headers"] as? [String: String])?["Content-Encoding"] == "gzip" {
                body = Gzip.compress(body)
                allHeaders.append(("Content-Encoding", "gzip"))
            }
            let expect = v["expect"] as! [String: Any]
            return Vector(name: v["name"] as! String, dialect: v["dialect"] as! String,
                          response: LegacyResponse(status: up["status"] as! Int, headers: allHeaders, body: body),
                          expectStatus: expect["status"] as? Int, expectBody: expect["body"] as? NSDictionary)
        }
    }

    /// One upstream serving vector i at `/v/i`; a route per dialect (`/d/NAME/`, stripped) that
    /// overrides the upstream's dialect.
    private func vectorProxy(_ vectors: [Vector]) throws -> (LegacyServer, ProxyHarness) {
        let responses = vectors.map(\.response)
        let server = try LegacyServer { request in
            let index = Int(request.path.split(separator: "/").last ?? "") ?? -1
            return responses.indices.contains(index) ? responses[index] : .json(599, "{}")
        }
        let dialects = try Self.compiledDialects()
        let routes = (Array(dialects.keys) + ["auto"]).map {
            Route(name: $0, pathPrefix: "/d/\($0)/", upstream: "app", stripPrefix: true, dialect: $0)
        }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [server.port])], routes: routes,
                                     dialects: dialects)
        return (server, proxy)
    }

    func testEveryAcceptanceVectorThroughTheProxy() throws {
        let vectors = Self.vectors()
        XCTAssertGreaterThanOrEqual(vectors.count, 38)
        let (server, proxy) = try vectorProxy(vectors)
        defer { server.stop() }
        let client = try proxy.client()
        for (i, v) in vectors.enumerated() {
            let r = try client.exchange("GET /d/\(v.dialect)/v/\(i) HTTP/1.1\r\nHost: t\r\n\r\n")
            if let status = v.expectStatus, let body = v.expectBody {
                XCTAssertEqual(r.status, status, v.name)
                let got = try? JSONSerialization.jsonObject(with: Data(r.body)) as? NSDictionary
                XCTAssertEqual(got, body, "\(v.name): \(String(decoding: r.body, as: UTF8.self))")
                XCTAssertEqual(r.header("Proxy-Status"), "errata; received-status=\(v.response.status)", v.name)
                XCTAssertEqual(r.header("Content-Type"), "application/json", v.name)
                XCTAssertNil(r.header("Content-Encoding"), v.name)
            } else {
                XCTAssertEqual(r.status, v.response.status, v.name)
                XCTAssertEqual(r.body, v.response.body, "\(v.name) passes through byte-identical")
                XCTAssertNil(r.header("Proxy-Status"), v.name)
            }
        }
        proxy.assertHealthy(path: "/d/auto/v/0")
    }

    private func singleProxy(_ response: LegacyResponse, limits: LimitsConfig = LimitsConfig(),
                             errors: ErrorsConfig = ErrorsConfig()) throws -> (LegacyServer, ProxyHarness) {
        let server = try LegacyServer { _ in response }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [server.port])],
                                     routes: [Route(name: "all", upstream: "app")], limits: limits, errors: errors)
        return (server, proxy)
    }

    func testUpstreamRateLimitHeadersAndOthersAreKeptAndEncodingHeadersReplaced() throws {
        let (server, proxy) = try singleProxy(.gzipJSON(429, #"{"message":"slow down"}"#, headers: [
            ("Retry-After", "7"), ("RateLimit", "\"u\";r=0;t=7"), ("WWW-Authenticate", "Bearer"), ("ETag", "\"x\"")]))
        defer { server.stop() }
        let r = try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(r.status, 429)
        XCTAssertEqual(r.canonical?.message, "slow down")
        XCTAssertEqual(r.header("Retry-After"), "7")
        XCTAssertEqual(r.header("RateLimit"), "\"u\";r=0;t=7")
        XCTAssertEqual(r.header("WWW-Authenticate"), "Bearer")
        XCTAssertNil(r.header("ETag"))
        XCTAssertNil(r.header("Content-Encoding"))
        XCTAssertEqual(r.header("Content-Length"), String(r.body.count))
    }

    func testABodyOverTheLimitFallsBackToTheStatusAndTheProxyStaysHealthy() throws {
        let big = "{\"message\":\"" + String(repeating: "x", count: 200_000) + "\"}"
        let server = try LegacyServer { request in request.path == "/big" ? .json(500, big) : .json(200, "{}") }
        defer { server.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("app", ports: [server.port])],
                                     routes: [Route(name: "all", upstream: "app")],
                                     limits: LimitsConfig(errorBodyBytes: 64 * 1024))
        let r = try proxy.client().exchange("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(r.status, 500)
        XCTAssertEqual(r.canonical?.type, "api")
        XCTAssertEqual(r.canonical?.message, CanonicalError(status: 500).message)
        XCTAssertLessThan(r.body.count, 1024)
        let metrics = PrometheusText(proxy.server.metricsText())
        XCTAssertEqual(metrics.sum("errata_upstream_errors_total", ["upstream": "app", "outcome": "unreadable"]), 1)
        proxy.assertHealthy()
    }

    func testAGzipBombCostsNothing() throws {
        // 50 MiB of zeros compress to ~50 KiB: decoded size is capped at the limit.
        let bomb = Gzip.compress([UInt8](repeating: 0x20, count: 50 << 20))
        let (server, proxy) = try singleProxy(LegacyResponse(status: 502, headers: [("Content-Type", "application/json"),
                                                                                  ("Content-Encoding", "gzip")], body: bomb),
                                              limits: LimitsConfig(errorBodyBytes: 1 << 20))
        defer { server.stop() }
        let r = try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(r.status, 502)
        XCTAssertEqual(r.canonical?.message, CanonicalError(status: 502).message)
        XCTAssertEqual(r.header("Proxy-Status"), "errata; received-status=502")
    }

    func testHeadAndGRPCErrorsPassThroughUntouched() throws {
        let (server, proxy) = try singleProxy(.json(404, #"{"message":"gone"}"#))
        defer { server.stop() }
        let client = try proxy.client()
        let head = try client.exchange("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", forHEAD: true)
        XCTAssertEqual(head.status, 404)
        XCTAssertNil(head.header("Proxy-Status"))
        XCTAssertEqual(head.body.count, 0)
        let (grpcServer, grpcProxy) = try singleProxy(LegacyResponse(status: 500, headers: [("Content-Type", "application/grpc")],
                                                                     body: [0, 0, 0, 0, 0]))
        defer { grpcServer.stop() }
        let g = try grpcProxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(g.body, [0, 0, 0, 0, 0])
        XCTAssertNil(g.header("Proxy-Status"))
    }

    func testWrappedAndProblemJSONApplyToRewrittenErrors() throws {
        let (server, proxy) = try singleProxy(.json(400, #"{"error":{"code":"bad_offset","message":"offset < 0","param":"offset"}}"#),
                                              errors: ErrorsConfig(render: ErrorRenderOptions(format: .wrapped, problemJSON: .negotiate)))
        defer { server.stop() }
        let client = try proxy.client()
        let wrapped = try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        let error = (wrapped.json?["error"] as? [String: Any])
        XCTAssertEqual(error?["code"] as? String, "bad_offset")
        XCTAssertEqual(error?["param"] as? String, "offset")
        let problem = try client.exchange("GET / HTTP/1.1\r\nHost: t\r\nAccept: application/problem+json\r\n\r\n")
        XCTAssertEqual(problem.header("Content-Type"), "application/problem+json")
        XCTAssertEqual(problem.json?["status"] as? Int, 400)
        XCTAssertEqual(problem.json?["detail"] as? String, "offset < 0")
        XCTAssertEqual(problem.json?["code"] as? String, "bad_offset")
    }

    func testMetricsPerUpstreamDialectAndOutcome() throws {
        let (server, proxy) = try singleProxy(.json(403, #"{"message":"no"}"#))
        defer { server.stop() }
        let client = try proxy.client()
        _ = try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.exchange("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", forHEAD: true)
        let metrics = PrometheusText(proxy.server.metricsText())
        let app = ["upstream": "app", "dialect": "auto"]
        XCTAssertEqual(metrics.sum("errata_upstream_errors_total", app.merging(["outcome": "rewritten"]) { $1 }), 2)
        XCTAssertEqual(metrics.sum("errata_upstream_errors_total", app.merging(["outcome": "passed_through"]) { $1 }), 1)
        XCTAssertEqual(metrics.sum("errata_upstream_errors_total", ["outcome": "unreadable"]), 0)
    }
}
