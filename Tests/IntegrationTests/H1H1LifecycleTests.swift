#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTestClient
import LegacyDemo
@testable import Proxy
import ProxyConfig
import Router
import Synchronization
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
    // MARK: - Listeners on reload

    private func snapshot(_ ports: [Int], upstream: String, port: Int) -> ConfigSnapshot {
        ConfigSnapshot(listeners: ports.map { ListenerConfig(address: HostPort(host: "127.0.0.1", port: $0)) },
                       upstreams: [upstream: ProxyHarness.upstream(upstream, ports: [port])],
                       routes: RouteTable([Route(name: "r", upstream: upstream)]), workers: 2)
    }

    /// Waits until every worker has run what the reload queued for it.
    private func settle(_ proxy: ProxyHarness) {
        let applied = DispatchSemaphore(value: 0)
        proxy.server.pingWorkers(queue: .global()) { applied.signal() }
        XCTAssertEqual(applied.wait(timeout: .now() + 5), .success)
    }

    private func acceptorIDs(_ proxy: ProxyHarness) -> [[ObjectIdentifier]] {
        proxy.server.listening.withLock { $0.map { $0.acceptors.map(ObjectIdentifier.init) } }
    }

    /// Polls `condition` every 20 ms until it holds or `seconds` pass.
    private func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    func testReloadAddsAndRemovesListenersAndKeepsTheUnchangedOne() throws {
        let a = try echoServer()
        defer { a.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("a", ports: [a.port])],
                                     routes: [Route(name: "r", upstream: "a")])
        let first = try proxy.client()
        XCTAssertEqual(try first.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        let original = acceptorIDs(proxy)
        let second = closedPort()

        try proxy.server.reload(RuntimeConfig.resolving(snapshot([proxy.port, second], upstream: "a", port: a.port), generation: 1))
        XCTAssertEqual(proxy.server.boundAddresses.withLock { $0.map(\.port) }, [proxy.port, second])
        XCTAssertEqual(acceptorIDs(proxy).first, original.first, "the unchanged listener keeps its sockets")
        XCTAssertEqual(acceptorIDs(proxy).last?.count, 2, "the new address is bound on every worker")
        let onSecond = try RawHTTPClient(port: second)
        XCTAssertEqual(try onSecond.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertEqual(try first.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)

        try proxy.server.reload(RuntimeConfig.resolving(snapshot([proxy.port], upstream: "a", port: a.port), generation: 2))
        XCTAssertEqual(proxy.server.boundAddresses.withLock { $0.map(\.port) }, [proxy.port])
        XCTAssertEqual(acceptorIDs(proxy), original)
        XCTAssertTrue(eventually {
            if case RawClientError.connectFailed(ECONNREFUSED)? = (Result { try RawHTTPClient(port: second) }.error) { return true }
            return false
        }, "the removed address refuses connections")
        XCTAssertEqual(try onSecond.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200,
                       "a connection accepted on a removed listener goes on")
        XCTAssertEqual(try first.exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        proxy.assertHealthy()
    }

    func testAListenerThatCannotBeBoundRefusesTheReloadAndKeepsTheOldConfig() throws {
        let a = try echoServer(), b = try echoServer()
        defer { a.stop(); b.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("a", ports: [a.port])],
                                     routes: [Route(name: "r", upstream: "a")])
        // A socket without SO_REUSEPORT on the port: errata's bind there fails with EADDRINUSE.
        let squatter = try LegacyServer { _ in LegacyResponse.text(200, "squatter") }
        defer { squatter.stop() }
        let before = acceptorIDs(proxy)

        let next = snapshot([proxy.port, squatter.port], upstream: "b", port: b.port)
        XCTAssertThrowsError(try proxy.server.reload(RuntimeConfig.resolving(next, generation: 1))) { error in
            let problems = (error as? ConfigErrors)?.problems ?? []
            XCTAssertEqual(problems.map(\.path), ["listeners[1].address"])
            XCTAssertTrue(problems.first?.message.contains("127.0.0.1:\(squatter.port)") == true, "\(problems)")
        }
        settle(proxy)
        XCTAssertEqual(proxy.server.boundAddresses.withLock { $0.map(\.port) }, [proxy.port])
        XCTAssertEqual(acceptorIDs(proxy), before)
        XCTAssertEqual(proxy.server.config.generation, 0)
        XCTAssertEqual(try proxy.client().exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertEqual(b.requestCount, 0, "the old route still serves")
        XCTAssertEqual(a.requestCount, 1)
    }

    func testConnectionsDuringReloadsOfUnchangedListenersAreNeverLost() throws {
        let a = try echoServer()
        defer { a.stop() }
        let proxy = try ProxyHarness(upstreams: [ProxyHarness.upstream("a", ports: [a.port])],
                                     routes: [Route(name: "r", upstream: "a")])
        let original = acceptorIDs(proxy)
        let port = proxy.port
        let tally = Tally()
        let done = DispatchSemaphore(value: 0)
        Thread {
            while !tally.stop.load(ordering: .relaxed) {
                do {
                    let status = try RawHTTPClient(port: port, timeoutMilliseconds: 5000)
                        .exchange("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status
                    tally.record(status == 200 ? nil : "status \(status)")
                } catch {
                    tally.record("\(error)")
                }
            }
            done.signal()
        }.start()
        for generation in 1...10 {
            // The harness configured port 0; both that text and the bound port name the same listener.
            let ports = generation % 2 == 0 ? [0] : [port]
            try proxy.server.reload(RuntimeConfig.resolving(snapshot(ports, upstream: "a", port: a.port), generation: generation))
            settle(proxy)
            usleep(20_000)
        }
        tally.stop.store(true, ordering: .relaxed)
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(acceptorIDs(proxy), original)
        XCTAssertEqual(proxy.server.boundAddresses.withLock { $0.map(\.port) }, [port])
        XCTAssertGreaterThan(tally.count, 10)
        XCTAssertEqual(tally.failures.count, 0,
                       "no connection is refused or reset across the reloads: \(tally.failures.prefix(5))")
    }
}

/// Outcomes of requests made on another thread.
private final class Tally: Sendable {
    let stop = Atomic<Bool>(false)
    private let state = Mutex<(count: Int, failures: [String])>((0, []))

    func record(_ failure: String?) {
        state.withLock {
            $0.count += 1
            if let failure { $0.failures.append(failure) }
        }
    }

    var count: Int { state.withLock { $0.count } }
    var failures: [String] { state.withLock { $0.failures } }
}

private extension Result {
    var error: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
