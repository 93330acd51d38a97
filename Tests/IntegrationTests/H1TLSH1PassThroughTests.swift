import Foundation
import HTTPTestClient
import LegacyDemo
import Proxy
import ProxyConfig
import XCTest

/// HTTP/1.1 over TLS client → errata's TLS listener → plain HTTP/1.1 upstream. The clients are
/// `curl` and `openssl s_client`; certificates are made at test time.
final class H1TLSH1PassThroughTests: XCTestCase {
    private var certs: TestCertificates!

    override func setUpWithError() throws {
        certs = try TestCertificates.get()
    }

    private func tls(_ certificates: [(certFile: String, keyFile: String)], minVersion: ListenerTLSConfig.MinVersion = .tls12,
                     clientCA: String? = nil) -> ListenerTLSConfig {
        ListenerTLSConfig(certificates: certificates.map { .init(cert: $0.certFile, key: $0.keyFile) },
                          minVersion: minVersion, clientCA: clientCA)
    }

    private func handshakes(_ proxy: ProxyHarness, _ result: String) -> Double {
        PrometheusText(proxy.server.metricsText()).sum("errata_tls_handshakes_total", ["result": result])
    }

    func testGetAndPostThroughATLSListenerReachThePlainUpstreamAsHTTPS() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls([certs.api]))
        let get = try TLSCommandLineClient.curl(port: proxy.port, paths: ["/a?x=1"])
        XCTAssertEqual(get.exitStatus, 0, get.output)
        XCTAssertEqual(get.status, 200, get.output)
        let echoed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(get.body.utf8)) as? [String: Any], get.output)
        XCTAssertEqual(echoed["target"] as? String, "/a?x=1")
        XCTAssertEqual((echoed["headers"] as? [String: String])?["x-forwarded-proto"], "https")
        let post = try TLSCommandLineClient.curl(port: proxy.port, paths: ["/echo-body"], arguments: ["--data-binary", "hello over tls"])
        XCTAssertEqual(post.status, 200, post.output)
        XCTAssertEqual(post.body, "hello over tls")
        XCTAssertEqual(handshakes(proxy, "success"), 2)
    }

    func testMultiMiBBodiesArriveIntactBothWays() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, limits: .init(requestBodyBytes: 16 << 20),
                                     listenerTLS: tls([certs.api]))
        let size = 6 << 20
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("errata-tls-body-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sent = directory.appendingPathComponent("sent"), echoed = directory.appendingPathComponent("echoed"),
            downloaded = directory.appendingPathComponent("downloaded")
        try Data(patternBytes(size)).write(to: sent)
        let post = try TLSCommandLineClient.curl(port: proxy.port, paths: ["/echo-body"],
                                                 arguments: ["--data-binary", "@" + sent.path, "-o", echoed.path])
        XCTAssertEqual(post.status, 200, post.output)
        XCTAssertTrue(try Data(contentsOf: echoed) == Data(patternBytes(size)), "the echoed upload differs")
        let get = try TLSCommandLineClient.curl(port: proxy.port, paths: ["/bytes/\(size)"], arguments: ["-o", downloaded.path])
        XCTAssertEqual(get.status, 200, get.output)
        XCTAssertTrue(try Data(contentsOf: downloaded) == Data(patternBytes(size)), "the download differs")
    }

    func testAClosingResponseEndsWithCloseNotify() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls([certs.api]))
        let client = try BlockingTLSClient(port: proxy.port, serverName: "api.test", caFile: certs.caFile)
        client.send("GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        let (bytes, end) = client.readToEnd()
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200"), String(decoding: bytes, as: UTF8.self))
        XCTAssertEqual(end, .closed, "the server ended the stream without close_notify")
    }

    func testKeepAliveCarriesSeveralRequestsOverOneHandshake() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls([certs.api]))
        let result = try TLSCommandLineClient.curl(port: proxy.port, paths: ["/1", "/2", "/3"],
                                                   arguments: ["--http1.1"])
        XCTAssertEqual(result.exitStatus, 0, result.output)
        XCTAssertEqual(result.status, 200, result.output)
        XCTAssertEqual(result.connects, 1, result.output)
        XCTAssertEqual(result.httpVersion, "1.1", result.output)
        XCTAssertEqual(handshakes(proxy, "success"), 1)
    }

    func testSNIChoosesTheCertificateAndUnknownNamesGetTheFirst() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls([certs.api, certs.legacy]))
        XCTAssertTrue(try TLSCommandLineClient.servedSubject(port: proxy.port, serverName: "api.test").hasSuffix("CN = api.test"))
        XCTAssertTrue(try TLSCommandLineClient.servedSubject(port: proxy.port, serverName: "legacy.test").hasSuffix("CN = legacy.test"))
        XCTAssertTrue(try TLSCommandLineClient.servedSubject(port: proxy.port, serverName: "v2.legacy.test").hasSuffix("CN = legacy.test"))
        XCTAssertTrue(try TLSCommandLineClient.servedSubject(port: proxy.port, serverName: "other.test").hasSuffix("CN = api.test"))
        XCTAssertTrue(try TLSCommandLineClient.servedSubject(port: proxy.port, serverName: nil).hasSuffix("CN = api.test"))
        // And a verifying client gets through on the second name (its chain includes the intermediate).
        let legacy = try TLSCommandLineClient.curl(port: proxy.port, name: "legacy.test")
        XCTAssertEqual(legacy.status, 200, legacy.output)
    }

    func testMinVersion13RefusesATLS12Client() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls([certs.api], minVersion: .tls13))
        let old = try TLSCommandLineClient.curl(port: proxy.port, arguments: ["--tlsv1.2", "--tls-max", "1.2"])
        XCTAssertEqual(old.exitStatus, 35, "a TLS 1.2 client got through: \(old.output)")
        let current = try TLSCommandLineClient.curl(port: proxy.port, arguments: ["--tlsv1.3"])
        XCTAssertEqual(current.status, 200, current.output)
        XCTAssertEqual(handshakes(proxy, "failure"), 1)
        XCTAssertEqual(handshakes(proxy, "success"), 1)
    }

    func testMutualTLSServesAClientWithACertificateAndRefusesOneWithout() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls([certs.api], clientCA: certs.caFile))
        let with = try TLSCommandLineClient.curl(port: proxy.port, arguments: ["--cert", certs.client.certFile, "--key", certs.client.keyFile])
        XCTAssertEqual(with.status, 200, with.output)
        let without = try TLSCommandLineClient.curl(port: proxy.port)
        XCTAssertNotEqual(without.exitStatus, 0, "served without a client certificate: \(without.output)")
        XCTAssertNotEqual(without.status, 200, without.output)
        let untrusted = try TLSCommandLineClient.curl(port: proxy.port, arguments: ["--cert", certs.bad.certFile, "--key", certs.bad.keyFile])
        XCTAssertNotEqual(untrusted.status, 200, "served a client certificate from an unknown CA: \(untrusted.output)")
        XCTAssertTrue(waitUntil(5) { self.handshakes(proxy, "failure") == 2 }, "failures: \(handshakes(proxy, "failure"))")
    }

    func testGarbageInsteadOfAClientHelloIsDroppedAndOthersAreServed() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls([certs.api]))
        let idle = try proxy.client() // connected, says nothing: must not hold anyone up
        let garbage = try proxy.client()
        garbage.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertTrue(garbage.waitForClose(), "a plaintext request on the TLS port was not dropped")
        let good = try TLSCommandLineClient.curl(port: proxy.port)
        XCTAssertEqual(good.status, 200, good.output)
        XCTAssertEqual(handshakes(proxy, "failure"), 1)
        _ = idle
    }

    func testHandshakeTimesOutAfterClientHeader() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, timeouts: ClientTimeouts(clientHeader: .milliseconds(300)),
                                     listenerTLS: tls([certs.api]))
        let silent = try proxy.client()
        XCTAssertTrue(silent.waitForClose(), "a client that never sends a ClientHello is kept")
        XCTAssertEqual(handshakes(proxy, "failure"), 1)
    }

    func testABadCertificateOrKeyStopsTheStartNamingPathAndFile() throws {
        let bad = ListenerTLSConfig(certificates: [.init(cert: certs.api.certFile, key: certs.api.keyFile),
                                                   .init(cert: certs.api.certFile, key: certs.legacy.keyFile)])
        XCTAssertThrowsError(try ProxyHarness(upstreamPort: closedPort(), listenerTLS: bad)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("listeners[0].tls.certificates[1]"), text)
            XCTAssertTrue(text.contains(certs.legacy.keyFile) || text.contains(certs.api.certFile), text)
        }
        let garbage = ListenerTLSConfig(certificates: [.init(cert: certs.garbageFile, key: certs.api.keyFile)])
        XCTAssertThrowsError(try ProxyHarness(upstreamPort: closedPort(), listenerTLS: garbage)) { error in
            XCTAssertTrue("\(error)".contains("listeners[0].tls.certificates[0].cert: \(certs.garbageFile)"), "\(error)")
        }
    }

    func testReloadServesNewCertificatesToNewConnections() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, listenerTLS: tls([certs.api]))
        XCTAssertTrue(try TLSCommandLineClient.servedSubject(port: proxy.port, serverName: "legacy.test").hasSuffix("CN = api.test"))
        var snapshot = proxy.server.config.snapshot
        snapshot.listeners[0].tls = tls([certs.legacy])
        snapshot.listeners[0].address = HostPort(host: "127.0.0.1", port: proxy.port)
        try proxy.server.reload(RuntimeConfig.resolving(snapshot, generation: 1, replacing: proxy.server.config))
        XCTAssertEqual(proxy.server.firstPort, proxy.port)
        XCTAssertTrue(try TLSCommandLineClient.servedSubject(port: proxy.port, serverName: "legacy.test").hasSuffix("CN = legacy.test"))
    }
}
