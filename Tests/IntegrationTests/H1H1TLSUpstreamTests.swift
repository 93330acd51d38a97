import Foundation
import HTTPTestClient
import LegacyDemo
import Proxy
import ProxyConfig
import XCTest

/// HTTP/1.1 client → errata → HTTP/1.1 over TLS upstream. The TLS upstream is the echo server
/// behind a second errata with a TLS listener (a terminator whose handshakes are counted).
final class H1H1TLSUpstreamTests: XCTestCase {
    private var certs: TestCertificates!

    override func setUpWithError() throws {
        certs = try TestCertificates.get()
    }

    /// The echo server behind a TLS terminator serving `certificate`.
    private func tlsUpstream(_ upstream: LegacyServer, certificate: (certFile: String, keyFile: String)) throws -> ProxyHarness {
        try ProxyHarness(upstreamPort: upstream.port,
                         limits: .init(requestBodyBytes: 16 << 20),
                         listenerTLS: ListenerTLSConfig(certificates: [.init(cert: certificate.certFile, key: certificate.keyFile)]))
    }

    private func handshakes(_ terminator: ProxyHarness) -> Double {
        PrometheusText(terminator.server.metricsText()).sum("errata_tls_handshakes_total", ["result": "success"])
    }

    func testAVerifiedUpstreamAnswersAndItsConnectionIsReused() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let terminator = try tlsUpstream(upstream, certificate: certs.api)
        let proxy = try ProxyHarness(upstreamPort: terminator.port, limits: .init(requestBodyBytes: 16 << 20),
                                     upstreamTLS: UpstreamTLSConfig(ca: certs.caFile, serverName: "api.test"))
        let client = try proxy.client(timeoutMilliseconds: 30_000)
        for i in 0..<3 {
            let response = try client.exchange("GET /r\(i) HTTP/1.1\r\nHost: t\r\n\r\n")
            XCTAssertEqual(response.status, 200, response.bodyText)
            XCTAssertEqual(response.json?["target"] as? String, "/r\(i)")
        }
        let size = 3 << 20
        let download = try client.exchange("GET /bytes/\(size) HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertTrue(download.body == patternBytes(size), "the download differs (\(download.body.count) bytes)")
        client.send(Array("POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: \(size)\r\n\r\n".utf8) + patternBytes(size))
        let upload = try client.readResponse()
        XCTAssertEqual(upload.status, 200)
        XCTAssertTrue(upload.body == patternBytes(size), "the echoed upload differs (\(upload.body.count) bytes)")
        // One handshake for five requests: the pooled TLS connection was reused.
        XCTAssertEqual(handshakes(terminator), 1)
    }

    func testTheHostIsTheNameVerifiedWhenNoServerNameIsSet() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let terminator = try tlsUpstream(upstream, certificate: certs.api) // its SANs include IP 127.0.0.1
        let proxy = try ProxyHarness(upstreamPort: terminator.port, upstreamTLS: UpstreamTLSConfig(ca: certs.caFile))
        let response = try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(response.status, 200, response.bodyText)
    }

    private func assertTLSConnectFailure(_ response: RawResponse, _ error: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, 502, response.bodyText, file: file, line: line)
        XCTAssertEqual(response.canonical?.code, "upstream_connect_failed", response.bodyText, file: file, line: line)
        XCTAssertTrue(response.header("Proxy-Status")?.contains("errata; error=\(error)") == true,
                      "Proxy-Status: \(response.header("Proxy-Status") ?? "none")", file: file, line: line)
    }

    func testAnUntrustedCertificateIs502CertificateError() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let terminator = try tlsUpstream(upstream, certificate: certs.bad) // self-signed
        let proxy = try ProxyHarness(upstreamPort: terminator.port,
                                     upstreamTLS: UpstreamTLSConfig(ca: certs.caFile, serverName: "api.test"))
        assertTLSConnectFailure(try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n"), "tls_certificate_error")
    }

    func testACertificateForAnotherNameIs502CertificateError() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let terminator = try tlsUpstream(upstream, certificate: certs.api)
        let proxy = try ProxyHarness(upstreamPort: terminator.port,
                                     upstreamTLS: UpstreamTLSConfig(ca: certs.caFile, serverName: "billing.test"))
        assertTLSConnectFailure(try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n"), "tls_certificate_error")
    }

    func testVerifyOffAcceptsAnUntrustedCertificate() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let terminator = try tlsUpstream(upstream, certificate: certs.bad)
        let proxy = try ProxyHarness(upstreamPort: terminator.port, upstreamTLS: UpstreamTLSConfig(verify: false))
        XCTAssertEqual(try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
    }

    func testAReloadWithAnotherCAVerifiesNewConnectionsAgainstIt() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let terminator = try tlsUpstream(upstream, certificate: certs.api)
        let proxy = try ProxyHarness(upstreamPort: terminator.port,
                                     upstreamTLS: UpstreamTLSConfig(ca: certs.caFile, serverName: "api.test"))
        XCTAssertEqual(try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        var snapshot = proxy.server.config.snapshot
        snapshot.upstreams["app"]?.tls = UpstreamTLSConfig(ca: certs.bad.certFile, serverName: "api.test")
        try proxy.server.reload(RuntimeConfig.resolving(snapshot, generation: 1, replacing: proxy.server.config))
        assertTLSConnectFailure(try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n"), "tls_certificate_error")
    }

    func testAPlainHTTPUpstreamIs502ProtocolError() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, upstreamTLS: UpstreamTLSConfig(ca: certs.caFile))
        assertTLSConnectFailure(try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n"), "tls_protocol_error")
    }
}
