#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTestClient
import LegacyDemo
import Proxy
import ProxyConfig
import Router
import XCTest

/// Reload and drain on a live server.
final class H1H1LifecycleTests: XCTestCase {
    func testDrainFinishesInFlightRequestsAndStopsAccepting() throws {
        let slow = try LegacyServer { request in
            LegacyResponse.json(200, "{\"ok\":true}").with(delayMilliseconds: request.path == "/slow" ? 400 : 0)
        }
        defer { slow.stop() }
        let proxy = try ProxyHarness(upstreamPort: slow.port)
        let busy = try proxy.client()
        busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        let idle = try proxy.client()
        XCTAssertEqual(try idle.exchange("GET /warm HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        usleep(50_000)
        let drained = DispatchSemaphore(value: 0)
        proxy.server.drain(timeout: .seconds(5)) { drained.signal() }
        let response = try busy.readResponse()
        XCTAssertEqual(response.status, 200, "the in-flight request finishes")
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(idle.waitForClose(), "an idle keep-alive connection is closed")
        XCTAssertEqual(drained.wait(timeout: .now() + 5), .success)
        XCTAssertThrowsError(try proxy.client(), "no longer accepting")
    }

    func testReloadAppliesToTheNextRequestOnAnOpenConnection() throws {
        let a = try echoServer(), b = try echoServer()
        defer { a.stop(); b.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("a", ports: [a.port])],
                                     routes: [Route(name: "r", upstream: "a")])
        let client = try proxy.client()
        XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        let next = ConfigSnapshot(
            listeners: [ListenerConfig(address: HostPort(host: "127.0.0.1", port: proxy.port))],
            upstreams: ["b": ProxyHarness.upstream("b", ports: [b.port])],
            routes: RouteTable([Route(name: "r", upstream: "b")]), workers: 2)
        try proxy.server.reload(RuntimeConfig.resolving(next, generation: 1))
        usleep(50_000)
        XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertEqual(a.requestCount, 1)
        XCTAssertEqual(b.requestCount, 1, "the request after the reload went to the new upstream")
    }
}
