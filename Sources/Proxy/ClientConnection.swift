import EventLoop

/// A downstream connection in a worker's registry, whatever its protocol (HTTP/1.1 today,
/// HTTP/2 beside it), or a TLS connection still in its handshake. Confined to the worker's queue.
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
    /// listener offers the configured `alpn` list filtered through this; the HTTP/2 driver's
    /// merge adds "h2" here.
    static let servedALPN: [String] = ["http/1.1"]

    /// The configured ALPN list of a listener, without what this build cannot serve.
    static func offeredALPN(configured: [String]) -> [String] {
        configured.filter { servedALPN.contains($0) }
    }

    enum Driver: Equatable { case http1 }

    /// The driver for a connection: on a TLS listener the ALPN result decides (none agreed:
    /// HTTP/1.1, as clients without ALPN expect); on a plain listener HTTP/1.1 (h2c preface
    /// detection goes here).
    static func driver(alpn: String?) -> Driver {
        switch alpn {
        default: return .http1
        }
    }
}
