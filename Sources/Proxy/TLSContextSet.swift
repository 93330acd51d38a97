import ProxyConfig
import TLS

/// The TLS contexts of one config snapshot: one server context per TLS listener and one client
/// context per TLS upstream. Built once per snapshot, off the workers (it reads PEM files); a
/// reload builds a new set, so new connections get the new certificates while open ones keep
/// the contexts their engines hold.
public struct TLSContextSet: Sendable {
    /// Index-aligned with `snapshot.listeners`; nil for a plain listener.
    public let listeners: [TLSContext?]
    /// By upstream name; absent for a plain upstream.
    public let upstreams: [String: TLSContext]

    /// Builds every context of `snapshot`. A certificate that does not parse, a key that does
    /// not match, or a file that cannot be read is a problem naming the JSON path and the file
    /// (`listeners[0].tls.certificates[1].key: /etc/errata/b.key: …`).
    public static func build(_ snapshot: ConfigSnapshot) -> Result<TLSContextSet, ConfigErrors> {
        var problems: [ConfigErrors.Problem] = []
        var listeners: [TLSContext?] = []
        for (index, listener) in snapshot.listeners.enumerated() {
            guard let tls = listener.tls else {
                listeners.append(nil)
                continue
            }
            do {
                listeners.append(try serverContext(tls))
            } catch {
                listeners.append(nil)
                problems.append(.init(path: "listeners[\(index)].tls" + listenerPath(of: error.file, in: tls),
                                      message: error.description))
            }
        }
        var upstreams: [String: TLSContext] = [:]
        for (name, upstream) in snapshot.upstreams.sorted(by: { $0.key < $1.key }) {
            guard let tls = upstream.tls else { continue }
            do {
                upstreams[name] = try clientContext(tls)
            } catch {
                problems.append(.init(path: "upstreams.\(name).tls" + (tls.ca != nil && error.file == tls.ca ? ".ca" : ""),
                                      message: error.description))
            }
        }
        if !problems.isEmpty { return .failure(ConfigErrors(problems: problems)) }
        return .success(TLSContextSet(listeners: listeners, upstreams: upstreams))
    }

    static func serverContext(_ tls: ListenerTLSConfig) throws(TLSContextError) -> TLSContext {
        try TLSContext.server(certificates: tls.certificates.map { ($0.cert, $0.key) },
                              minVersion: tls.minVersion == .tls13 ? .tls13 : .tls12,
                              alpn: ProtocolSelector.offeredALPN(configured: tls.alpn),
                              clientCAFile: tls.clientCA)
    }

    /// Verifies against `ca`, else OpenSSL's default paths (on Debian the system store,
    /// /etc/ssl/certs/ca-certificates.crt, from the ca-certificates package).
    static func clientContext(_ tls: UpstreamTLSConfig) throws(TLSContextError) -> TLSContext {
        try TLSContext.client(verify: tls.verify, caFile: tls.verify ? tls.ca : nil)
    }

    /// The JSON path below `listeners[i].tls` of the entry that names `file`.
    private static func listenerPath(of file: String?, in tls: ListenerTLSConfig) -> String {
        guard let file else { return "" }
        for (i, certificate) in tls.certificates.enumerated() {
            if certificate.cert == file { return ".certificates[\(i)].cert" }
            if certificate.key == file { return ".certificates[\(i)].key" }
        }
        return tls.clientCA == file ? ".client_ca" : ""
    }
}
