#if canImport(Glibc)
import Glibc
#endif
import ErrorNormalizer
import Foundation
import HTTP2TestClient
import HTTPTestClient
import LegacyDemo
import Logging
import Proxy
import ProxyConfig
import ProxyModel
import RateLimit
import Router
import XCTest

/// A live errata on an ephemeral loopback port, built from a snapshot in process.
final class ProxyHarness {
    let server: ProxyServer
    let port: Int

    init(upstreams: [UpstreamConfig], routes: [Route], limits: LimitsConfig = LimitsConfig(),
         timeouts: ClientTimeouts = ClientTimeouts(), trustedProxies: [String] = [],
         errors: ErrorsConfig = ErrorsConfig(), rateLimits: [String: RateLimitPolicy] = [:],
         dialects: [String: Dialect] = [:], workers: Int = 2, accessLogFD: Int32 = -1, admin: Bool = false,
         listenerTLS: ListenerTLSConfig? = nil, rateLimitStore: RateLimitStoreConfig? = nil,
         log: Logger = Logger(label: "errata", factory: { _ in SwiftLogNoOpLogHandler() })) throws {
        let snapshot = ConfigSnapshot(
            listeners: [ListenerConfig(address: HostPort(host: "127.0.0.1", port: 0), tls: listenerTLS)],
            admin: admin ? HostPort(host: "127.0.0.1", port: 0) : nil,
            upstreams: Dictionary(uniqueKeysWithValues: upstreams.map { ($0.name, $0) }),
            routes: RouteTable(routes), rateLimits: rateLimits, dialects: dialects, errors: errors, limits: limits, timeouts: timeouts,
            trustedProxies: trustedProxies.compactMap { AddressRange($0) }, workers: workers, rateLimitStore: rateLimitStore)
        server = ProxyServer(config: RuntimeConfig.resolving(snapshot), accessLogFD: accessLogFD, log: log)
        try server.start()
        port = server.firstPort
    }

    /// One upstream `name` with a server per port on 127.0.0.1.
    static func upstream(_ name: String, ports: [Int], timeouts: UpstreamTimeouts = UpstreamTimeouts(),
                         maxConnections: Int = 256, maxIdle: Int = 64,
                         passiveHealth: PassiveHealth = PassiveHealth(), tls: UpstreamTLSConfig? = nil) -> UpstreamConfig {
        UpstreamConfig(name: name, servers: ports.map { HostPort(host: "127.0.0.1", port: $0) }, tls: tls,
                       maxConnections: maxConnections, maxIdleConnections: maxIdle, timeouts: timeouts,
                       passiveHealth: passiveHealth)
    }

    /// A proxy with one catch-all route to one upstream server.
    convenience init(upstreamPort: Int, upstreamTimeouts: UpstreamTimeouts = UpstreamTimeouts(),
                     limits: LimitsConfig = LimitsConfig(), timeouts: ClientTimeouts = ClientTimeouts(),
                     accessLogFD: Int32 = -1, listenerTLS: ListenerTLSConfig? = nil, upstreamTLS: UpstreamTLSConfig? = nil) throws {
        try self.init(upstreams: [ProxyHarness.upstream("app", ports: [upstreamPort], timeouts: upstreamTimeouts, tls: upstreamTLS)],
                      routes: [Route(name: "all", upstream: "app")], limits: limits, timeouts: timeouts,
                      accessLogFD: accessLogFD, listenerTLS: listenerTLS)
    }

    func client(timeoutMilliseconds: Int = 10_000) throws -> RawHTTPClient {
        try RawHTTPClient(port: port, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// A plain GET through a new connection; the proxy must still serve it after bad input.
    func assertHealthy(path: String = "/", file: StaticString = #filePath, line: UInt = #line) {
        do {
            let response = try client().exchange("GET \(path) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            XCTAssertLessThan(response.status, 500, "proxy unhealthy: \(response.status) \(response.bodyText)",
                              file: file, line: line)
        } catch {
            XCTFail("proxy unhealthy: \(error)", file: file, line: line)
        }
    }

    deinit { server.stop() }
}

/// A port nothing listens on (bound, then closed).
func closedPort() -> Int { unusedLoopbackPort() }

/// A loopback port where a connect never completes: a listener with a backlog of 0 whose accept
/// queue is filled by connections nobody accepts, so the kernel drops every further SYN (Linux
/// counts them as ListenOverflows) and the connecting side waits for its own timeout.
/// `close()` releases the listener and the fillers.
final class BlackholeListener {
    let port: Int
    private var fds: [Int32] = []

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 0) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        fds.append(listener)
        // Two fillers: one sits in the accept queue (full at 1 with backlog 0), the next one's SYN is
        // already dropped; non-blocking so the second does not wait here.
        for _ in 0..<2 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) }
            }
            fds.append(filler)
            usleep(50_000)
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        for fd in fds { Glibc.close(fd) }
        fds.removeAll()
    }

    deinit { close() }
}

extension RawResponse {
    /// The canonical error body's fields, or nil when the body is not that shape.
    var canonical: (type: String, code: String, param: String?, message: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let type = object["type"] as? String, let code = object["code"] as? String,
              let message = object["message"] as? String else { return nil }
        return (type, code, object["param"] as? String, message)
    }
}

/// An upstream that answers every request with its method, target, headers and body as JSON.
func echoServer() throws -> LegacyServer {
    try LegacyServer { request in
        if request.path.hasPrefix("/bytes/"), let n = Int(request.path.dropFirst(7)) {
            return LegacyResponse(status: 200, headers: [("Content-Type", "application/octet-stream")],
                                  body: patternBytes(n))
        }
        if request.path == "/echo-body" {
            return LegacyResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: request.body)
        }
        var headers: [String: String] = [:]
        for (name, value) in request.headers { headers[name.lowercased(), default: ""] += headers[name.lowercased()] == nil ? value : ", " + value }
        let object: [String: Any] = ["method": request.method, "target": request.target, "headers": headers,
                                     "body_length": request.body.count]
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return LegacyResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(data))
    }
}

/// Deterministic bytes a test can check without keeping a copy.
func patternBytes(_ n: Int) -> [UInt8] {
    n <= pattern.count ? Array(pattern[0..<n]) : (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
}

/// 64 MiB of the pattern, built once (a debug-build `map` over 50 MiB takes seconds).
private let pattern: [UInt8] = {
    var bytes = [UInt8](repeating: 0, count: 64 << 20)
    bytes.withUnsafeMutableBufferPointer { buffer in
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 8) }
    }
    return bytes
}()

extension RawResponse {
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
    var echoedHeaders: [String: String] { (json?["headers"] as? [String: String]) ?? [:] }
}

// MARK: HTTP/2 (h2c prior knowledge on the same plain listener)

extension ProxyHarness {
    func h2Client(settings: [(Int32, UInt32)] = [], autoWindowUpdate: Bool = true) throws -> HTTP2SocketClient {
        try HTTP2SocketClient(port: port, settings: settings, autoWindowUpdate: autoWindowUpdate)
    }

    /// A GET over a new HTTP/2 connection must succeed (after an abuse case); HTTP/1.1 too.
    func assertH2Healthy(path: String = "/", file: StaticString = #filePath, line: UInt = #line) {
        do {
            let response = try h2Client().request(path: path)
            XCTAssertEqual(response?.status, 200, "proxy unhealthy over h2: \(String(describing: response))",
                           file: file, line: line)
        } catch {
            XCTFail("proxy unhealthy over h2: \(error)", file: file, line: line)
        }
        assertHealthy(path: path, file: file, line: line)
    }
}

extension HTTP2Response {
    /// The canonical error body's fields, or nil when the body is not that shape.
    var canonical: (type: String, code: String, message: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let type = object["type"] as? String, let code = object["code"] as? String,
              let message = object["message"] as? String else { return nil }
        return (type, code, message)
    }

    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
}
