import HTTPTestClient
import XCTest
@testable import TLS

final class TLSContextTests: XCTestCase {
    private func contextError(_ build: () throws(TLSContextError) -> TLSContext) -> TLSContextError? {
        do {
            _ = try build()
            return nil
        } catch {
            return error
        }
    }

    func testServerContextLoadsRSAAndECDSACertificatesWithChain() throws {
        let certs = try TestCertificates.get()
        let context = try TLSContext.server(certificates: [certs.api, certs.legacy], minVersion: .tls12,
                                            alpn: ["h2", "http/1.1"], clientCAFile: nil)
        XCTAssertEqual(context.contexts.count, 2)
        XCTAssertEqual(context.leaves.count, 2)
    }

    func testMissingCertificateFileNamesTheFile() throws {
        let certs = try TestCertificates.get()
        let missing = certs.path("nope.pem")
        let error = contextError { () throws(TLSContextError) in
            try TLSContext.server(certificates: [(missing, certs.api.keyFile)], minVersion: .tls12, alpn: [], clientCAFile: nil)
        }
        XCTAssertEqual(error?.file, missing)
        XCTAssertEqual(error?.reason, "cannot read file: No such file or directory")
        XCTAssertEqual(error?.description, "\(missing): cannot read file: No such file or directory")
    }

    func testMissingKeyFileNamesTheKeyFile() throws {
        let certs = try TestCertificates.get()
        let missing = certs.path("nope.key")
        let error = contextError { () throws(TLSContextError) in
            try TLSContext.server(certificates: [(certs.api.certFile, missing)], minVersion: .tls12, alpn: [], clientCAFile: nil)
        }
        XCTAssertEqual(error?.file, missing)
        XCTAssertEqual(error?.reason.hasPrefix("cannot read file"), true)
    }

    func testNonPEMCertificateIsRejected() throws {
        let certs = try TestCertificates.get()
        let error = contextError { () throws(TLSContextError) in
            try TLSContext.server(certificates: [(certs.garbageFile, certs.api.keyFile)], minVersion: .tls12, alpn: [], clientCAFile: nil)
        }
        XCTAssertEqual(error?.file, certs.garbageFile)
        XCTAssertEqual(error?.reason.hasPrefix("not a PEM certificate"), true, error?.reason ?? "no error")
    }

    func testKeyFileGivenAsCertificateIsRejected() throws {
        let certs = try TestCertificates.get()
        let error = contextError { () throws(TLSContextError) in
            try TLSContext.server(certificates: [(certs.api.keyFile, certs.api.keyFile)], minVersion: .tls12, alpn: [], clientCAFile: nil)
        }
        XCTAssertEqual(error?.file, certs.api.keyFile)
        XCTAssertEqual(error?.reason.hasPrefix("not a PEM certificate"), true, error?.reason ?? "no error")
    }

    func testNonPEMKeyIsRejected() throws {
        let certs = try TestCertificates.get()
        let error = contextError { () throws(TLSContextError) in
            try TLSContext.server(certificates: [(certs.api.certFile, certs.garbageFile)], minVersion: .tls12, alpn: [], clientCAFile: nil)
        }
        XCTAssertEqual(error?.file, certs.garbageFile)
        XCTAssertEqual(error?.reason.hasPrefix("not a PEM private key"), true, error?.reason ?? "no error")
    }

    /// An encrypted key must fail to load, never block on a terminal passphrase prompt.
    func testEncryptedKeyFailsWithoutPrompting() throws {
        let certs = try TestCertificates.get()
        let error = contextError { () throws(TLSContextError) in
            try TLSContext.server(certificates: [(certs.api.certFile, certs.encryptedKeyFile)], minVersion: .tls12, alpn: [], clientCAFile: nil)
        }
        XCTAssertEqual(error?.file, certs.encryptedKeyFile)
        XCTAssertEqual(error?.reason.hasPrefix("not a PEM private key"), true, error?.reason ?? "no error")
    }

    func testKeyOfAnotherCertificateIsAMismatch() throws {
        let certs = try TestCertificates.get()
        // Same algorithm (ECDSA P-256) and different algorithm (RSA cert, ECDSA key).
        for (cert, key) in [(certs.legacy.certFile, certs.client.keyFile), (certs.api.certFile, certs.legacy.keyFile)] {
            let error = contextError { () throws(TLSContextError) in
                try TLSContext.server(certificates: [(cert, key)], minVersion: .tls12, alpn: [], clientCAFile: nil)
            }
            XCTAssertEqual(error?.file, key)
            XCTAssertEqual(error?.reason, "private key does not match the certificate")
        }
    }

    func testErrorInSecondCertificateNamesThatFile() throws {
        let certs = try TestCertificates.get()
        let error = contextError { () throws(TLSContextError) in
            try TLSContext.server(certificates: [certs.api, (certs.legacy.certFile, certs.api.keyFile)], minVersion: .tls12,
                                  alpn: [], clientCAFile: nil)
        }
        XCTAssertEqual(error?.file, certs.api.keyFile)
        XCTAssertEqual(error?.reason, "private key does not match the certificate")
    }

    func testNonPEMClientCAIsRejected() throws {
        let certs = try TestCertificates.get()
        let error = contextError { () throws(TLSContextError) in
            try TLSContext.server(certificates: [certs.api], minVersion: .tls12, alpn: [], clientCAFile: certs.garbageFile)
        }
        XCTAssertEqual(error?.file, certs.garbageFile)
        XCTAssertEqual(error?.reason.hasPrefix("not a PEM certificate bundle"), true, error?.reason ?? "no error")
    }

    func testMissingUpstreamCAFileIsRejected() throws {
        let certs = try TestCertificates.get()
        let missing = certs.path("missing-ca.pem")
        let error = contextError { () throws(TLSContextError) in try TLSContext.client(verify: true, caFile: missing) }
        XCTAssertEqual(error?.file, missing)
        XCTAssertEqual(error?.reason.hasPrefix("cannot read file"), true)
    }

    func testNoCertificatesIsAnError() {
        let error = contextError { () throws(TLSContextError) in
            try TLSContext.server(certificates: [], minVersion: .tls12, alpn: [], clientCAFile: nil)
        }
        XCTAssertNil(error?.file)
        XCTAssertEqual(error?.reason, "no certificates")
    }

    func testInvalidALPNNameIsAnError() throws {
        let certs = try TestCertificates.get()
        let error = contextError { () throws(TLSContextError) in
            try TLSContext.server(certificates: [certs.api], minVersion: .tls12, alpn: ["h2", ""], clientCAFile: nil)
        }
        XCTAssertEqual(error?.reason.hasPrefix("invalid ALPN protocol name"), true)
    }

    func testClientContextWithSystemTrustStoreBuilds() throws {
        let context = try TLSContext.client(verify: true, caFile: nil)
        XCTAssertTrue(context.verifiesPeer)
        XCTAssertFalse(context.isServer)
    }

    func testSNIPrefersExactNameOverWildcardAndFallsBackToFirst() throws {
        let certs = try TestCertificates.get()
        let context = try TLSContext.server(certificates: [certs.api, certs.legacy], minVersion: .tls12, alpn: [], clientCAFile: nil)
        XCTAssertEqual(context.certificateIndex(forServerName: "api.test"), 0)
        XCTAssertEqual(context.certificateIndex(forServerName: "legacy.test"), 1)
        XCTAssertEqual(context.certificateIndex(forServerName: "v1.legacy.test"), 1)
        XCTAssertEqual(context.certificateIndex(forServerName: "a.b.legacy.test"), 0) // wildcards cover one label
        XCTAssertEqual(context.certificateIndex(forServerName: "unknown.test"), 0)
    }
}
