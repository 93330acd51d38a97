import CSSL

#if canImport(Glibc)
import Glibc
#endif

/// Why a TLS context could not be built: which file (when a file is to blame) and what is wrong
/// with it. The config layer prefixes the JSON path.
public struct TLSContextError: Error, Sendable, CustomStringConvertible {
    public var file: String?
    public var reason: String

    public init(file: String?, reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String {
        if let file { return "\(file): \(reason)" }
        return reason
    }
}

/// The lowest protocol version a context accepts.
public enum TLSMinimumVersion: Sendable {
    case tls12, tls13

    var wireValue: Int32 {
        switch self {
        case .tls12: return TLS1_2_VERSION
        case .tls13: return TLS1_3_VERSION
        }
    }
}

/// The highest protocol version a client context offers.
public enum TLSMaximumVersion: Sendable {
    case tls12, tls13

    var wireValue: Int32 {
        switch self {
        case .tls12: return TLS1_2_VERSION
        case .tls13: return TLS1_3_VERSION
        }
    }
}

/// An immutable SSL_CTX from which any worker creates `TLSEngine`s.
///
/// `@unchecked Sendable` because every stored property is immutable after `init` and the
/// SSL_CTXs are never mutated afterwards: OpenSSL locks an SSL_CTX internally for what
/// `SSL_new` and handshakes touch (reference counts, the session cache, ticket keys), so
/// creating engines from it on several worker queues at once is safe. The SNI and ALPN
/// callbacks only read this object.
///
/// Memory: owns the SSL_CTXs (one per server certificate; the first is the one engines start
/// with, SNI may switch an engine to another) and the ALPN wire list the ALPN callback hands
/// to OpenSSL, so both outlive every engine (each engine holds a strong reference).
public final class TLSContext: @unchecked Sendable {
    /// The context engines are created from (certificate 0 for servers).
    let primary: OpaquePointer
    /// Server: one context per certificate, index-aligned with `leaves`; `contexts[0] == primary`.
    let contexts: [OpaquePointer]
    /// Server: each certificate's leaf, owned by its SSL_CTX.
    let leaves: [OpaquePointer]
    /// Server: ALPN protocols in wire format (length-prefixed), in preference order.
    let alpnWire: UnsafeMutableBufferPointer<UInt8>
    let isServer: Bool
    /// Client: whether peer verification (and hostname checking) is on.
    let verifiesPeer: Bool

    private init(contexts: [CTXHandle], leaves: [OpaquePointer], alpn: [UInt8], isServer: Bool, verifiesPeer: Bool) {
        // Ownership of the SSL_CTXs moves from the handles to self.
        self.contexts = contexts.map { $0.release() }
        self.primary = self.contexts[0]
        self.leaves = leaves
        self.alpnWire = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(alpn.count, 1))
        _ = self.alpnWire.initialize(from: alpn)
        self.isServer = isServer
        self.verifiesPeer = verifiesPeer
        guard isServer else { return }
        let me = Unmanaged.passUnretained(self).toOpaque()
        errata_SSL_CTX_set_tlsext_servername_callback(primary, serverNameCallback)
        errata_SSL_CTX_set_tlsext_servername_arg(primary, me)
        if !alpn.isEmpty {
            // After SNI switches an engine's SSL_CTX, OpenSSL asks the new context for ALPN.
            for ctx in self.contexts { SSL_CTX_set_alpn_select_cb(ctx, alpnSelectCallback, me) }
        }
    }

    deinit {
        for ctx in contexts { SSL_CTX_free(ctx) }
        alpnWire.deallocate()
    }

    /// A server context.
    ///
    /// - `certificates`: PEM files; `certFile` holds the leaf first, then intermediates; keys
    ///   RSA or ECDSA (unencrypted). `certificates[0]` is served when SNI is absent or matches
    ///   no certificate; otherwise the first certificate whose subjectAltName DNS names match
    ///   the SNI exactly, else the first matching through a wildcard.
    /// - `alpn`: the server picks the first of these the client offers; no overlap means no
    ///   ALPN (the connection goes on, HTTP/1.1 implied). Empty: ALPN not negotiated.
    /// - `clientCAFile`: non-nil requires a client certificate that verifies against it (mTLS).
    ///
    /// TLS 1.2 uses ECDHE with AEAD ciphers only; renegotiation and compression are off;
    /// resumption works through tickets and a server-side session cache.
    public static func server(certificates: [(certFile: String, keyFile: String)], minVersion: TLSMinimumVersion,
                              alpn: [String], clientCAFile: String?) throws(TLSContextError) -> TLSContext {
        guard !certificates.isEmpty else { throw TLSContextError(file: nil, reason: "no certificates") }
        let wire = try alpnWireFormat(alpn)
        var handles: [CTXHandle] = []
        var leaves: [OpaquePointer] = []
        for (certFile, keyFile) in certificates {
            let handle = try CTXHandle(server: true)
            try handle.configureCommon(minVersion: minVersion, maxVersion: nil)
            try handle.configureServer()
            try handle.loadCertificate(certFile: certFile, keyFile: keyFile)
            if let clientCAFile { try handle.requireClientCertificates(caFile: clientCAFile) }
            guard let leaf = SSL_CTX_get0_certificate(handle.ctx) else {
                throw TLSContextError(file: certFile, reason: "not a PEM certificate")
            }
            handles.append(handle)
            leaves.append(leaf)
        }
        return TLSContext(contexts: handles, leaves: leaves, alpn: wire, isServer: true, verifiesPeer: clientCAFile != nil)
    }

    /// A client context for upstream connections.
    ///
    /// `verify` on: the server's chain must verify against `caFile` (PEM bundle) or, when nil,
    /// the system store; engines also check the host name they are given. ALPN offers `alpn`
    /// (`http/1.1` unless told otherwise). `maxVersion` caps the version offered (nil: TLS 1.3).
    /// `clientCertificate` is presented when the server asks for one.
    public static func client(verify: Bool, caFile: String?, minVersion: TLSMinimumVersion = .tls12,
                              maxVersion: TLSMaximumVersion? = nil, alpn: [String] = ["http/1.1"],
                              clientCertificate: (certFile: String, keyFile: String)? = nil) throws(TLSContextError) -> TLSContext {
        let wire = try alpnWireFormat(alpn)
        let handle = try CTXHandle(server: false)
        try handle.configureCommon(minVersion: minVersion, maxVersion: maxVersion)
        if verify {
            try handle.loadTrustStore(caFile: caFile)
            SSL_CTX_set_verify(handle.ctx, SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(handle.ctx, SSL_VERIFY_NONE, nil)
        }
        if !wire.isEmpty {
            ERR_clear_error()
            // Returns 0 on success (unlike most of the API).
            guard SSL_CTX_set_alpn_protos(handle.ctx, wire, UInt32(wire.count)) == 0 else {
                throw TLSContextError(file: nil, reason: "cannot set ALPN protocols: \(openSSLErrorReason())")
            }
        }
        if let clientCertificate {
            try handle.loadCertificate(certFile: clientCertificate.certFile, keyFile: clientCertificate.keyFile)
        }
        return TLSContext(contexts: [handle], leaves: [], alpn: wire, isServer: false, verifiesPeer: verify)
    }

    /// The index of the certificate to serve for an SNI name.
    func certificateIndex(forServerName name: String) -> Int {
        let exact = leaves.firstIndex { leaf in
            X509_check_host(leaf, name, name.utf8.count, UInt32(X509_CHECK_FLAG_NO_WILDCARDS), nil) == 1
        }
        if let exact { return exact }
        return leaves.firstIndex { leaf in X509_check_host(leaf, name, name.utf8.count, 0, nil) == 1 } ?? 0
    }

    /// Picks the server's protocol: its first one the client offered. Returns the offset and
    /// length of the name inside `alpnWire`, or nil for no overlap.
    func selectALPN(clientOffer: UnsafeBufferPointer<UInt8>) -> (offset: Int, length: Int)? {
        var s = 0
        while s < alpnWire.count {
            let sLen = Int(alpnWire[s])
            var c = 0
            while c < clientOffer.count {
                let cLen = Int(clientOffer[c])
                if cLen == 0 || c + 1 + cLen > clientOffer.count { return nil } // malformed offer
                if cLen == sLen && memcmp(alpnWire.baseAddress! + s + 1, clientOffer.baseAddress! + c + 1, sLen) == 0 {
                    return (s + 1, sLen)
                }
                c += 1 + cLen
            }
            s += 1 + sLen
        }
        return nil
    }
}

/// SNI: switches the engine to the SSL_CTX whose certificate matches the requested name.
private let serverNameCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = { ssl, _, arg in
    guard let ssl, let arg, let cName = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return SSL_TLSEXT_ERR_OK }
    let context = Unmanaged<TLSContext>.fromOpaque(arg).takeUnretainedValue()
    let index = context.certificateIndex(forServerName: String(cString: cName))
    if index != 0 { SSL_set_SSL_CTX(ssl, context.contexts[index]) }
    return SSL_TLSEXT_ERR_OK
}

/// ALPN: the server's preference wins; `out` points into the context's wire list.
private let alpnSelectCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
                                                UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?) -> Int32 = { _, out, outLength, offer, offerLength, arg in
    guard let out, let outLength, let offer, let arg else { return SSL_TLSEXT_ERR_NOACK }
    let context = Unmanaged<TLSContext>.fromOpaque(arg).takeUnretainedValue()
    guard let chosen = context.selectALPN(clientOffer: UnsafeBufferPointer(start: offer, count: Int(offerLength))) else {
        return SSL_TLSEXT_ERR_NOACK
    }
    out.pointee = UnsafePointer(context.alpnWire.baseAddress! + chosen.offset)
    outLength.pointee = UInt8(chosen.length)
    return SSL_TLSEXT_ERR_OK
}

/// Never prompts for a passphrase on the terminal: encrypted keys simply fail to load.
private let noPassphraseCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = { _, _, _, _ in 0 }

private func alpnWireFormat(_ protocols: [String]) throws(TLSContextError) -> [UInt8] {
    var wire: [UInt8] = []
    for name in protocols {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 255 else {
            throw TLSContextError(file: nil, reason: "invalid ALPN protocol name \"\(name)\"")
        }
        wire.append(UInt8(bytes.count))
        wire += bytes
    }
    return wire
}

/// The reason of the oldest queued OpenSSL error (and clears the queue).
func openSSLErrorReason() -> String {
    let code = ERR_peek_error()
    defer { ERR_clear_error() }
    guard code != 0 else { return "unknown error" }
    if let reason = ERR_reason_error_string(code) { return String(cString: reason) }
    return "error \(code)"
}

/// An SSL_CTX under construction, freed if building the context throws.
private final class CTXHandle {
    private(set) var ctx: OpaquePointer
    private var owned = true

    init(server: Bool) throws(TLSContextError) {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()) else {
            throw TLSContextError(file: nil, reason: "cannot create SSL_CTX: \(openSSLErrorReason())")
        }
        self.ctx = ctx
    }

    deinit { if owned { SSL_CTX_free(ctx) } }

    func release() -> OpaquePointer {
        owned = false
        return ctx
    }

    func configureCommon(minVersion: TLSMinimumVersion, maxVersion: TLSMaximumVersion?) throws(TLSContextError) {
        ERR_clear_error()
        guard errata_SSL_CTX_set_min_proto_version(ctx, minVersion.wireValue) == 1 else {
            throw TLSContextError(file: nil, reason: "cannot set minimum TLS version: \(openSSLErrorReason())")
        }
        if let maxVersion, errata_SSL_CTX_set_max_proto_version(ctx, maxVersion.wireValue) != 1 {
            throw TLSContextError(file: nil, reason: "cannot set maximum TLS version: \(openSSLErrorReason())")
        }
        _ = errata_SSL_CTX_set_options(ctx, errata_SSL_OP_NO_RENEGOTIATION | errata_SSL_OP_NO_COMPRESSION)
        // An EOF without close_notify must be reported (truncation), not taken for a clean close.
        _ = errata_SSL_CTX_clear_options(ctx, errata_SSL_OP_IGNORE_UNEXPECTED_EOF)
        // Idle connections give their 34 KiB of record buffers back.
        _ = errata_SSL_CTX_set_mode(ctx, errata_SSL_MODE_RELEASE_BUFFERS)
        SSL_CTX_set_default_passwd_cb(ctx, noPassphraseCallback)
    }

    func configureServer() throws(TLSContextError) {
        ERR_clear_error()
        let tls12Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
            + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
        guard SSL_CTX_set_cipher_list(ctx, tls12Ciphers) == 1 else {
            throw TLSContextError(file: nil, reason: "cannot set ciphers: \(openSSLErrorReason())")
        }
        guard errata_SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") == 1 else {
            throw TLSContextError(file: nil, reason: "cannot set key exchange groups: \(openSSLErrorReason())")
        }
        _ = errata_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_SERVER))
        // Sessions are only resumable (and with client verification only allowed) under a
        // session id context; the same on every per-certificate context so SNI switches keep it.
        let sessionContext = Array("errata".utf8)
        guard SSL_CTX_set_session_id_context(ctx, sessionContext, UInt32(sessionContext.count)) == 1 else {
            throw TLSContextError(file: nil, reason: "cannot set session id context: \(openSSLErrorReason())")
        }
    }

    func loadCertificate(certFile: String, keyFile: String) throws(TLSContextError) {
        try checkReadable(certFile)
        try checkReadable(keyFile)
        ERR_clear_error()
        guard SSL_CTX_use_certificate_chain_file(ctx, certFile) == 1 else {
            throw TLSContextError(file: certFile, reason: "not a PEM certificate (\(openSSLErrorReason()))")
        }
        ERR_clear_error()
        guard SSL_CTX_use_PrivateKey_file(ctx, keyFile, SSL_FILETYPE_PEM) == 1 else {
            let detail = openSSLErrorReason()
            if detail == "key values mismatch" {
                throw TLSContextError(file: keyFile, reason: "private key does not match the certificate")
            }
            throw TLSContextError(file: keyFile, reason: "not a PEM private key, or encrypted (\(detail))")
        }
        ERR_clear_error()
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            ERR_clear_error()
            throw TLSContextError(file: keyFile, reason: "private key does not match the certificate")
        }
    }

    func requireClientCertificates(caFile: String) throws(TLSContextError) {
        try loadTrustStore(caFile: caFile)
        ERR_clear_error()
        guard let names = SSL_load_client_CA_file(caFile) else {
            throw TLSContextError(file: caFile, reason: "not a PEM certificate bundle (\(openSSLErrorReason()))")
        }
        SSL_CTX_set_client_CA_list(ctx, names)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
    }

    /// `caFile` (PEM bundle), or the system store when nil.
    func loadTrustStore(caFile: String?) throws(TLSContextError) {
        ERR_clear_error()
        if let caFile {
            try checkReadable(caFile)
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                throw TLSContextError(file: caFile, reason: "not a PEM certificate bundle (\(openSSLErrorReason()))")
            }
        } else {
            guard SSL_CTX_set_default_verify_paths(ctx) == 1 else {
                throw TLSContextError(file: nil, reason: "cannot load the system trust store: \(openSSLErrorReason())")
            }
        }
    }

    private func checkReadable(_ path: String) throws(TLSContextError) {
        guard let file = fopen(path, "r") else {
            throw TLSContextError(file: path, reason: "cannot read file: \(String(cString: strerror(errno)))")
        }
        fclose(file)
    }
}
