import EventLoop

/// A downstream connection in a worker's registry, whatever its protocol (HTTP/1.1 or HTTP/2),
/// or a connection whose protocol is not chosen yet (a TLS handshake, a plain sniffer). Confined to the worker's queue.
protocol ClientConnection: AnyObject {
    /// Closes the connection if no request is in progress on it (drain). A busy one closes
    /// after its response(s).
    func closeIfIdle()
    /// Closes now, whatever is in flight (the end of a drain, stop).
    func closeNow()
}

/// Which protocol driver serves a new client connection: the one place that decides.
enum ProtocolSelector {
    /// The application protocols this build serves, in preference order, as ALPN names. A TLS
    /// listener offers the configured `alpn` list filtered through this.
    static let servedALPN: [String] = ["h2", "http/1.1"]

    /// The configured ALPN list of a listener, without what this build cannot serve.
    static func offeredALPN(configured: [String]) -> [String] {
        configured.filter { servedALPN.contains($0) }
    }

    enum Driver: Equatable { case http1, http2 }

    /// The driver for a connection: on a TLS listener the ALPN result decides (none agreed:
    /// HTTP/1.1, as clients without ALPN expect); on a plain listener `plaintextDriver` decides
    /// from the first bytes.
    static func driver(alpn: String?) -> Driver {
        switch alpn {
        case "h2": return .http2
        default: return .http1
        }
    }

    /// The HTTP/2 client connection preface (RFC 9113 §3.4).
    static let h2cPreface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// The driver for a plain listener from the first bytes a client sent: HTTP/2 (prior
    /// knowledge) when they are the 24-byte preface, HTTP/1.1 as soon as one byte differs from
    /// it, nil while they are a proper prefix of it (wait for more).
    static func plaintextDriver(firstBytes bytes: UnsafeRawBufferPointer) -> Driver? {
        for (i, byte) in bytes.prefix(h2cPreface.count).enumerated() where byte != h2cPreface[i] {
            return .http1
        }
        return bytes.count >= h2cPreface.count ? .http2 : nil
    }
}
