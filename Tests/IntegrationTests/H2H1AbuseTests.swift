import Foundation
import HTTP2
import HTTP2TestClient
import LegacyDemo
import ProxyConfig
import XCTest

/// HTTP/2 abuse over real sockets: each case ends with the connection closed with the expected
/// code (or the stream refused), a bystander connection opened before it still served, and a
/// normal request on a new connection (h2 and HTTP/1.1) succeeding.
final class H2H1AbuseTests: XCTestCase {
    private var upstream: LegacyServer!

    override func setUpWithError() throws {
        upstream = try echoServer()
    }

    override func tearDown() {
        upstream.stop()
    }

    private func proxy(limits: LimitsConfig = LimitsConfig(), timeouts: ClientTimeouts = ClientTimeouts()) throws -> ProxyHarness {
        try ProxyHarness(upstreamPort: upstream.port, limits: limits, timeouts: timeouts)
    }

    /// Opens a bystander connection, sends `abuse` after the preface on a raw connection, and
    /// checks: the server answered with GOAWAY `expected` and closed, the bystander is still
    /// served, and new h2 and HTTP/1.1 connections are too.
    private func assertCut(_ proxy: ProxyHarness, by abuse: [UInt8], with expected: UInt32, _ message: String = "",
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let bystander = try proxy.h2Client()
        XCTAssertEqual(bystander.request(path: "/before")?.status, 200, file: file, line: line)
        let raw = try HTTP2RawClient(port: proxy.port)
        raw.send(HTTP2Frames.preface + HTTP2Frames.settings() + abuse)
        _ = raw.readUntilClosed()
        XCTAssertEqual(raw.goawayCode, expected, message, file: file, line: line)
        XCTAssertTrue(raw.closed, "the abusive connection is closed", file: file, line: line)
        XCTAssertEqual(bystander.request(path: "/bystander")?.status, 200, "bystander", file: file, line: line)
        proxy.assertH2Healthy(file: file, line: line)
    }

    func testRapidResetFloodIsCutWithGoaway() throws {
        var flood: [UInt8] = []
        for i in 0..<3000 {
            let id = Int32(1 + 2 * i)
            flood += HTTP2Frames.getHeaders(stream: id, flags: HTTP2Frames.endHeaders) + HTTP2Frames.rstStream(id)
        }
        try assertCut(try proxy(), by: flood, with: HTTP2ErrorCode.internalError, "libnghttp2's rapid-reset GOAWAY")
        XCTAssertLessThan(upstream.requestCount, 1100, "the flood's streams did not all reach the upstream")
    }

    func testContinuationFloodIsCutWithEnhanceYourCalm() throws {
        var flood = HTTP2Frames.getHeaders(stream: 1, flags: 0)
        for _ in 0..<10_000 { flood += HTTP2Frames.frame(.continuation, stream: 1, HTTP2Frames.literal("x-pad", "y")) }
        try assertCut(try proxy(), by: flood, with: HTTP2ErrorCode.enhanceYourCalm)
    }

    func testPingFloodIsCutWithEnhanceYourCalm() throws {
        let flood = (0..<20_000).flatMap { HTTP2Frames.ping(UInt64($0)) }
        try assertCut(try proxy(), by: flood, with: HTTP2ErrorCode.enhanceYourCalm)
    }

    func testSettingsFloodIsCutWithEnhanceYourCalm() throws {
        let flood = (0..<20_000).flatMap { _ in HTTP2Frames.settings([(4, 65_535)]) }
        try assertCut(try proxy(), by: flood, with: HTTP2ErrorCode.enhanceYourCalm)
    }

    /// A field indexed once and referenced thousands of times (megabytes decoded from a few KB
    /// sent): that stream is answered 431, the connection goes on; a client that keeps doing it is cut.
    func testHPACKBombIs431ThenRepeatedBombsCloseTheConnection() throws {
        let proxy = try proxy()
        let client = try HTTP2SocketClient(port: proxy.port, maxSendHeaderBlock: 16 << 20)
        // libnghttp2's client indexes the 1 KB field once and sends 1-byte references: 4 MB decoded.
        let bomb = [(String, String)](repeating: ("x-bomb", String(repeating: "b", count: 1000)), count: 4000)
        let response = try XCTUnwrap(client.request(path: "/", headers: bomb))
        XCTAssertEqual(response.status, 431)
        XCTAssertEqual(response.canonical?.code, "request_header_fields_too_large")
        XCTAssertEqual(client.request(path: "/same-connection")?.status, 200)

        var flood = HTTP2Frames.getHeaders(stream: 1, extra: HTTP2Frames.indexedLiteral("x-bomb", String(repeating: "b", count: 4000)))
        for i in 1..<200 {
            flood += HTTP2Frames.getHeaders(stream: Int32(1 + 2 * i),
                                            extra: [UInt8]((0..<4000).flatMap { _ in HTTP2Frames.indexed(62) }))
        }
        try assertCut(proxy, by: flood, with: HTTP2ErrorCode.enhanceYourCalm)
    }

    /// A client that opens no window for the response: the proxy buffers a bounded amount and
    /// cuts the connection after `client_idle` without progress.
    func testZeroWindowClientIsCutAfterClientIdle() throws {
        // (No bystander: an idle one would itself be closed after this short client_idle.)
        let big = try LegacyServer { _ in LegacyResponse(status: 200, body: [UInt8](repeating: 7, count: 4 << 20)) }
        defer { big.stop() }
        let proxy = try ProxyHarness(upstreamPort: big.port, timeouts: ClientTimeouts(clientIdle: .milliseconds(500)))
        let client = try proxy.h2Client(settings: [(4, 0)], autoWindowUpdate: false)
        let id = client.session.submitRequest(path: "/big")
        client.run(timeoutMilliseconds: 10_000) { client.closed }
        XCTAssertTrue(client.closed, "cut after client_idle")
        XCTAssertEqual(client.session.goaway?.errorCode, HTTP2ErrorCode.enhanceYourCalm)
        XCTAssertEqual(client.session.response(id)?.body.count, 0)
        proxy.assertH2Healthy()
    }

    func testStreamsBeyondTheConcurrencyLimitAreRefused() throws {
        let hang = try LegacyServer { _ in LegacyResponse(status: 200, mode: .hang) }
        defer { hang.stop() }
        let proxy = try ProxyHarness(upstreamPort: hang.port, limits: .init(h2MaxConcurrentStreams: 4))
        let raw = try HTTP2RawClient(port: proxy.port)
        var bytes = HTTP2Frames.preface + HTTP2Frames.settings()
        for i in 0..<6 { bytes += HTTP2Frames.getHeaders(stream: Int32(1 + 2 * i), flags: HTTP2Frames.endHeaders) }
        raw.send(bytes)
        let frames = raw.readUntilClosed(timeoutMilliseconds: 1000)
        let refused = frames.filter { $0.type == HTTP2Frames.FrameType.rstStream.rawValue }
        XCTAssertEqual(refused.map(\.stream), [9, 11])
        XCTAssertEqual(refused.map(\.errorCode), [HTTP2ErrorCode.refusedStream, HTTP2ErrorCode.refusedStream])
        let settings = frames.first { $0.type == HTTP2Frames.FrameType.settings.rawValue && $0.flags == 0 }
        XCTAssertTrue(settings?.payload.starts(with: [0, 3, 0, 0, 0, 4]) == true, "MAX_CONCURRENT_STREAMS 4 advertised first")
    }

    /// 0xff bytes read as a frame header announce a 16 MiB frame, over SETTINGS_MAX_FRAME_SIZE.
    func testGarbageAfterThePrefaceIsAFrameSizeError() throws {
        try assertCut(try proxy(), by: [UInt8](repeating: 0xff, count: 100), with: HTTP2ErrorCode.frameSizeError)
    }
}
