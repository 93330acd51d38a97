import HTTP2
import HTTP2TestClient
import ProxyModel
import XCTest

/// The session with bytes alone, against libnghttp2's client session or raw frames.
final class HTTP2ServerSessionTests: XCTestCase {
    /// Server + client in memory; `events` collects what the server reported.
    final class Pair {
        let server: HTTP2ServerSession
        let client: HTTP2ClientSession
        var events: [HTTP2SessionEvent] = []
        /// Bytes the server sent, for raw checks.
        var serverBytes: [UInt8] = []

        init(limits: HTTP2SessionLimits = HTTP2SessionLimits(), clientSettings: [(Int32, UInt32)] = [],
             autoWindowUpdate: Bool = true) {
            server = HTTP2ServerSession(limits: limits)
            client = HTTP2ClientSession(settings: clientSettings, autoWindowUpdate: autoWindowUpdate)
        }

        /// Moves bytes both ways until neither side has anything to say.
        func pump() {
            for _ in 0..<10_000 {
                let toServer = client.output()
                if !toServer.isEmpty { _ = toServer.withUnsafeBytes { server.receive($0) } }
                var toClient: [UInt8] = []
                server.drainOutput { toClient += $0; return true }
                events += server.takeEvents()
                serverBytes += toClient
                if !toClient.isEmpty { client.receive(toClient) }
                if toServer.isEmpty && toClient.isEmpty { return }
            }
        }

        /// Feeds raw bytes to the server (no client session involved) and returns its frames.
        func raw(_ bytes: [UInt8]) -> [HTTP2Frames.Frame] {
            _ = bytes.withUnsafeBytes { server.receive($0) }
            var out: [UInt8] = []
            server.drainOutput { out += $0; return true }
            events += server.takeEvents()
            serverBytes += out
            return HTTP2Frames.parse(serverBytes)
        }

        var heads: [(Int32, HTTP2RequestHead)] {
            events.compactMap { if case .requestHead(let id, let head, _) = $0 { return (id, head) } else { return nil } }
        }

        func bodyBytes(_ stream: Int32) -> Int {
            events.reduce(0) { if case .requestBody(stream, let b) = $1 { return $0 + b.count } else { return $0 } }
        }
    }

    static let preface = HTTP2Frames.preface + HTTP2Frames.settings()

    func goaway(_ frames: [HTTP2Frames.Frame]) -> UInt32? {
        frames.last { $0.type == HTTP2Frames.FrameType.goaway.rawValue }?.errorCode
    }

    func testRequestHeadAndResponseRoundTrip() {
        let pair = Pair()
        let id = pair.client.submitRequest(path: "/items?x=1", authority: "api.example",
                                           headers: [("Accept", "application/json"), ("cookie", "a=1"), ("cookie", "b=2")])
        pair.pump()
        XCTAssertEqual(pair.heads.count, 1)
        let head = pair.heads[0].1
        XCTAssertEqual(head.method, "GET")
        XCTAssertEqual(head.path, "/items?x=1")
        XCTAssertEqual(head.authority, "api.example")
        XCTAssertEqual(head.fields.first("accept"), "application/json")
        XCTAssertEqual(head.fields.first("cookie"), "a=1; b=2")
        XCTAssertTrue(pair.events.contains(.requestHead(streamID: id, head, endStream: true)))

        var fields = HTTPFields()
        fields.append("Content-Type", "text/plain")
        fields.append("Connection", "close") // connection-specific: dropped
        XCTAssertTrue(pair.server.submitResponse(streamID: id, status: 201, fields: fields, hasBody: true))
        pair.pump()
        XCTAssertNil(pair.client.response(id)?.complete == true ? 1 : nil, "no END_STREAM before the body ends")
        Array("hello".utf8).withUnsafeBytes { pair.server.appendResponseBody(streamID: id, $0) }
        pair.server.endResponse(streamID: id)
        pair.pump()
        let response = pair.client.response(id)
        XCTAssertEqual(response?.status, 201)
        XCTAssertEqual(response?.header("content-type"), "text/plain")
        XCTAssertNil(response?.header("connection"))
        XCTAssertEqual(response?.bodyText, "hello")
        XCTAssertEqual(response?.complete, true)
        XCTAssertTrue(pair.events.contains(.streamClosed(streamID: id, errorCode: 0)))
        XCTAssertEqual(pair.server.openStreamCount, 0)
    }

    func testSettingsAdvertiseTheLimits() {
        let pair = Pair(limits: HTTP2SessionLimits(maxConcurrentStreams: 7, maxHeaderListBytes: 12_345,
                                                   streamWindowBytes: 100_000))
        pair.pump()
        XCTAssertEqual(pair.client.serverSettings[3], 7)       // MAX_CONCURRENT_STREAMS
        XCTAssertEqual(pair.client.serverSettings[6], 12_345)  // MAX_HEADER_LIST_SIZE
        XCTAssertEqual(pair.client.serverSettings[4], 100_000) // INITIAL_WINDOW_SIZE
        XCTAssertEqual(pair.client.serverSettings[2], 0)       // ENABLE_PUSH
    }

    /// Request DATA beyond the stream window waits until the bytes are consumed.
    func testRequestBodyIsHeldByFlowControlUntilConsumed() {
        let pair = Pair(limits: HTTP2SessionLimits(streamWindowBytes: 32 * 1024))
        pair.pump() // the client learns the window before it sends (65,535 before SETTINGS)
        let body = [UInt8](repeating: 7, count: 200 * 1024)
        let id = pair.client.submitRequest(method: "POST", path: "/upload", body: body)
        pair.pump()
        XCTAssertEqual(pair.bodyBytes(id), 32 * 1024, "only one window's worth before consume")
        for _ in 0..<20 where pair.bodyBytes(id) < body.count {
            pair.server.consume(streamID: id, count: 32 * 1024)
            pair.pump()
        }
        XCTAssertEqual(pair.bodyBytes(id), body.count)
        XCTAssertTrue(pair.events.contains(.requestEnd(streamID: id)))
    }

    /// A response body is framed as the client's window allows; the rest stays buffered.
    func testResponseBodyWaitsForTheClientsWindow() {
        let pair = Pair(clientSettings: [(4, 16 * 1024)], autoWindowUpdate: false)
        let id = pair.client.submitRequest(path: "/big")
        pair.pump()
        pair.server.submitResponse(streamID: id, status: 200, fields: HTTPFields(), hasBody: true)
        let body = [UInt8](repeating: 1, count: 100 * 1024)
        body.withUnsafeBytes { pair.server.appendResponseBody(streamID: id, $0) }
        pair.server.endResponse(streamID: id)
        pair.pump()
        XCTAssertEqual(pair.client.response(id)?.body.count, 16 * 1024)
        XCTAssertEqual(pair.server.bufferedResponseBytes(streamID: id), body.count - 16 * 1024)
        while pair.client.response(id)?.complete != true {
            pair.client.consume(streamID: id, count: 16 * 1024)
            pair.pump()
        }
        XCTAssertEqual(pair.client.response(id)?.body, body)
    }

    func testStreamsOverTheLimitAreRefused() {
        let pair = Pair(limits: HTTP2SessionLimits(maxConcurrentStreams: 2))
        let open = HTTP2Frames.endHeaders // no END_STREAM: the streams stay open
        let frames = pair.raw(Self.preface + HTTP2Frames.getHeaders(stream: 1, flags: open)
            + HTTP2Frames.getHeaders(stream: 3, flags: open) + HTTP2Frames.getHeaders(stream: 5, flags: open))
        let reset = frames.first { $0.type == HTTP2Frames.FrameType.rstStream.rawValue }
        XCTAssertEqual(reset?.stream, 5)
        XCTAssertEqual(reset?.errorCode, HTTP2ErrorCode.refusedStream)
        XCTAssertEqual(pair.heads.map(\.0), [1, 3])
        XCTAssertNil(pair.server.terminationCode)
    }

    func testRapidResetFloodEndsTheConnection() {
        let pair = Pair(limits: HTTP2SessionLimits(resetBurst: 100, resetsPerSecond: 10))
        var flood = Self.preface
        for i in 0..<400 {
            let id = Int32(1 + 2 * i)
            flood += HTTP2Frames.getHeaders(stream: id, flags: HTTP2Frames.endHeaders) + HTTP2Frames.rstStream(id)
        }
        let frames = pair.raw(flood)
        XCTAssertEqual(goaway(frames), HTTP2ErrorCode.internalError, "nghttp2's GOAWAY after the reset burst")
        XCTAssertEqual(pair.server.terminationCode, HTTP2ErrorCode.internalError)
        XCTAssertTrue(pair.server.isFinished, "the session reads nothing more")
        XCTAssertTrue(pair.heads.isEmpty, "none of the flood's streams is reported")
    }

    func testContinuationFloodEndsTheConnection() {
        let pair = Pair()
        var flood = Self.preface + HTTP2Frames.getHeaders(stream: 1, flags: 0)
        for _ in 0..<20 {
            flood += HTTP2Frames.frame(.continuation, stream: 1, HTTP2Frames.literal("x-pad", "y"))
        }
        let frames = pair.raw(flood)
        XCTAssertEqual(goaway(frames), HTTP2ErrorCode.enhanceYourCalm)
        XCTAssertEqual(pair.server.terminationCode, HTTP2ErrorCode.enhanceYourCalm)
        XCTAssertTrue(pair.heads.isEmpty)
    }

    func testPingFloodEndsTheConnection() {
        let pair = Pair()
        var flood = Self.preface
        for i in 0..<2000 { flood += HTTP2Frames.ping(UInt64(i)) }
        let frames = pair.raw(flood)
        XCTAssertEqual(goaway(frames), HTTP2ErrorCode.enhanceYourCalm)
        let acks = frames.filter { $0.type == HTTP2Frames.FrameType.ping.rawValue }.count
        XCTAssertLessThanOrEqual(acks, 1001, "the queued ACKs are bounded")
    }

    func testSettingsFloodEndsTheConnection() {
        let pair = Pair()
        var flood = Self.preface
        for _ in 0..<2000 { flood += HTTP2Frames.settings([(4, 65_535)]) }
        XCTAssertEqual(goaway(pair.raw(flood)), HTTP2ErrorCode.enhanceYourCalm)
    }

    func testSettingsWithTooManyEntriesEndsTheConnection() {
        let pair = Pair()
        let entries = (0..<100).map { _ in (UInt16(4), UInt32(65_535)) }
        XCTAssertEqual(goaway(pair.raw(Self.preface + HTTP2Frames.settings(entries))), HTTP2ErrorCode.enhanceYourCalm)
    }

    /// One 4 KB field in the dynamic table referenced 4000 times: 16 MB decoded from 4 KB sent.
    static func hpackBomb(stream: Int32, firstOnConnection: Bool) -> [UInt8] {
        var block = firstOnConnection ? HTTP2Frames.indexedLiteral("x-bomb", String(repeating: "b", count: 4000)) : []
        for _ in 0..<4000 { block += HTTP2Frames.indexed(62) }
        return HTTP2Frames.getHeaders(stream: stream, extra: block)
    }

    func testHPACKBombIsReportedWithoutKeepingTheFields() {
        let pair = Pair(limits: HTTP2SessionLimits(maxHeaderListBytes: 64 * 1024))
        _ = pair.raw(Self.preface + Self.hpackBomb(stream: 1, firstOnConnection: true))
        XCTAssertEqual(pair.events, [.headersTooLarge(streamID: 1, endStream: true)])
        XCTAssertNil(pair.server.terminationCode)
        // The connection goes on: a normal request on it is reported.
        _ = pair.raw(HTTP2Frames.getHeaders(stream: 3, path: "/ok"))
        XCTAssertEqual(pair.heads.map(\.1.path), ["/ok"])
    }

    func testAClientThatKeepsCausingStreamErrorsIsCut() {
        let pair = Pair(limits: HTTP2SessionLimits(maxStreamErrors: 5))
        var bytes = Self.preface
        for i in 0..<10 { bytes += Self.hpackBomb(stream: Int32(1 + 2 * i), firstOnConnection: i == 0) }
        XCTAssertEqual(goaway(pair.raw(bytes)), HTTP2ErrorCode.enhanceYourCalm)
    }

    func testBadPrefaceIsAProtocolError() {
        let pair = Pair()
        _ = pair.raw(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        XCTAssertEqual(pair.server.terminationCode, HTTP2ErrorCode.protocolError)
    }

    /// GOAWAY(max id) + PING, then on the PING's ACK the final GOAWAY naming the last stream;
    /// the stream in flight still completes.
    func testGracefulShutdownLetsTheStreamInFlightFinish() {
        let pair = Pair()
        let id = pair.client.submitRequest(path: "/slow")
        pair.pump()
        pair.server.beginGracefulShutdown()
        pair.pump()
        XCTAssertEqual(pair.client.goaway?.errorCode, 0)
        XCTAssertEqual(pair.client.goaway?.lastStreamID, id, "the final GOAWAY names the last stream")
        XCTAssertEqual(pair.client.goawayCount, 2)
        XCTAssertFalse(pair.server.isFinished)
        pair.server.submitResponse(streamID: id, status: 204, fields: HTTPFields(), hasBody: false)
        pair.pump()
        XCTAssertEqual(pair.client.response(id)?.status, 204)
        XCTAssertTrue(pair.server.isFinished)
    }

    func testResetByTheClientIsReported() {
        let pair = Pair()
        let id = pair.client.submitRequest(method: "POST", path: "/", body: [UInt8](repeating: 0, count: 10))
        pair.pump()
        pair.client.resetStream(id, code: HTTP2ErrorCode.cancel)
        pair.pump()
        XCTAssertTrue(pair.events.contains(.streamClosed(streamID: id, errorCode: HTTP2ErrorCode.cancel)))
    }

    func testServerResetReachesTheClient() {
        let pair = Pair()
        let id = pair.client.submitRequest(path: "/")
        pair.pump()
        pair.server.submitResponse(streamID: id, status: 200, fields: HTTPFields(), hasBody: true)
        Array("partial".utf8).withUnsafeBytes { pair.server.appendResponseBody(streamID: id, $0) }
        pair.pump()
        pair.server.resetStream(streamID: id, code: HTTP2ErrorCode.internalError)
        pair.pump()
        XCTAssertEqual(pair.client.response(id)?.resetCode, HTTP2ErrorCode.internalError)
        XCTAssertEqual(pair.client.response(id)?.complete, false)
    }
}
