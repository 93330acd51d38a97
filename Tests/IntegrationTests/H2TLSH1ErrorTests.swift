import Foundation
import HTTPTestClient
import LegacyDemo
import Proxy
import ProxyConfig
import XCTest

/// HTTP/2 over TLS (ALPN `h2`, curl) → errata → HTTP/1.1 upstream: an upstream error comes back
/// rewritten, as `make run`'s `curl --http2 -k https://…/billing/invoices` shows by hand.
final class H2TLSH1ErrorTests: XCTestCase {
    /// Seed vector 000-key-error-auto over h2 and TLS.
    func testUpstreamErrorIsRewrittenOverH2AndTLS() throws {
        let upstream = try LegacyServer { _ in
            LegacyResponse.json(401, #"{"type": "key_error", "message": "The API key in the request is invalid."}"#)
        }
        defer { upstream.stop() }
        let certs = try TestCertificates.get()
        let tls = ListenerTLSConfig(certificates: [.init(cert: certs.api.certFile, key: certs.api.keyFile)])
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls)
        let result = try TLSCommandLineClient.curl(port: proxy.port, paths: ["/v1/things"], arguments: ["--http2"])
        XCTAssertEqual(result.exitStatus, 0, result.output)
        XCTAssertEqual(result.httpVersion, "2", result.output)
        XCTAssertEqual(result.status, 401, result.output)
        let error = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any], result.output)
        XCTAssertEqual(error["type"] as? String, "authentication")
        XCTAssertEqual(error["code"] as? String, "unauthorized")
        XCTAssertEqual(error["message"] as? String, "The API key in the request is invalid.")
        XCTAssertEqual(PrometheusText(proxy.server.metricsText()).sum("errata_requests_total", ["protocol": "h2"]), 1)
    }
}
