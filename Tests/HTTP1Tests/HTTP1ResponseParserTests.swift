import HTTP1
import ProxyModel
import XCTest

final class HTTP1ResponseParserTests: XCTestCase {
    func response(_ status: Int, _ reason: String, _ version: HTTPVersion = .http1_1,
                  _ fields: KeyValuePairs<String, String> = [:]) -> ResponseHead {
        ResponseHead(status: status, reason: reason, version: version,
                     fields: HTTPFields(fields.map { HTTPFields.Field(name: $0.key, value: $0.value) }))
    }

    /// Parses `input` (every split) answering requests with `methods` in turn.
    @discardableResult
    func assertParses(_ input: String, methods: [String] = ["GET"], _ expected: [Observed<ResponseHead>],
                      leftover: String = "", file: StaticString = #filePath, line: UInt = #line) -> Outcome<ResponseHead> {
        let outcome = assertSplitInvariant(bytes(input), { HTTP1ResponseParser(limits: HTTP1Limits()) },
                                           beforeMessage: Self.answering(methods), file: file, line: line)
        XCTAssertNil(outcome.error, file: file, line: line)
        XCTAssertEqual(outcome.events, expected, file: file, line: line)
        XCTAssertEqual(outcome.leftover, bytes(leftover), file: file, line: line)
        return outcome
    }

    /// A `beforeMessage` hook that announces the method of the request the next response answers.
    static func answering(_ methods: [String]) -> (inout HTTP1ResponseParser, Int) -> Void {
        { parser, ends in parser.expectResponse(toMethod: methods[min(ends, methods.count - 1)]) }
    }

    func assertRejects(_ input: String, file: StaticString = #filePath, line: UInt = #line) {
        let outcome = assertSplitInvariant(bytes(input), { HTTP1ResponseParser(limits: HTTP1Limits()) },
                                           beforeMessage: { parser, _ in parser.expectResponse(toMethod: "GET") }, file: file, line: line)
        XCTAssertEqual(outcome.error, .upstreamProtocolError, "events: \(outcome.events)", file: file, line: line)
    }

    func testContentLength() {
        assertParses("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", [
            .head(response(200, "OK", .http1_1, ["Content-Length": "5"]), .contentLength(5), keepAlive: true),
            .body(bytes("hello")),
            .end,
        ])
    }

    func testChunked() {
        assertParses("HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n{\"a\"\r\n1\r\n}\r\n0\r\nX-T: 1\r\n\r\n", [
            .head(response(404, "Not Found", .http1_1, ["Transfer-Encoding": "chunked"]), .chunked, keepAlive: true),
            .body(bytes("{\"a\"}")),
            .end,
        ])
    }

    func testUntilCloseEndsAtFinish() throws {
        let input = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc"
        assertParses(input, [
            .head(response(200, "OK", .http1_1, ["Content-Type": "text/plain"]), .untilClose, keepAlive: false),
            .body(bytes("abc")),
        ])
        var parser = HTTP1ResponseParser(limits: HTTP1Limits())
        parser.expectResponse(toMethod: "GET")
        _ = drive(&parser, [bytes(input)])
        guard case .end? = parser.finish() else { return XCTFail("close-delimited body should end at finish()") }
        XCTAssertNil(parser.finish(), "nothing left to finish")
    }

    func testTruncatedBodiesDoNotEndAtFinish() {
        for input in ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
                      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n",
                      ""] {
            var parser = HTTP1ResponseParser(limits: HTTP1Limits())
            parser.expectResponse(toMethod: "GET")
            let outcome = drive(&parser, [bytes(input)])
            XCTAssertNil(outcome.error)
            XCTAssertNil(parser.finish(), "truncated: \(input)")
        }
    }

    func testResponseToHeadHasNoBody() {
        assertParses("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                     methods: ["HEAD", "GET"], [
            .head(response(200, "OK", .http1_1, ["Content-Length": "5"]), .none, keepAlive: true),
            .end,
            .head(response(200, "OK", .http1_1, ["Content-Length": "2"]), .contentLength(2), keepAlive: true),
            .body(bytes("ok")),
            .end,
        ])
    }

    func testNoContentAndNotModifiedHaveNoBody() {
        assertParses("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", methods: ["GET"], [
            .head(response(204, "No Content"), .none, keepAlive: true),
            .end,
            .head(response(304, "Not Modified", .http1_1, ["Content-Length": "10"]), .none, keepAlive: true),
            .end,
        ])
    }

    func testInterimThenFinal() {
        assertParses("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", [
            .head(response(100, "Continue"), .none, keepAlive: true),
            .end,
            .head(response(200, "OK", .http1_1, ["Content-Length": "2"]), .contentLength(2), keepAlive: true),
            .body(bytes("ok")),
            .end,
        ])
    }

    func testInterimKeepsTheHeadMethodForTheFinalResponse() throws {
        var parser = HTTP1ResponseParser(limits: HTTP1Limits())
        parser.expectResponse(toMethod: "HEAD")
        let outcome = drive(&parser, [bytes("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")])
        XCTAssertEqual(outcome.events, [
            .head(response(103, "Early Hints", .http1_1, ["Link": "</a>"]), .none, keepAlive: true),
            .end,
            .head(response(200, "OK", .http1_1, ["Content-Length": "5"]), .none, keepAlive: true),
            .end,
        ])
    }

    func testHTTP10ResponsePersistence() {
        assertParses("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", [
            .head(response(200, "OK", .http1_0, ["Content-Length": "1"]), .contentLength(1), keepAlive: false),
            .body(bytes("x")),
            .end,
        ])
        assertParses("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", [
            .head(response(200, "OK", .http1_0, ["Connection": "keep-alive", "Content-Length": "1"]),
                  .contentLength(1), keepAlive: true),
            .body(bytes("x")),
            .end,
        ])
    }

    func testEmptyOrMissingReasonPhrase() {
        assertParses("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\nHTTP/1.1 599\r\nContent-Length: 0\r\n\r\n", [
            .head(response(200, "", .http1_1, ["Content-Length": "0"]), .contentLength(0), keepAlive: true),
            .end,
            .head(response(599, "", .http1_1, ["Content-Length": "0"]), .contentLength(0), keepAlive: true),
            .end,
        ])
    }

    func testConnectionCloseResponse() {
        assertParses("HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", [
            .head(response(500, "Internal Server Error", .http1_1, ["Connection": "close", "Content-Length": "0"]),
                  .contentLength(0), keepAlive: false),
            .end,
        ])
    }

    func testInvalidResponsesAreProtocolErrors() {
        assertRejects("HTTP/2.0 200 OK\r\n\r\n")
        assertRejects("HTTP/1.2 200 OK\r\n\r\n")
        assertRejects("HTTP/1.1 2x0 OK\r\n\r\n")
        assertRejects("HTTP/1.1 099 Low\r\n\r\n")
        assertRejects("HTTP/1.1 600 High\r\n\r\n")
        assertRejects("HTTP/1.1  200 OK\r\n\r\n")
        assertRejects("HTTP/1.1 200OK\r\n\r\n")
        assertRejects("HTTP/1.1 20\r\n\r\n")
        assertRejects("\r\nHTTP/1.1 200 OK\r\n\r\n")
        assertRejects("HTTP/1.1 200 OK\nContent-Length: 0\n\n")
        assertRejects("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
        assertRejects("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        assertRejects("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        assertRejects("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")
        assertRejects("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n")
        assertRejects("HTTP/1.1 200 OK\r\nX : a\r\n\r\n")
        assertRejects("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n")
        assertRejects("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY")
    }

    func testTooLargeResponseHeadIsAProtocolError() {
        let outcome = assertSplitInvariant(bytes("HTTP/1.1 200 OK\r\nX: " + String(repeating: "v", count: 300) + "\r\n\r\n"),
                                           { HTTP1ResponseParser(limits: HTTP1Limits(headerBytes: 200, uriBytes: 40)) })
        XCTAssertEqual(outcome.error, .upstreamProtocolError)
    }
}
