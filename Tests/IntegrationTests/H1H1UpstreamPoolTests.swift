import Foundation
import HTTPTestClient
import LegacyDemo
import Proxy
import ProxyConfig
import Router
import XCTest

/// The per-worker keep-alive pool as an upstream sees it: idle connections are closed after
/// `timeouts.idle`, and at most `max_idle_connections` are kept once a burst is over.
final class H1H1UpstreamPoolTests: XCTestCase {
    func testIdlePooledConnectionIsClosedAfterTheIdleTimeout() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(
            upstreams: [ProxyHarness.upstream("app", ports: [upstream.port],
                                              timeouts: UpstreamTimeouts(idle: .milliseconds(300)))],
            routes: [Route(name: "all", upstream: "app")], workers: 1)
        XCTAssertEqual(try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status, 200)
        XCTAssertEqual(upstream.openConnectionCount, 1, "the connection is kept for reuse at first")
        XCTAssertTrue(waitUntil(5) { upstream.openConnectionCount == 0 }, "the idle connection must be closed")
        XCTAssertEqual(try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status, 200)
        XCTAssertEqual(upstream.connectionCount, 2, "the next request needed a new connection")
    }

    func testAtMostMaxIdleConnectionsAreKeptAfterABurst() throws {
        let slow = try LegacyServer { _ in LegacyResponse.json(200, "{}").with(delayMilliseconds: 300) }
        defer { slow.stop() }
        let proxy = try ProxyHarness(
            upstreams: [ProxyHarness.upstream("app", ports: [slow.port], maxConnections: 8, maxIdle: 1)],
            routes: [Route(name: "all", upstream: "app")], workers: 1)
        let clients = try (0..<3).map { _ in try proxy.client() }
        for client in clients { client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n") }
        for client in clients { XCTAssertEqual(try client.readResponse().status, 200) }
        XCTAssertEqual(slow.connectionCount, 3, "three concurrent requests need three upstream connections")
        XCTAssertTrue(waitUntil(5) { slow.openConnectionCount == 1 },
                      "only max_idle_connections (1) may stay open; \(slow.openConnectionCount) are")
        // The kept one is reused.
        XCTAssertEqual(try clients[0].exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertEqual(slow.connectionCount, 3)
    }
}
