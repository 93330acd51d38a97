#if canImport(Glibc)
import Glibc
#endif
import ErrorNormalizer
import Foundation
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
         rateLimitStore: RateLimitStoreConfig? = nil,
         log: Logger = Logger(label: "errata", factory: { _ in SwiftLogNoOpLogHandler() })) throws {
        let snapshot = ConfigSnapshot(
            listeners: [ListenerConfig(address: HostPort(host: "127.0.0.1", port: 0))],
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
                         passiveHealth: PassiveHealth = PassiveHealth()) -> UpstreamConfig {
        UpstreamConfig(name: name, servers: ports.map { HostPort(host: "127.0.0.1", port: $0) },
                       maxConnections: maxConnections, maxIdleConnections: maxIdle, timeouts: timeouts,
                       passiveHealth: passiveHealth)
    }

    /// A proxy with one catch-all route to one upstream server.
    convenience init(upstreamPort: Int, upstreamTimeouts: UpstreamTimeouts = UpstreamTimeouts(),
                     limits: LimitsConfig = LimitsConfig(), timeouts: ClientTimeouts = ClientTimeouts(),
                     accessLogFD: Int32 = -1) throws {
        try self.init(upstreams: [ProxyHarness.upstream("app", ports: [upstreamPort], timeouts: upstreamTimeouts)],
                      routes: [Route(name: "all", upstream: "app")], limits: limits, timeouts: timeouts,
                      accessLogFD: accessLogFD)
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
