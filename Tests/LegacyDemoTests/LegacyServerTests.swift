#if canImport(Glibc)
import HTTPTestClient
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import LegacyDemo
import XCTest

/// The requests a handler saw, for assertions from the test thread.
final class RequestLog: Sendable {
    private let requests = QueueLocked<[LegacyRequest]>([])
    func append(_ request: LegacyRequest) { requests.withLock { $0.append(request) } }
    var all: [LegacyRequest] { requests.withLock { $0 } }
}

final class LegacyServerTests: XCTestCase {
    private var servers: [LegacyServer] = []

    override func tearDown() {
        for server in servers { server.stop() }
        servers.removeAll()
        super.tearDown()
    }

    private func serve(_ handler: @escaping @Sendable (LegacyRequest) -> LegacyResponse) throws -> LegacyServer {
        let server = try LegacyServer(port: 0, handler: handler)
        servers.append(server)
        return server
    }

    private func serve(_ response: LegacyResponse) throws -> LegacyServer {
        try serve { _ in response }
    }

    // MARK: - Requests

    func testEphemeralPortIsReportedAndBound() throws {
        let server = try serve(.json(200, "{}"))
        XCTAssertGreaterThan(server.port, 0)
        let client = try RawHTTPClient(port: server.port)
        XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status, 200)
    }

    func testRequestHeadAndHeadersReachHandlerInOrder() throws {
        let log = RequestLog()
        let server = try serve { log.append($0); return .json(200, "{}") }
        let client = try RawHTTPClient(port: server.port)
        _ = try client.exchange("PATCH /a/b?x=1&y HTTP/1.1\r\nHost: h\r\nX-B: 2\r\nx-a:   1  \r\nX-B: 3\r\n\r\n")
        let request = try XCTUnwrap(log.all.first)
        XCTAssertEqual(request.method, "PATCH")
        XCTAssertEqual(request.target, "/a/b?x=1&y")
        XCTAssertEqual(request.path, "/a/b")
        XCTAssertEqual(request.query("x"), "1")
        XCTAssertEqual(request.query("y"), "")
        XCTAssertNil(request.query("z"))
        XCTAssertEqual(request.headers.map(\.0), ["Host", "X-B", "x-a", "X-B"])
        XCTAssertEqual(request.headers.map(\.1), ["h", "2", "1", "3"])
        XCTAssertEqual(request.header("X-A"), "1")
        XCTAssertEqual(request.header("x-b"), "2")
        XCTAssertTrue(request.body.isEmpty)
    }

    func testContentLengthBodyIsRead() throws {
        let log = RequestLog()
        let server = try serve { log.append($0); return .json(200, "{}") }
        let client = try RawHTTPClient(port: server.port)
        _ = try client.exchange("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world")
        XCTAssertEqual(log.all.first?.bodyText, "hello world")
    }

    func testChunkedBodyIsDecodedWithExtensionsAndTrailersDropped() throws {
        let log = RequestLog()
        let server = try serve { log.append($0); return .json(200, "{}") }
        let client = try RawHTTPClient(port: server.port)
        let response = try client.exchange(
            "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(log.all.first?.bodyText, "hello 0123456789")
        XCTAssertNil(log.all.first?.header("X-Trailer"))
    }

    func testExpectContinueGetsInterimResponseBeforeBody() throws {
        let server = try serve { .json(200, String(decoding: $0.body, as: UTF8.self)) }
        let client = try RawHTTPClient(port: server.port)
        client.send("POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 100)
        client.send("data")
        let final = try client.readResponse()
        XCTAssertEqual(final.status, 200)
        XCTAssertEqual(final.bodyText, "data")
    }

    func testMalformedRequestGets400AndClose() throws {
        let server = try serve(.json(200, "{}"))
        let client = try RawHTTPClient(port: server.port)
        let response = try client.exchange("GET /\r\n\r\n")
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(client.waitForClose())
        XCTAssertEqual(server.requestCount, 0)
    }

    func testOversizedHeadGets431() throws {
        let server = try serve(.json(200, "{}"))
        let client = try RawHTTPClient(port: server.port)
        let big = String(repeating: "a", count: 70 * 1024)
        let response = try client.exchange("GET / HTTP/1.1\r\nHost: h\r\nX-Big: \(big)\r\n\r\n")
        XCTAssertEqual(response.status, 431)
    }

    // MARK: - Connections

    func testKeepAliveServesTwoRequestsOnOneConnection() throws {
        let server = try serve(.json(200, #"{"n":1}"#))
        let client = try RawHTTPClient(port: server.port)
        for _ in 0..<2 {
            let response = try client.exchange("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.bodyText, #"{"n":1}"#)
            XCTAssertNil(response.header("Connection"))
        }
        XCTAssertEqual(server.requestCount, 2)
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        let server = try serve { .json(200, $0.path) }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\nGET /three HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(try client.readResponse().bodyText, "/one")
        XCTAssertEqual(try client.readResponse().bodyText, "/two")
        XCTAssertEqual(try client.readResponse().bodyText, "/three")
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testConnectionCloseRequestClosesAfterResponse() throws {
        let server = try serve(.json(200, "{}"))
        let client = try RawHTTPClient(port: server.port)
        let response = try client.exchange("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(client.waitForClose())
    }

    func testHTTP10ClosesUnlessKeepAliveAsked() throws {
        let server = try serve(.json(200, "{}"))
        let plain = try RawHTTPClient(port: server.port)
        XCTAssertEqual(try plain.exchange("GET / HTTP/1.0\r\n\r\n").status, 200)
        XCTAssertTrue(plain.waitForClose())

        let keepAlive = try RawHTTPClient(port: server.port)
        let first = try keepAlive.exchange("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(first.header("Connection"), "keep-alive")
        XCTAssertEqual(try keepAlive.exchange("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").status, 200)
        XCTAssertEqual(server.connectionCount, 2)
    }

    func testClientsVanishingMidRequestLeaveServerServing() throws {
        let server = try serve { .json(200, "\($0.body.count)") }
        for partial in ["GET / HT", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nonly-some",
                        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"] {
            let client = try RawHTTPClient(port: server.port)
            client.send(partial)
        }
        let client = try RawHTTPClient(port: server.port)
        let response = try client.exchange("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
        XCTAssertEqual(response.bodyText, "3")
        XCTAssertEqual(server.requestCount, 1)
        XCTAssertEqual(server.connectionCount, 4)
    }

    func testClientLeavingDuringLargeResponseLeavesServerServing() throws {
        let big = [UInt8](repeating: 7, count: 8 << 20)
        let server = try serve { $0.path == "/big" ? LegacyResponse(status: 200, body: big) : .json(200, "{}") }
        do {
            let client = try RawHTTPClient(port: server.port)
            client.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
            _ = try client.readResponse(forHEAD: true)
        }
        let client = try RawHTTPClient(port: server.port)
        XCTAssertEqual(try client.exchange("GET /small HTTP/1.1\r\nHost: h\r\n\r\n").status, 200)
    }

    func testStopClosesConnectionsAndRefusesNewOnes() throws {
        let server = try LegacyServer(port: 0) { _ in .json(200, "{}") }
        let client = try RawHTTPClient(port: server.port)
        XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: h\r\n\r\n").status, 200)
        server.stop()
        XCTAssertTrue(client.waitForClose())
        XCTAssertThrowsError(try RawHTTPClient(port: server.port)) { error in
            XCTAssertEqual(error as? RawClientError, .connectFailed(ECONNREFUSED))
        }
        server.stop()
    }

    // MARK: - Large bodies

    func testFiveMiBEchoRoundTripsWithContentLengthAndChunked() throws {
        let server = try serve { LegacyResponse(status: 200, body: $0.body) }
        var payload = [UInt8](repeating: 0, count: 5 << 20)
        var seed: UInt32 = 12345
        for i in payload.indices {
            seed = seed &* 1_103_515_245 &+ 12345
            payload[i] = UInt8(truncatingIfNeeded: seed >> 16)
        }
        let client = try RawHTTPClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: \(payload.count)\r\n\r\n")
        client.send(payload)
        let plain = try client.readResponse()
        XCTAssertEqual(plain.body.count, payload.count)
        XCTAssertTrue(plain.body == payload)

        client.send("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        var offset = 0
        while offset < payload.count {
            let end = min(offset + 300_001, payload.count)
            client.send(String(end - offset, radix: 16) + "\r\n")
            client.send(Array(payload[offset..<end]))
            client.send("\r\n")
            offset = end
        }
        client.send("0\r\n\r\n")
        let chunked = try client.readResponse()
        XCTAssertTrue(chunked.body == payload)
        XCTAssertEqual(server.connectionCount, 1)
    }

    // MARK: - Response modes

    func testContentLengthIsComputedAndHeadersKeptInOrder() throws {
        let server = try serve(LegacyResponse(status: 418, reason: "I'm a teapot",
                                              headers: [("X-One", "1"), ("X-Two", "2")], body: Array("tea".utf8)))
        let client = try RawHTTPClient(port: server.port)
        let response = try client.exchange("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(response.status, 418)
        XCTAssertEqual(response.reason, "I'm a teapot")
        XCTAssertEqual(response.headers.map(\.0), ["X-One", "X-Two", "Content-Length"])
        XCTAssertEqual(response.header("Content-Length"), "3")
        XCTAssertEqual(response.bodyText, "tea")
    }

    func testHEADGetsHeadWithLengthButNoBody() throws {
        let server = try serve(.json(200, "0123456789"))
        let client = try RawHTTPClient(port: server.port)
        let head = try client.exchange("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", forHEAD: true)
        XCTAssertEqual(head.header("Content-Length"), "10")
        // The next response starts right after the head: no body bytes were sent.
        XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: h\r\n\r\n").bodyText, "0123456789")
    }

    func testChunkedModeFramesBodyInChunksOfTheGivenSize() throws {
        let body = "abcdefghijklmnopqrst"
        let server = try serve(LegacyResponse.json(200, body).with(mode: .chunked(chunkSize: 8)))
        let client = try RawHTTPClient(port: server.port)
        let response = try client.exchange("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(response.header("Transfer-Encoding"), "chunked")
        XCTAssertNil(response.header("Content-Length"))
        XCTAssertEqual(String(decoding: response.rawBody, as: UTF8.self),
                       "8\r\nabcdefgh\r\n8\r\nijklmnop\r\n4\r\nqrst\r\n0\r\n\r\n")
        XCTAssertEqual(response.bodyText, body)
        XCTAssertEqual(try client.exchange("GET / HTTP/1.1\r\nHost: h\r\n\r\n").bodyText, body, "kept alive")
    }

    func testChunkedModeToHTTP10FallsBackToCloseDelimited() throws {
        let server = try serve(LegacyResponse.json(200, "abc").with(mode: .chunked(chunkSize: 1)))
        let client = try RawHTTPClient(port: server.port)
        let response = try client.exchange("GET / HTTP/1.0\r\n\r\n")
        XCTAssertNil(response.header("Transfer-Encoding"))
        XCTAssertEqual(response.bodyText, "abc")
    }

    func testCloseDelimitedSendsNoLengthAndCloses() throws {
        let server = try serve(LegacyResponse.json(200, "until-close").with(mode: .closeDelimited))
        let client = try RawHTTPClient(port: server.port)
        let response = try client.exchange("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertNil(response.header("Content-Length"))
        XCTAssertNil(response.header("Transfer-Encoding"))
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertEqual(response.bodyText, "until-close")
    }

    func testRawModeWritesExactlyTheBytesThenCloses() throws {
        let bytes = Array("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort".utf8)
        let server = try serve(LegacyResponse(status: 200, mode: .raw(bytes)))
        let client = try RawHTTPClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(try client.readToEOF(), bytes)
    }

    func testHangModeNeverAnswersUntilStop() throws {
        let server = try LegacyServer(port: 0) { _ in LegacyResponse(status: 200, mode: .hang) }
        let client = try RawHTTPClient(port: server.port, timeoutMilliseconds: 300)
        client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertThrowsError(try client.readResponse()) { XCTAssertEqual($0 as? RawClientError, .timedOut) }
        XCTAssertEqual(server.requestCount, 1)
        XCTAssertEqual(server.openConnectionCount, 1)
        server.stop()
        client.setTimeout(milliseconds: 5000)
        XCTAssertEqual(try client.readToEOF(), [], "closed without a byte")
    }

    func testCloseWithoutResponseClosesWithoutAByte() throws {
        let server = try serve(LegacyResponse(status: 200, mode: .closeWithoutResponse))
        let client = try RawHTTPClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(try client.readToEOF(), [])
        XCTAssertEqual(server.requestCount, 1)
    }

    func testHeadThenCloseDeclaresMoreThanItSends() throws {
        let server = try serve(LegacyResponse.json(200, #"{"partial":"#).with(mode: .headThenClose))
        let client = try RawHTTPClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertThrowsError(try client.readResponse()) { error in
            XCTAssertEqual(error as? RawClientError, .closedEarly(Array(#"{"partial":"#.utf8)))
        }
    }

    func testHeadThenCloseAnnouncesLengthPlus1024() throws {
        let server = try serve(LegacyResponse.json(200, "12345").with(mode: .headThenClose))
        let client = try RawHTTPClient(port: server.port)
        let head = try client.exchange("GET / HTTP/1.1\r\nHost: h\r\n\r\n", forHEAD: true)
        XCTAssertEqual(head.header("Content-Length"), "1029")
        XCTAssertEqual(try client.readToEOF(), Array("12345".utf8))
    }

    func testChunkedThenCloseOmitsTheLastChunk() throws {
        let server = try serve(LegacyResponse.json(200, "abcdef").with(mode: .chunkedThenClose(chunkSize: 4)))
        let client = try RawHTTPClient(port: server.port)
        let head = try client.exchange("GET / HTTP/1.1\r\nHost: h\r\n\r\n", forHEAD: true)
        XCTAssertEqual(head.header("Transfer-Encoding"), "chunked")
        XCTAssertEqual(String(decoding: try client.readToEOF(), as: UTF8.self), "4\r\nabcd\r\n2\r\nef\r\n")
    }

    func testDelayHoldsTheResponseBack() throws {
        let server = try serve(LegacyResponse.json(200, "late").with(delayMilliseconds: 400))
        let client = try RawHTTPClient(port: server.port, timeoutMilliseconds: 50)
        client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertThrowsError(try client.readResponse()) { XCTAssertEqual($0 as? RawClientError, .timedOut) }
        client.setTimeout(milliseconds: 5000)
        XCTAssertEqual(try client.readResponse().bodyText, "late")
    }

    func testChunkDelaySendsTheHeadBeforeTheBody() throws {
        var response = LegacyResponse.json(200, "ab").with(mode: .chunked(chunkSize: 1))
        response.chunkDelayMilliseconds = 300
        let server = try serve(response)
        let client = try RawHTTPClient(port: server.port, timeoutMilliseconds: 5000)
        let head = try client.exchange("GET / HTTP/1.1\r\nHost: h\r\n\r\n", forHEAD: true)
        XCTAssertEqual(head.status, 200)
        client.setTimeout(milliseconds: 50)
        XCTAssertThrowsError(try client.readToEOF()) { XCTAssertEqual($0 as? RawClientError, .timedOut) }
    }

    func testGzipJSONDecodesBackToTheText() throws {
        let text = #"{"message":"404","description":"The requested resource was not found"}"#
        let server = try serve(.gzipJSON(404, text))
        let client = try RawHTTPClient(port: server.port)
        let response = try client.exchange("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(response.header("Content-Encoding"), "gzip")
        XCTAssertEqual(response.body.prefix(2), [0x1f, 0x8b])
        XCTAssertEqual(gunzip(response.body).map { String(decoding: $0, as: UTF8.self) }, text)
    }

    func testConcurrentClientsAreServedTogether() throws {
        let server = try serve { .json(200, $0.path) }
        let hanging = try RawHTTPClient(port: server.port)
        hanging.send("GET /slow-partial HTTP/1.1\r\nHost: h\r\n")  // never finishes its head
        let results = QueueLocked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            guard let client = try? RawHTTPClient(port: server.port),
                  let response = try? client.exchange("GET /\(i) HTTP/1.1\r\nHost: h\r\n\r\n") else { return }
            results.withLock { $0.append(response.bodyText) }
        }
        XCTAssertEqual(Set(results.withLock { $0 }), Set((0..<8).map { "/\($0)" }))
    }
}
