import Foundation
import HTTPTestClient
import LegacyDemo
import Proxy
import ProxyConfig
import XCTest

/// HTTP/2 over TLS (ALPN `h2`) → errata's TLS listener → plain HTTP/1.1 upstream, with curl as
/// the client: the TLS transport and the HTTP/2 driver together.
final class H2TLSH1PassThroughTests: XCTestCase {
    private var certs: TestCertificates!

    override func setUpWithError() throws {
        certs = try TestCertificates.get()
    }

    private func tls(alpn: [String] = ["h2", "http/1.1"]) -> ListenerTLSConfig {
        ListenerTLSConfig(certificates: [.init(cert: certs.api.certFile, key: certs.api.keyFile)], alpn: alpn)
    }

    func testALPNPicksH2AndSeveralRequestsShareOneConnection() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls())
        let result = try TLSCommandLineClient.curl(port: proxy.port, paths: ["/1", "/2", "/3"], arguments: ["--http2"])
        XCTAssertEqual(result.exitStatus, 0, result.output)
        XCTAssertEqual(result.status, 200, result.output)
        XCTAssertEqual(result.httpVersion, "2", result.output)
        XCTAssertEqual(result.connects, 1, result.output)
        let echoed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any], result.output)
        XCTAssertEqual(echoed["target"] as? String, "/3")
        let headers = echoed["headers"] as? [String: String]
        XCTAssertEqual(headers?["x-forwarded-proto"], "https")
        XCTAssertEqual(headers?["host"], "api.test:\(proxy.port)", ":authority becomes Host")
        let text = proxy.server.metricsText()
        XCTAssertEqual(PrometheusText(text).sum("errata_tls_handshakes_total", ["result": "success"]), 1)
        XCTAssertTrue(text.split(separator: "\n").contains { $0.hasPrefix("errata_requests_total") && $0.contains("protocol=\"h2\"") },
                      text)
    }

    func testABodyGoesBothWaysOverH2AndTLS() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls())
        let size = 3 << 20
        let upload = FileManager.default.temporaryDirectory.appendingPathComponent("h2tls-up-\(getpid())")
        let download = FileManager.default.temporaryDirectory.appendingPathComponent("h2tls-down-\(getpid())")
        defer { try? FileManager.default.removeItem(at: upload); try? FileManager.default.removeItem(at: download) }
        try Data(patternBytes(size)).write(to: upload)
        let post = try TLSCommandLineClient.curl(port: proxy.port, paths: ["/echo-body"],
                                                 arguments: ["--http2", "--data-binary", "@\(upload.path)", "-o", download.path])
        XCTAssertEqual(post.exitStatus, 0, post.output)
        XCTAssertEqual(post.status, 200, post.output)
        XCTAssertEqual(post.httpVersion, "2", post.output)
        XCTAssertTrue(try Data(contentsOf: download) == Data(patternBytes(size)), "the echoed body differs")
    }

    func testAListenerConfiguredForHTTP11OnlyDoesNotOfferH2() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls(alpn: ["http/1.1"]))
        let result = try TLSCommandLineClient.curl(port: proxy.port, arguments: ["--http2"])
        XCTAssertEqual(result.status, 200, result.output)
        XCTAssertEqual(result.httpVersion, "1.1", result.output)
    }
}
