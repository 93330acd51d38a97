import Foundation
import HTTP2
import HTTP2TestClient
import LegacyDemo
import ProxyConfig
import XCTest

/// HTTP/2 connections through drain and idle timeouts.
final class H2H1LifecycleTests: XCTestCase {
    /// Drain: GOAWAY at once, the stream in flight still finishes, then the connection closes.
    func testDrainSendsGoawayAndLetsTheStreamInFlightFinish() throws {
        let (upstream, gate) = try gatedServer(slowBody: patternBytes(100_000))
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port)
        let client = try proxy.h2Client()
        let id = client.session.submitRequest(path: "/slow")
        XCTAssertTrue(client.run(timeoutMilliseconds: 5000) { upstream.requestCount == 1 })
        let drained = DispatchSemaphore(value: 0)
        proxy.server.drain(timeout: .seconds(10)) { drained.signal() }
        XCTAssertTrue(client.run(timeoutMilliseconds: 5000) { client.session.goawayCount >= 2 },
                      "GOAWAY, then (after the PING) the final GOAWAY")
        XCTAssertEqual(client.session.goaway?.errorCode, HTTP2ErrorCode.noError)
        XCTAssertEqual(client.session.goaway?.lastStreamID, id)
        gate.signal()
        XCTAssertTrue(client.waitForStreams([id]))
        XCTAssertEqual(client.session.response(id)?.status, 200)
        XCTAssertTrue(client.session.response(id)?.body == patternBytes(100_000))
        XCTAssertTrue(client.run(timeoutMilliseconds: 5000) { false } == false && client.closed,
                      "the connection closes once its last stream is done")
        XCTAssertEqual(drained.wait(timeout: .now() + 10), .success)
    }

    func testIdleConnectionGetsGoawayAfterClientIdle() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let proxy = try ProxyHarness(upstreamPort: upstream.port, timeouts: ClientTimeouts(clientIdle: .milliseconds(300)))
        let client = try proxy.h2Client()
        XCTAssertEqual(try XCTUnwrap(client.request(path: "/")).status, 200)
        client.run(timeoutMilliseconds: 5000) { client.closed }
        XCTAssertTrue(client.closed)
        XCTAssertEqual(client.session.goaway?.errorCode, HTTP2ErrorCode.noError)
    }
}
