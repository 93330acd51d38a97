import CSSL
import Dispatch
import Synchronization
import HTTPTestClient
import XCTest
@testable import TLS

final class TLSEngineTests: XCTestCase {
    private var certs: TestCertificates!

    override func setUpWithError() throws {
        certs = try TestCertificates.get()
    }

    private func serverContext(minVersion: TLSMinimumVersion = .tls12, alpn: [String] = ["h2", "http/1.1"],
                               clientCA: Bool = false) throws -> TLSContext {
        try TLSContext.server(certificates: [certs.api, certs.legacy], minVersion: minVersion, alpn: alpn,
                              clientCAFile: clientCA ? certs.caFile : nil)
    }

    private func clientContext(verify: Bool = true, maxVersion: TLSMaximumVersion? = nil, alpn: [String] = ["http/1.1"],
                               clientCertificate: (certFile: String, keyFile: String)? = nil) throws -> TLSContext {
        try TLSContext.client(verify: verify, caFile: certs.caFile, minVersion: .tls12, maxVersion: maxVersion, alpn: alpn,
                              clientCertificate: clientCertificate)
    }

    /// A connected pair after a successful handshake.
    private func connectedPair(server: TLSContext? = nil, client: TLSContext? = nil, serverName: String = "api.test",
                               file: StaticString = #filePath, line: UInt = #line) throws -> (client: TLSEngine, server: TLSEngine) {
        let serverEngine = TLSEngine(context: try server ?? serverContext(), role: .server)
        let clientEngine = TLSEngine(context: try client ?? clientContext(), role: .client(serverName: serverName))
        let result = EnginePump.handshake(client: clientEngine, server: serverEngine)
        XCTAssertEqual(result.client, .complete, file: file, line: line)
        XCTAssertEqual(result.server, .complete, file: file, line: line)
        return (clientEngine, serverEngine)
    }

    private func isCertificateFailure(_ result: TLSHandshakeResult) -> Bool {
        if case .failed(.certificate) = result { return true }
        return false
    }

    private func isFailure(_ result: TLSReadResult) -> Bool {
        if case .failed = result { return true }
        return false
    }

    // MARK: Handshake and data

    func testHandshakeCompletesWithTLS13AndVerifiedServer() throws {
        let (client, server) = try connectedPair()
        XCTAssertEqual(client.protocolVersion, "TLSv1.3")
        XCTAssertEqual(server.protocolVersion, "TLSv1.3")
        XCTAssertEqual(client.peerCertificateSubject, "CN=api.test,O=errata")
        XCTAssertFalse(server.peerPresentedCertificate)
        XCTAssertFalse(client.sessionReused)
        XCTAssertTrue(client.isHandshakeComplete)
        XCTAssertEqual(client.handshake(), .complete)
    }

    func testProtocolVersionIsNilBeforeHandshake() throws {
        let client = TLSEngine(context: try clientContext(), role: .client(serverName: "api.test"))
        XCTAssertNil(client.protocolVersion)
        XCTAssertEqual(client.handshake(), .incomplete)
        XCTAssertTrue(client.hasPendingCiphertext, "the ClientHello waits in the write BIO")
    }

    func testHandshakeSurvivesOneByteDeliveries() throws {
        let server = TLSEngine(context: try serverContext(), role: .server)
        let client = TLSEngine(context: try clientContext(), role: .client(serverName: "api.test"))
        let result = EnginePump.handshake(client: client, server: server, chunk: 1)
        XCTAssertEqual(result.client, .complete)
        XCTAssertEqual(result.server, .complete)
    }

    func testDataFlowsBothWays() throws {
        let (client, server) = try connectedPair()
        let request = Array("GET / HTTP/1.1\r\nHost: api.test\r\n\r\n".utf8)
        XCTAssertEqual(EnginePump.send(request, from: client, to: server).received, request)
        let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)
        XCTAssertEqual(EnginePump.send(response, from: server, to: client).received, response)
    }

    func testOneMebibyteEachWay() throws {
        let (client, server) = try connectedPair()
        var payload = [UInt8](repeating: 0, count: 1 << 20)
        for i in payload.indices { payload[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 11) }
        let upload = EnginePump.send(payload, from: client, to: server)
        XCTAssertEqual(upload.received.count, payload.count)
        XCTAssertTrue(upload.received == payload)
        let download = EnginePump.send(payload, from: server, to: client)
        XCTAssertTrue(download.received == payload)
    }

    /// Several records delivered at once come out in one `read`: nothing stays buffered in SSL.
    func testReadDrainsEveryRecordDeliveredAtOnce() throws {
        let (client, server) = try connectedPair()
        let payload = [UInt8](repeating: 0x61, count: 100_000) // 7 records
        XCTAssertTrue(payload.withUnsafeBytes { client.write($0) })
        EnginePump.transfer(from: client, to: server)
        var received: [UInt8] = []
        XCTAssertEqual(server.read(into: &received), .bytes(100_000))
        XCTAssertEqual(received.count, 100_000)
        XCTAssertEqual(server.read(into: &received), .wantMoreCiphertext)
    }

    func testReadAppendsToExistingBytes() throws {
        let (client, server) = try connectedPair()
        var buffer = Array("prefix:".utf8)
        XCTAssertTrue(Array("data".utf8).withUnsafeBytes { client.write($0) })
        EnginePump.transfer(from: client, to: server)
        XCTAssertEqual(server.read(into: &buffer), .bytes(4))
        XCTAssertEqual(String(decoding: buffer, as: UTF8.self), "prefix:data")
    }

    func testPartialRecordWantsMoreCiphertext() throws {
        let (client, server) = try connectedPair()
        XCTAssertTrue(Array("hello".utf8).withUnsafeBytes { client.write($0) })
        var ciphertext: [UInt8] = []
        XCTAssertGreaterThan(client.drainCiphertext(into: &ciphertext), 5)
        XCTAssertFalse(client.hasPendingCiphertext)
        var plaintext: [UInt8] = []
        ciphertext[..<3].withUnsafeBytes { server.receiveCiphertext($0) }
        XCTAssertEqual(server.read(into: &plaintext), .wantMoreCiphertext)
        ciphertext[3...].withUnsafeBytes { server.receiveCiphertext($0) }
        XCTAssertEqual(server.read(into: &plaintext), .bytes(5))
        XCTAssertEqual(String(decoding: plaintext, as: UTF8.self), "hello")
    }

    func testTLS12UsesECDHEWithAEAD() throws {
        let (client, server) = try connectedPair(client: clientContext(maxVersion: .tls12))
        XCTAssertEqual(server.protocolVersion, "TLSv1.2")
        let cipher = try XCTUnwrap(server.cipherName)
        XCTAssertTrue(cipher.hasPrefix("ECDHE-RSA-"), cipher)
        XCTAssertTrue(cipher.contains("GCM") || cipher.contains("CHACHA20"), cipher)
        let message = Array("over 1.2".utf8)
        XCTAssertEqual(EnginePump.send(message, from: client, to: server).received, message)
    }

    /// Contexts are shared by workers: engines made from one context on several threads at once.
    func testEnginesFromOneContextOnSeveralThreads() throws {
        let server = try serverContext()
        let client = try clientContext()
        let completed = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 16) { index in
            let serverEngine = TLSEngine(context: server, role: .server)
            let clientEngine = TLSEngine(context: client, role: .client(serverName: index.isMultiple(of: 2) ? "api.test" : "legacy.test"))
            let result = EnginePump.handshake(client: clientEngine, server: serverEngine)
            if result.client == .complete && result.server == .complete {
                completed.add(1, ordering: .relaxed)
            }
        }
        XCTAssertEqual(completed.load(ordering: .relaxed), 16)
    }

    // MARK: ALPN

    func testALPNChoosesH2WhenOffered() throws {
        let (client, server) = try connectedPair(client: clientContext(alpn: ["http/1.1", "h2"]))
        XCTAssertEqual(server.negotiatedALPN, "h2", "the server's preference wins")
        XCTAssertEqual(client.negotiatedALPN, "h2")
    }

    func testALPNChoosesHTTP11WhenH2IsNotOffered() throws {
        let (client, server) = try connectedPair()
        XCTAssertEqual(server.negotiatedALPN, "http/1.1")
        XCTAssertEqual(client.negotiatedALPN, "http/1.1")
    }

    func testALPNWithoutOverlapStillConnects() throws {
        let (client, server) = try connectedPair(client: clientContext(alpn: ["spdy/3"]))
        XCTAssertNil(server.negotiatedALPN)
        XCTAssertNil(client.negotiatedALPN)
    }

    func testNoALPNOfferedMeansNone() throws {
        let (_, server) = try connectedPair(client: clientContext(alpn: []))
        XCTAssertNil(server.negotiatedALPN)
    }

    // MARK: SNI

    func testSNISelectsTheMatchingCertificate() throws {
        let cases: [(sni: String, subject: String)] = [
            ("api.test", "CN=api.test,O=errata"),
            ("legacy.test", "CN=legacy.test,O=errata"),
            ("v2.legacy.test", "CN=legacy.test,O=errata"),
        ]
        let server = try serverContext()
        let client = try clientContext()
        for (sni, subject) in cases {
            let (clientEngine, serverEngine) = try connectedPair(server: server, client: client, serverName: sni)
            XCTAssertEqual(clientEngine.peerCertificateSubject, subject, sni)
            XCTAssertEqual(serverEngine.serverNameRequested, sni)
        }
    }

    /// The ECDSA leaf is signed by an intermediate the client does not trust: verification only
    /// succeeds because the server sends the chain from the PEM file.
    func testECDSACertificateChainIsSentAndVerifies() throws {
        let (client, _) = try connectedPair(serverName: "legacy.test")
        XCTAssertEqual(client.peerCertificateSubject, "CN=legacy.test,O=errata")
    }

    func testUnknownOrMissingSNIGetsTheFirstCertificate() throws {
        let unverified = try clientContext(verify: false)
        let (unknown, _) = try connectedPair(client: unverified, serverName: "unknown.test")
        XCTAssertEqual(unknown.peerCertificateSubject, "CN=api.test,O=errata")

        let server = TLSEngine(context: try serverContext(), role: .server)
        let client = TLSEngine(context: unverified, role: .client(serverName: nil))
        let result = EnginePump.handshake(client: client, server: server)
        XCTAssertEqual(result.server, .complete)
        XCTAssertNil(server.serverNameRequested)
        XCTAssertEqual(client.peerCertificateSubject, "CN=api.test,O=errata")
    }

    func testIPAddressIsVerifiedWithoutSNI() throws {
        let (client, server) = try connectedPair(serverName: "127.0.0.1")
        XCTAssertNil(server.serverNameRequested, "RFC 6066: no IP literals in SNI")
        XCTAssertEqual(client.peerCertificateSubject, "CN=api.test,O=errata")
    }

    // MARK: Versions

    func testTLS13OnlyServerRefusesATLS12Client() throws {
        let server = TLSEngine(context: try serverContext(minVersion: .tls13), role: .server)
        let client = TLSEngine(context: try clientContext(maxVersion: .tls12), role: .client(serverName: "api.test"))
        let result = EnginePump.handshake(client: client, server: server)
        guard case .failed(.protocolError) = result.server else { return XCTFail("server: \(result.server)") }
        guard case .failed(.protocolError) = result.client else { return XCTFail("client: \(result.client)") }
        XCTAssertNil(server.protocolVersion)
    }

    func testTLS13OnlyServerAcceptsATLS13Client() throws {
        let (_, server) = try connectedPair(server: serverContext(minVersion: .tls13))
        XCTAssertEqual(server.protocolVersion, "TLSv1.3")
    }

    // MARK: Client certificates (mTLS)

    func testMutualTLSWithClientCertificateSucceeds() throws {
        let (_, server) = try connectedPair(server: serverContext(clientCA: true),
                                            client: clientContext(clientCertificate: certs.client))
        XCTAssertTrue(server.peerPresentedCertificate)
        XCTAssertEqual(server.peerCertificateSubject, "CN=client.test,O=errata")
    }

    func testMutualTLSWithoutClientCertificateFails() throws {
        let server = TLSEngine(context: try serverContext(clientCA: true), role: .server)
        let client = TLSEngine(context: try clientContext(), role: .client(serverName: "api.test"))
        let result = EnginePump.handshake(client: client, server: server)
        XCTAssertEqual(result.server, .failed(.certificate("peer did not return a certificate")))
        // Under TLS 1.3 the client finishes first and learns of the refusal from the alert.
        var plaintext: [UInt8] = []
        if result.client == .complete {
            XCTAssertTrue(isFailure(client.read(into: &plaintext)))
        } else {
            guard case .failed = result.client else { return XCTFail("client: \(result.client)") }
        }
        XCTAssertFalse(server.peerPresentedCertificate)
    }

    func testMutualTLSWithUntrustedClientCertificateFails() throws {
        let server = TLSEngine(context: try serverContext(clientCA: true), role: .server)
        let client = TLSEngine(context: try clientContext(clientCertificate: certs.bad), role: .client(serverName: "api.test"))
        let result = EnginePump.handshake(client: client, server: server)
        XCTAssertTrue(isCertificateFailure(result.server), "\(result.server)")
    }

    // MARK: Upstream verification

    func testSelfSignedServerCertificateFailsVerification() throws {
        let badServer = try TLSContext.server(certificates: [certs.bad], minVersion: .tls12, alpn: [], clientCAFile: nil)
        let server = TLSEngine(context: badServer, role: .server)
        let client = TLSEngine(context: try clientContext(), role: .client(serverName: "api.test"))
        let result = EnginePump.handshake(client: client, server: server)
        guard case .failed(.certificate(let why)) = result.client else { return XCTFail("client: \(result.client)") }
        XCTAssertTrue(why.contains("self-signed"), why)
        guard case .failed = result.server else { return XCTFail("server should see the alert: \(result.server)") }
    }

    func testSelfSignedServerIsAcceptedWithVerificationOff() throws {
        let badServer = try TLSContext.server(certificates: [certs.bad], minVersion: .tls12, alpn: [], clientCAFile: nil)
        let (client, _) = try connectedPair(server: badServer, client: clientContext(verify: false))
        XCTAssertTrue(client.peerPresentedCertificate)
    }

    func testHostnameMismatchFailsVerification() throws {
        let server = TLSEngine(context: try serverContext(), role: .server)
        let client = TLSEngine(context: try clientContext(), role: .client(serverName: "other.test"))
        let result = EnginePump.handshake(client: client, server: server)
        XCTAssertEqual(result.client, .failed(.certificate("hostname mismatch")))
    }

    func testSystemTrustStoreDoesNotTrustTheTestCA() throws {
        let server = TLSEngine(context: try serverContext(), role: .server)
        let client = TLSEngine(context: try TLSContext.client(verify: true, caFile: nil), role: .client(serverName: "api.test"))
        let result = EnginePump.handshake(client: client, server: server)
        XCTAssertTrue(isCertificateFailure(result.client), "\(result.client)")
    }

    // MARK: Close

    func testCloseNotifyIsACleanClose() throws {
        let (client, server) = try connectedPair()
        client.shutdown()
        XCTAssertTrue(client.hasPendingCiphertext)
        EnginePump.transfer(from: client, to: server)
        var plaintext: [UInt8] = []
        XCTAssertEqual(server.read(into: &plaintext), .closed)
        server.receiveEndOfStream()
        XCTAssertEqual(server.read(into: &plaintext), .closed, "EOF after close_notify stays clean")
    }

    func testDataFollowedByCloseNotifyReturnsDataThenClosed() throws {
        let (client, server) = try connectedPair()
        XCTAssertTrue(Array("last words".utf8).withUnsafeBytes { client.write($0) })
        client.shutdown()
        EnginePump.transfer(from: client, to: server)
        var plaintext: [UInt8] = []
        XCTAssertEqual(server.read(into: &plaintext), .bytes(10))
        XCTAssertEqual(String(decoding: plaintext, as: UTF8.self), "last words")
        XCTAssertEqual(server.read(into: &plaintext), .closed)
    }

    func testEOFWithoutCloseNotifyIsUnclean() throws {
        let (_, server) = try connectedPair()
        var plaintext: [UInt8] = []
        XCTAssertEqual(server.read(into: &plaintext), .wantMoreCiphertext)
        server.receiveEndOfStream()
        XCTAssertEqual(server.read(into: &plaintext), .failed(.uncleanEOF))
    }

    func testEOFInsideARecordIsUnclean() throws {
        let (client, server) = try connectedPair()
        XCTAssertTrue(Array("truncated body".utf8).withUnsafeBytes { client.write($0) })
        var ciphertext: [UInt8] = []
        _ = client.drainCiphertext(into: &ciphertext)
        ciphertext[..<(ciphertext.count - 4)].withUnsafeBytes { server.receiveCiphertext($0) }
        server.receiveEndOfStream()
        var plaintext: [UInt8] = []
        XCTAssertEqual(server.read(into: &plaintext), .failed(.uncleanEOF))
        XCTAssertTrue(plaintext.isEmpty)
    }

    func testEOFDuringHandshakeIsUnclean() throws {
        let server = TLSEngine(context: try serverContext(), role: .server)
        let client = TLSEngine(context: try clientContext(), role: .client(serverName: "api.test"))
        XCTAssertEqual(client.handshake(), .incomplete)
        client.receiveEndOfStream()
        XCTAssertEqual(client.handshake(), .failed(.uncleanEOF))
        XCTAssertEqual(server.handshake(), .incomplete)
    }

    func testGarbageIsAProtocolErrorWithAnAlertToSend() throws {
        let server = TLSEngine(context: try serverContext(), role: .server)
        Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { server.receiveCiphertext($0) }
        guard case .failed(.protocolError) = server.handshake() else { return XCTFail("expected a protocol error") }
        XCTAssertFalse(Array("x".utf8).withUnsafeBytes { server.write($0) })
    }

    func testShutdownBeforeHandshakeIsHarmless() throws {
        let server = TLSEngine(context: try serverContext(), role: .server)
        server.shutdown()
        XCTAssertFalse(server.hasPendingCiphertext)
    }

    // MARK: Resumption

    /// Runs a first connection, lets the client process what came after the handshake (TLS 1.3
    /// tickets), and returns the saved session.
    /// The engines are freed without close_notify, as when a peer just closes the socket: the
    /// session must stay resumable.
    private func firstSession(server: TLSContext, client: TLSContext, serverName: String = "api.test") throws -> TLSSession {
        let (clientEngine, serverEngine) = try connectedPair(server: server, client: client, serverName: serverName)
        XCTAssertFalse(serverEngine.sessionReused)
        var plaintext: [UInt8] = []
        XCTAssertEqual(clientEngine.read(into: &plaintext), .wantMoreCiphertext)
        return try XCTUnwrap(clientEngine.resumableSession())
    }

    func testTLS13SessionTicketResumes() throws {
        let server = try serverContext()
        let client = try clientContext()
        let session = try firstSession(server: server, client: client)
        let serverEngine = TLSEngine(context: server, role: .server)
        let clientEngine = TLSEngine(context: client, role: .client(serverName: "api.test"), resuming: session)
        let result = EnginePump.handshake(client: clientEngine, server: serverEngine)
        XCTAssertEqual(result.client, .complete)
        XCTAssertEqual(result.server, .complete)
        XCTAssertTrue(serverEngine.sessionReused)
        XCTAssertTrue(clientEngine.sessionReused)
        XCTAssertEqual(serverEngine.protocolVersion, "TLSv1.3")
    }

    /// Tickets are sealed with the first context's keys even when SNI switched to another certificate.
    func testSessionResumesForASecondSNICertificate() throws {
        let server = try serverContext()
        let client = try clientContext()
        let session = try firstSession(server: server, client: client, serverName: "v1.legacy.test")
        let serverEngine = TLSEngine(context: server, role: .server)
        let clientEngine = TLSEngine(context: client, role: .client(serverName: "v1.legacy.test"), resuming: session)
        let result = EnginePump.handshake(client: clientEngine, server: serverEngine)
        XCTAssertEqual(result.client, .complete)
        XCTAssertTrue(serverEngine.sessionReused)
        XCTAssertEqual(clientEngine.peerCertificateSubject, "CN=legacy.test,O=errata")
    }

    func testTLS12SessionResumes() throws {
        let server = try serverContext()
        let client = try clientContext(maxVersion: .tls12)
        let session = try firstSession(server: server, client: client)
        let serverEngine = TLSEngine(context: server, role: .server)
        let clientEngine = TLSEngine(context: client, role: .client(serverName: "api.test"), resuming: session)
        _ = EnginePump.handshake(client: clientEngine, server: serverEngine)
        XCTAssertTrue(serverEngine.sessionReused)
        XCTAssertEqual(serverEngine.protocolVersion, "TLSv1.2")
    }

    func testMutualTLSSessionResumes() throws {
        let server = try serverContext(clientCA: true)
        let client = try clientContext(clientCertificate: certs.client)
        let session = try firstSession(server: server, client: client)
        let serverEngine = TLSEngine(context: server, role: .server)
        let clientEngine = TLSEngine(context: client, role: .client(serverName: "api.test"), resuming: session)
        let result = EnginePump.handshake(client: clientEngine, server: serverEngine)
        XCTAssertEqual(result.server, .complete)
        XCTAssertTrue(serverEngine.sessionReused)
        XCTAssertTrue(serverEngine.peerPresentedCertificate, "the resumed session keeps the client certificate")
    }

    func testSessionOfAnotherServerContextIsNotReused() throws {
        let client = try clientContext()
        let session = try firstSession(server: serverContext(), client: client)
        // A fresh context has fresh ticket keys: the ticket cannot be decrypted, a full handshake follows.
        let serverEngine = TLSEngine(context: try serverContext(), role: .server)
        let clientEngine = TLSEngine(context: client, role: .client(serverName: "api.test"), resuming: session)
        let result = EnginePump.handshake(client: clientEngine, server: serverEngine)
        XCTAssertEqual(result.server, .complete)
        XCTAssertFalse(serverEngine.sessionReused)
    }

    // MARK: Renegotiation

    func testRenegotiationIsRefused() throws {
        // A client that would renegotiate: our contexts set SSL_OP_NO_RENEGOTIATION, so clear it here.
        let willing = try clientContext(maxVersion: .tls12)
        _ = errata_SSL_CTX_clear_options(willing.primary, errata_SSL_OP_NO_RENEGOTIATION)
        let (client, server) = try connectedPair(client: willing)
        ERR_clear_error()
        XCTAssertEqual(SSL_renegotiate(client.ssl), 1)
        XCTAssertEqual(client.handshake(), .incomplete)
        XCTAssertGreaterThan(EnginePump.transfer(from: client, to: server), 0, "a new ClientHello went out")
        var plaintext: [UInt8] = []
        XCTAssertEqual(server.read(into: &plaintext), .wantMoreCiphertext, "the server declines without failing")
        XCTAssertTrue(server.hasPendingCiphertext, "the no_renegotiation alert")
        XCTAssertGreaterThan(EnginePump.transfer(from: server, to: client), 0)
        XCTAssertEqual(client.handshake(), .failed(.protocolError("no renegotiation")))

    }
}
