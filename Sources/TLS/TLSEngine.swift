import CSSL

#if canImport(Glibc)
import Glibc
#endif

/// Why a TLS connection failed.
public enum TLSFailure: Sendable, Equatable {
    /// The peer's certificate did not verify (or, for an mTLS server, no certificate came).
    case certificate(String)
    /// Anything else TLS rejected: an alert from the peer, no common version or cipher, a malformed record.
    case protocolError(String)
    /// The transport ended without close_notify (a truncation, or a peer that just hung up).
    case uncleanEOF
}

public enum TLSHandshakeResult: Sendable, Equatable {
    case complete
    /// Needs more ciphertext from the peer (send what `drainCiphertext` has first).
    case incomplete
    case failed(TLSFailure)
}

public enum TLSReadResult: Sendable, Equatable {
    /// `n` plaintext bytes were appended. A close_notify or error that arrived behind them is
    /// returned by the next `read` call.
    case bytes(Int)
    /// Everything received has been decrypted; nothing new.
    case wantMoreCiphertext
    /// The peer sent close_notify: no more plaintext will come.
    case closed
    case failed(TLSFailure)
}

/// A saved client session, to resume a later connection to the same server with
/// `TLSEngine(context:role:resuming:)`. Owns one SSL_SESSION reference.
public final class TLSSession {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { SSL_SESSION_free(pointer) }
}

/// One TLS connection over memory BIOs; it never touches a socket. The owner moves ciphertext:
/// socket bytes in through `receiveCiphertext`, `drainCiphertext` out to the socket after every
/// call (handshake, read, write and shutdown can all produce ciphertext, e.g. alerts, tickets,
/// key-update replies).
///
/// Confined to one worker queue (not Sendable): the owner calls everything from that queue.
/// Holds its `TLSContext` alive; frees the SSL object and both BIOs on deinit.
public final class TLSEngine {
    public enum Role: Sendable, Equatable {
        case server
        /// `serverName`: sent as SNI (unless it is an IP address) and, when the context verifies,
        /// checked against the certificate (DNS name or IP address).
        case client(serverName: String?)
    }

    public let context: TLSContext
    public let role: Role
    let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    /// A failure (or close) seen after plaintext was already returned, reported by the next `read`.
    private var deferredReadResult: TLSReadResult?
    private var failure: TLSFailure?

    /// `resuming`: a session saved from an earlier connection (client role; ignored by servers).
    public init(context: TLSContext, role: Role, resuming session: TLSSession? = nil) {
        self.context = context
        self.role = role
        ERR_clear_error()
        guard let ssl = SSL_new(context.primary),
              let readBIO = BIO_new(BIO_s_mem()),
              let writeBIO = BIO_new(BIO_s_mem())
        else { fatalError("TLSEngine: OpenSSL out of memory: \(openSSLErrorReason())") }
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        // An empty read BIO means "retry later" until `receiveEndOfStream()`.
        _ = errata_BIO_set_mem_eof_return(readBIO, -1)
        SSL_set_bio(ssl, readBIO, writeBIO) // the SSL owns both BIOs from here
        switch role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client(let serverName):
            SSL_set_connect_state(ssl)
            if let serverName, !serverName.isEmpty {
                if !isIPAddress(serverName) { _ = errata_SSL_set_tlsext_host_name(ssl, serverName) }
                if context.verifiesPeer {
                    ERR_clear_error()
                    // SSL_set1_host takes an IP literal as an IP address to match.
                    if SSL_set1_host(ssl, serverName) != 1 { ERR_clear_error() }
                }
            }
            if let session {
                ERR_clear_error()
                if SSL_set_session(ssl, session.pointer) != 1 { ERR_clear_error() }
            }
        }
    }

    deinit {
        // SSL_free of a connection that never sent close_notify evicts its session from the
        // cache and marks it unresumable. Most peers just close the socket; keep the session of
        // a connection that ended without a TLS failure (OpenSSL already drops it after one).
        if failure == nil && isHandshakeComplete {
            SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN)
        }
        SSL_free(ssl) // frees both BIOs too
    }

    /// Ciphertext from the socket. Memory BIOs accept everything.
    public func receiveCiphertext(_ bytes: UnsafeRawBufferPointer) {
        guard var base = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let chunk = Int32(min(remaining, Int(Int32.max)))
            ERR_clear_error()
            let written = BIO_write(readBIO, base, chunk)
            guard written > 0 else { return }
            base += Int(written)
            remaining -= Int(written)
        }
    }

    /// The socket reached EOF: no more ciphertext will come. The next `read` or `handshake`
    /// reports `.closed` if a close_notify came, `.failed(.uncleanEOF)` otherwise.
    public func receiveEndOfStream() {
        _ = errata_BIO_set_mem_eof_return(readBIO, 0)
    }

    /// Advances the handshake with the ciphertext received so far. Call after each
    /// `receiveCiphertext` until `.complete` or `.failed`, draining ciphertext after each call
    /// (a failure usually leaves an alert to send). Returns `.complete` again once complete.
    public func handshake() -> TLSHandshakeResult {
        if let failure { return .failed(failure) }
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 { return .complete }
        let code = SSL_get_error(ssl, rc)
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .incomplete
        default:
            let failure = classify(code)
            self.failure = failure
            return .failed(failure)
        }
    }

    /// Decrypts everything received so far, appending plaintext to `out`. Drains SSL_read
    /// until it wants more ciphertext, so no decrypted bytes stay hidden inside SSL (the socket
    /// would not become readable again for them).
    public func read(into out: inout [UInt8]) -> TLSReadResult {
        if let deferred = deferredReadResult {
            if case .closed = deferred {} else { deferredReadResult = nil }
            return deferred
        }
        if let failure { return .failed(failure) }
        var total = 0
        while true {
            var got = 0
            ERR_clear_error()
            // One record's worth at a time through a scratch buffer: no zero-filling of `out`.
            let rc = withUnsafeTemporaryAllocation(byteCount: TLSEngine.recordSize, alignment: 1) { buffer in
                let rc = SSL_read_ex(ssl, buffer.baseAddress!, buffer.count, &got)
                if rc == 1 { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<got])) }
                return rc
            }
            if rc == 1 {
                total += got
                // Nothing buffered in SSL or the BIO: another SSL_read would only say WANT_READ.
                if SSL_has_pending(ssl) == 0 && errata_BIO_pending(readBIO) == 0 { return .bytes(total) }
                continue
            }
            let code = SSL_get_error(ssl, 0)
            let end: TLSReadResult
            switch code {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return total > 0 ? .bytes(total) : .wantMoreCiphertext
            case SSL_ERROR_ZERO_RETURN:
                ERR_clear_error()
                end = .closed
            default:
                let failure = classify(code)
                self.failure = failure
                end = .failed(failure)
            }
            if total > 0 {
                deferredReadResult = end
                return .bytes(total)
            }
            if case .closed = end { deferredReadResult = end }
            return end
        }
    }

    /// Encrypts all of `plaintext` into the write BIO (which always accepts it). Call only once
    /// the handshake is complete. Returns false on a fatal error (the connection is unusable).
    public func write(_ plaintext: UnsafeRawBufferPointer) -> Bool {
        guard failure == nil else { return false }
        guard let base = plaintext.baseAddress, plaintext.count > 0 else { return true }
        var written = 0
        ERR_clear_error()
        let rc = SSL_write_ex(ssl, base, plaintext.count, &written)
        if rc == 1, written == plaintext.count { return true }
        let code = SSL_get_error(ssl, rc)
        if code != SSL_ERROR_WANT_READ && code != SSL_ERROR_WANT_WRITE { failure = classify(code) } else { ERR_clear_error() }
        return false
    }

    /// Moves the pending ciphertext out of the write BIO, appending it to `out`. Returns the
    /// number of bytes appended.
    public func drainCiphertext(into out: inout [UInt8]) -> Int {
        var total = 0
        while errata_BIO_pending(writeBIO) > 0 {
            var moved = 0
            ERR_clear_error()
            let rc = withUnsafeTemporaryAllocation(byteCount: 4 * TLSEngine.recordSize, alignment: 1) { buffer in
                let rc = BIO_read_ex(writeBIO, buffer.baseAddress!, buffer.count, &moved)
                if rc == 1 { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<moved])) }
                return rc
            }
            guard rc == 1, moved > 0 else { break }
            total += moved
        }
        return total
    }

    /// The largest TLS record's plaintext.
    static let recordSize = 16_384

    public var hasPendingCiphertext: Bool { errata_BIO_pending(writeBIO) > 0 }

    /// Queues close_notify (drain and send it, then close the socket). Bounded: one
    /// SSL_shutdown call that never waits for the peer's close_notify.
    public func shutdown() {
        guard SSL_is_init_finished(ssl) == 1 else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    public var isHandshakeComplete: Bool { SSL_is_init_finished(ssl) == 1 }

    /// The ALPN protocol both sides agreed on, nil when none.
    public var negotiatedALPN: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The SNI name the client sent (server role), or the one this client sends.
    public var serverNameRequested: String? {
        guard let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return nil }
        return String(cString: name)
    }

    public var peerPresentedCertificate: Bool { SSL_get0_peer_certificate(ssl) != nil }

    /// The peer certificate's subject in RFC 2253 form (e.g. "CN=api.test,O=errata"), nil without one.
    public var peerCertificateSubject: String? {
        guard let cert = SSL_get0_peer_certificate(ssl), let name = X509_get_subject_name(cert),
              let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, errata_XN_FLAG_RFC2253) >= 0 else { return nil }
        var out: [UInt8] = []
        let count = Int(errata_BIO_pending(bio))
        out = [UInt8](repeating: 0, count: count)
        _ = out.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(count)) }
        return String(decoding: out, as: UTF8.self)
    }

    /// "TLSv1.2" or "TLSv1.3" once the handshake is complete, nil before.
    public var protocolVersion: String? {
        guard isHandshakeComplete, let version = SSL_get_version(ssl) else { return nil }
        return String(cString: version)
    }

    /// The negotiated cipher suite's OpenSSL name once the handshake is complete.
    public var cipherName: String? {
        guard isHandshakeComplete, let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) else { return nil }
        return String(cString: name)
    }

    /// Whether this connection resumed an earlier session (ticket or server cache).
    public var sessionReused: Bool { SSL_session_reused(ssl) == 1 }

    /// The session to resume a later connection with (client role), nil when none is resumable.
    /// Under TLS 1.3 the server's tickets arrive after the handshake: call this after `read`
    /// has processed them.
    public func resumableSession() -> TLSSession? {
        guard let session = SSL_get1_session(ssl) else { return nil }
        guard SSL_SESSION_is_resumable(session) == 1 else {
            SSL_SESSION_free(session)
            return nil
        }
        return TLSSession(taking: session)
    }

    /// Turns an SSL_get_error code (and the error queue) into a failure; clears the queue.
    private func classify(_ code: Int32) -> TLSFailure {
        defer { ERR_clear_error() }
        let error = ERR_peek_error()
        let reason = errata_ERR_GET_REASON(error)
        if code == SSL_ERROR_SYSCALL && error == 0 { return .uncleanEOF }
        if reason == SSL_R_UNEXPECTED_EOF_WHILE_READING { return .uncleanEOF }
        let verifyResult = SSL_get_verify_result(ssl)
        if verifyResult != X509_V_OK, reason == SSL_R_CERTIFICATE_VERIFY_FAILED || error == 0 {
            return .certificate(String(cString: X509_verify_cert_error_string(verifyResult)))
        }
        if reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE { return .certificate("peer did not return a certificate") }
        if reason == SSL_R_CERTIFICATE_VERIFY_FAILED { return .certificate("certificate verify failed") }
        if error != 0, let text = ERR_reason_error_string(error) { return .protocolError(String(cString: text)) }
        return .protocolError("SSL error \(code)")
    }
}

private func isIPAddress(_ name: String) -> Bool {
    var v4 = in_addr()
    var v6 = in6_addr()
    return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
}
