import HTTP1
import ProxyModel
import XCTest

final class HTTP1RequestParserTests: XCTestCase {
    typealias Events = [Observed<RequestHead>]

    static let small = HTTP1Limits(headerBytes: 200, uriBytes: 40)

    func request(_ method: String, _ target: String, _ version: HTTPVersion = .http1_1,
                 _ fields: KeyValuePairs<String, String>) -> RequestHead {
        RequestHead(method: method, target: target, version: version,
                    fields: HTTPFields(fields.map { HTTPFields.Field(name: $0.key, value: $0.value) }))
    }

    func assertParses(_ input: String, _ expected: Events, leftover: String = "",
                      limits: HTTP1Limits = HTTP1Limits(), file: StaticString = #filePath, line: UInt = #line) {
        let outcome = assertSplitInvariant(bytes(input), { HTTP1RequestParser(limits: limits) }, file: file, line: line)
        XCTAssertNil(outcome.error, file: file, line: line)
        XCTAssertEqual(outcome.events, expected, file: file, line: line)
        XCTAssertEqual(outcome.leftover, bytes(leftover), file: file, line: line)
    }

    func assertRejects(_ input: [UInt8], _ kind: ProxyError.Kind, limits: HTTP1Limits = HTTP1Limits(),
                       file: StaticString = #filePath, line: UInt = #line) {
        let outcome = assertSplitInvariant(input, { HTTP1RequestParser(limits: limits) }, file: file, line: line)
        XCTAssertEqual(outcome.error, kind, "events: \(outcome.events)", file: file, line: line)
    }

    func assertRejects(_ input: String, _ kind: ProxyError.Kind, limits: HTTP1Limits = HTTP1Limits(),
                       file: StaticString = #filePath, line: UInt = #line) {
        assertRejects(bytes(input), kind, limits: limits, file: file, line: line)
    }

    // MARK: Valid requests

    func testGetWithoutBody() {
        assertParses("GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n", [
            .head(request("GET", "/a?b=1", .http1_1, ["Host": "example.com", "Accept": "*/*"]), .none, keepAlive: true),
            .end,
        ])
    }

    func testPostWithContentLength() {
        assertParses("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world", [
            .head(request("POST", "/p", .http1_1, ["Host": "h", "Content-Length": "11"]), .contentLength(11), keepAlive: true),
            .body(bytes("hello world")),
            .end,
        ])
    }

    func testContentLengthZeroEndsAtOnce() {
        assertParses("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", [
            .head(request("POST", "/p", .http1_1, ["Host": "h", "Content-Length": "0"]), .contentLength(0), keepAlive: true),
            .end,
        ])
    }

    func testIdenticalContentLengthListIsAccepted() {
        assertParses("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello", [
            .head(request("POST", "/p", .http1_1, ["Host": "h", "Content-Length": "5, 5", "Content-Length": "5"]),
                  .contentLength(5), keepAlive: true),
            .body(bytes("hello")),
            .end,
        ])
    }

    func testChunkedWithExtensionsAndTrailers() {
        let input = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n6 ; x ; y=\"q\"\r\n world\r\nA\r\n0123456789\r\n"
            + "0;last\r\nX-Trailer: t\r\nX-Other: u v\r\n\r\n"
        assertParses(input, [
            .head(request("POST", "/c", .http1_1, ["Host": "h", "Transfer-Encoding": "chunked"]), .chunked, keepAlive: true),
            .body(bytes("hello world0123456789")),
            .end,
        ])
    }

    func testChunkedWithoutTrailers() {
        assertParses("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", [
            .head(request("POST", "/c", .http1_1, ["Host": "h", "Transfer-Encoding": "Chunked"]), .chunked, keepAlive: true),
            .body(bytes("abc")),
            .end,
        ])
    }

    func testPipelinedPair() {
        let input = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
        assertParses(input, [
            .head(request("GET", "/1", .http1_1, ["Host": "h"]), .none, keepAlive: true),
            .end,
            .head(request("POST", "/2", .http1_1, ["Host": "h", "Content-Length": "3", "Connection": "close"]),
                  .contentLength(3), keepAlive: false),
            .body(bytes("abc")),
            .end,
        ])
    }

    func testPipelinedChunkedThenGet() {
        let input = "POST /1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
        assertParses(input, [
            .head(request("POST", "/1", .http1_1, ["Host": "h", "Transfer-Encoding": "chunked"]), .chunked, keepAlive: true),
            .body(bytes("ok")),
            .end,
            .head(request("GET", "/2", .http1_1, ["Host": "h"]), .none, keepAlive: true),
            .end,
        ])
    }

    func testHTTP10ClosesUnlessKeepAlive() {
        assertParses("GET / HTTP/1.0\r\n\r\n", [.head(request("GET", "/", .http1_0, [:]), .none, keepAlive: false), .end])
        assertParses("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", [
            .head(request("GET", "/", .http1_0, ["Connection": "Keep-Alive"]), .none, keepAlive: true), .end,
        ])
    }

    func testConnectionCloseAmongOtherTokens() {
        assertParses("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, CLOSE\r\n\r\n", [
            .head(request("GET", "/", .http1_1, ["Host": "h", "Connection": "foo, CLOSE"]), .none, keepAlive: false), .end,
        ])
    }

    func testExpectContinue() throws {
        let input = "PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok"
        assertParses(input, [
            .head(request("PUT", "/u", .http1_1, ["Host": "h", "Expect": "100-Continue", "Content-Length": "2"]),
                  .contentLength(2), keepAlive: true),
            .body(bytes("ok")),
            .end,
        ])
        var parser = HTTP1RequestParser(limits: HTTP1Limits())
        _ = try parseOnce(&parser, bytes(input))
        XCTAssertTrue(parser.expectsContinue)

        var plain = HTTP1RequestParser(limits: HTTP1Limits())
        _ = try parseOnce(&plain, bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        XCTAssertFalse(plain.expectsContinue)
    }

    func testLeadingEmptyLinesAreSkipped() {
        assertParses("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", [
            .head(request("GET", "/", .http1_1, ["Host": "h"]), .none, keepAlive: true), .end,
        ])
    }

    func testFieldValuesAreTrimmedAndKeepInnerSpacesAndObsText() {
        assertParses("GET * HTTP/1.1\r\nHost:h\r\nX-A: \t a  b \t\r\nX-B:\r\nX-C: caf\u{E9}\r\n\r\n", [
            .head(request("GET", "*", .http1_1, ["Host": "h", "X-A": "a  b", "X-B": "", "X-C": "caf\u{E9}"]),
                  .none, keepAlive: true),
            .end,
        ])
    }

    func testIncompleteInputLeavesTheHeadUnconsumed() {
        assertParses("GET / HTTP/1.1\r\nHost: h\r\n", [], leftover: "GET / HTTP/1.1\r\nHost: h\r\n")
    }

    func testIncompleteBodyDeliversWhatArrived() {
        assertParses("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc", [
            .head(request("POST", "/", .http1_1, ["Host": "h", "Content-Length": "10"]), .contentLength(10), keepAlive: true),
            .body(bytes("abc")),
        ])
    }

    func testLimitsAreInclusive() {
        let target = "/" + String(repeating: "a", count: 39)
        assertParses("GET \(target) HTTP/1.1\r\nHost: h\r\n\r\n", [
            .head(request("GET", target, .http1_1, ["Host": "h"]), .none, keepAlive: true), .end,
        ], limits: Self.small)
        let head = "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 168) + "\r\n\r\n"
        XCTAssertEqual(head.utf8.count, 200)
        assertParses(head, [
            .head(request("GET", "/", .http1_1, ["Host": "h", "X": String(repeating: "v", count: 168)]), .none, keepAlive: true),
            .end,
        ], limits: Self.small)
    }

    func testBodyRangesPointIntoTheBufferWithoutFraming() throws {
        let input = bytes("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n0\r\n\r\n")
        var parser = HTTP1RequestParser(limits: HTTP1Limits())
        let headLength = input.count - 15
        let first = try parseOnce(&parser, input)
        XCTAssertEqual(first.consumed, headLength)
        let rest = Array(input[headLength...])
        let second = try parseOnce(&parser, rest)
        guard case .body(let range)? = second.event else { return XCTFail("expected body, got \(String(describing: second.event))") }
        XCTAssertEqual(range, 5..<8)
        XCTAssertEqual(second.consumed, 8)
    }

    // MARK: Invalid requests

    func testContentLengthWithTransferEncoding() {
        assertRejects("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", .malformedRequest)
        assertRejects("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", .malformedRequest)
    }

    func testDifferingContentLengths() {
        assertRejects("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", .malformedRequest)
        assertRejects("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\n", .malformedRequest)
    }

    func testMalformedContentLengths() {
        for value in ["abc", "-1", "+5", "", "1 2", "0x10", "5;", "1234567890123456789", "\u{665}"] {
            assertRejects("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \(value)\r\n\r\n", .malformedRequest)
        }
    }

    func testTransferEncodingNotEndingInChunked() {
        for value in ["gzip", "chunked, gzip", "chunked, chunked", "chunked, gzip, chunked", "", "identity"] {
            assertRejects("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \(value)\r\n\r\n", .malformedRequest)
        }
        assertRejects("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                      .malformedRequest)
    }

    func testOtherTransferCodingsAreNotImplemented() {
        assertRejects("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .notImplemented)
        assertRejects("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
                      .notImplemented)
    }

    func testObsFold() {
        assertRejects("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", .malformedRequest)
        assertRejects("GET / HTTP/1.1\r\n\tHost: h\r\n\r\n", .malformedRequest)
    }

    func testWhitespaceBeforeColon() {
        assertRejects("GET / HTTP/1.1\r\nHost : h\r\n\r\n", .malformedRequest)
        assertRejects("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", .malformedRequest)
    }

    func testBareLineFeeds() {
        assertRejects("GET / HTTP/1.1\nHost: h\n\n", .malformedRequest)
        assertRejects("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", .malformedRequest)
        assertRejects("GET / HTTP/1.1\r\nHost: h\r\n\n", .malformedRequest)
        assertRejects("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", .malformedRequest)
    }

    func testBareCarriageReturns() {
        assertRejects("GET / HTTP/1.1\rHost: h\r\n\r\n", .malformedRequest)
        assertRejects("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", .malformedRequest)
        assertRejects("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", .malformedRequest)
    }

    func testControlBytes() {
        assertRejects(bytes("GET /a") + [0] + bytes("b HTTP/1.1\r\nHost: h\r\n\r\n"), .malformedRequest)
        assertRejects(bytes("GET /a") + [0x7F] + bytes(" HTTP/1.1\r\nHost: h\r\n\r\n"), .malformedRequest)
        assertRejects(bytes("G") + [0] + bytes("T / HTTP/1.1\r\nHost: h\r\n\r\n"), .malformedRequest)
        assertRejects(bytes("GET / HTTP/1.1\r\nHost: h\r\nX") + [0] + bytes("Y: v\r\n\r\n"), .malformedRequest)
        assertRejects(bytes("GET / HTTP/1.1\r\nHost: h\r\nX: a") + [0] + bytes("b\r\n\r\n"), .malformedRequest)
        assertRejects(bytes("GET / HTTP/1.1\r\nHost: h\r\nX: a") + [0x01] + bytes("b\r\n\r\n"), .malformedRequest)
        assertRejects(bytes("GET / HTTP/1.1\r\nHost: h\r\nX: a") + [0x7F] + bytes("\r\n\r\n"), .malformedRequest)
    }

    func testFieldNamesMustBeTokens() {
        assertRejects("GET / HTTP/1.1\r\nHost: h\r\nX(Y): v\r\n\r\n", .malformedRequest)
        assertRejects("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", .malformedRequest)
        assertRejects("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", .malformedRequest)
        assertRejects("GET / HTTP/1.1\r\nHost: h\r\nX\u{E9}: v\r\n\r\n", .malformedRequest)
    }

    func testInvalidChunkSizes() {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        for body in ["zz\r\n", "\r\n", ";ext\r\n", "-1\r\n", "5 \r\nhello\r\n0\r\n\r\n", "5\nhello\r\n0\r\n\r\n",
                     "5\r\r\nhello", "0x5\r\n", "\u{FF11}\r\n"] {
            assertRejects(head + body, .malformedRequest)
        }
    }

    func testChunkSizeOverflow() {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        assertRejects(head + "1000000000000000\r\n", .malformedRequest)  // 16 digits
        assertRejects(head + "0000000000000000\r\n", .malformedRequest)
        // 15 digits are accepted: the body simply has not arrived.
        let outcome = assertSplitInvariant(bytes(head + "fffffffffffffff\r\nab"), { HTTP1RequestParser(limits: HTTP1Limits()) })
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.events.last, .body(bytes("ab")))
    }

    func testBadChunkDataTerminator() {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        assertRejects(head + "5\r\nhelloXX0\r\n\r\n", .malformedRequest)
        assertRejects(head + "5\r\nhello\n0\r\n\r\n", .malformedRequest)
        assertRejects(head + "5\r\nhello\rX0\r\n\r\n", .malformedRequest)
        assertRejects(head + "5\r\nhello!\r\n0\r\n\r\n", .malformedRequest)
    }

    func testChunkExtensionsAreBounded() {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        assertRejects(head + "1;" + String(repeating: "x", count: 5000) + "\r\na\r\n0\r\n\r\n", .malformedRequest)
        assertRejects(bytes(head + "1;a") + [0] + bytes("\r\na\r\n0\r\n\r\n"), .malformedRequest)
    }

    func testTrailersAreBoundedAndValidated() {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        assertRejects(head + "0\r\nX: " + String(repeating: "t", count: 300) + "\r\n\r\n", .headerFieldsTooLarge,
                      limits: Self.small)
        assertRejects(head + "0\r\nX : t\r\n\r\n", .malformedRequest)
        assertRejects(head + "0\r\n t\r\n\r\n", .malformedRequest)
        assertRejects(head + "0\r\nX: t\n\r\n", .malformedRequest)
        assertRejects(head + "0\r\nX: t\r\n\r\r\n", .malformedRequest)
    }

    func testHostIsRequiredOnceInHTTP11() {
        assertRejects("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", .malformedRequest)
        assertRejects("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", .malformedRequest)
        assertRejects("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", .malformedRequest)
    }

    func testRequestLineShape() {
        assertRejects("G@T / HTTP/1.1\r\nHost: h\r\n\r\n", .malformedRequest)
        assertRejects("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", .malformedRequest)
        assertRejects("GET /  HTTP/1.1\r\nHost: h\r\n\r\n", .malformedRequest)
        assertRejects("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", .malformedRequest)
        assertRejects("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", .malformedRequest)
        assertRejects(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", .malformedRequest)
        assertRejects("GET /\r\nHost: h\r\n\r\n", .malformedRequest)
        assertRejects("GET\r\nHost: h\r\n\r\n", .malformedRequest)
    }

    func testTargetTooLong() {
        let target = "/" + String(repeating: "a", count: 40)
        assertRejects("GET \(target) HTTP/1.1\r\nHost: h\r\n\r\n", .uriTooLong, limits: Self.small)
        assertRejects("GET \(target)\r\nHost: h\r\n\r\n", .uriTooLong, limits: Self.small)
    }

    func testTargetTooLongIsDetectedBeforeTheLineEnds() {
        var parser = HTTP1RequestParser(limits: Self.small)
        let outcome = drive(&parser, [bytes("GET /" + String(repeating: "a", count: 40))])
        XCTAssertEqual(outcome.error, .uriTooLong)
    }

    func testHeadTooLarge() {
        let head = "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 200) + "\r\n\r\n"
        assertRejects(head, .headerFieldsTooLarge, limits: Self.small)
        // One byte over: the blank line itself counts.
        let justOver = "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 169) + "\r\n\r\n"
        assertRejects(justOver, .headerFieldsTooLarge, limits: Self.small)
    }

    func testHeadTooLargeIsDetectedBeforeTheHeadEnds() {
        var parser = HTTP1RequestParser(limits: Self.small)
        let outcome = drive(&parser, [bytes("GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 200))])
        XCTAssertEqual(outcome.error, .headerFieldsTooLarge)
    }

    func testUnsupportedVersions() {
        for version in ["HTTP/2.0", "HTTP/1.2", "HTTP/3", "HTTP/2", "HTTP/0.9"] {
            assertRejects("GET / \(version)\r\nHost: h\r\n\r\n", .versionNotSupported)
        }
    }

    func testGarbageVersions() {
        for version in ["HTTX/1.1", "http/1.1", "HTTP/1.1x", "HTTP/1", "HTTP/1.", "HTTP/a.b", "HTTP/11.1", "1.1", "HTTP/1,1"] {
            assertRejects("GET / \(version)\r\nHost: h\r\n\r\n", .malformedRequest)
        }
    }

    func testChunkedInHTTP10() {
        assertRejects("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .malformedRequest)
    }

    func testSecondPipelinedRequestIsCheckedToo() {
        let outcome = assertSplitInvariant(bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
                                           { HTTP1RequestParser(limits: HTTP1Limits()) })
        XCTAssertEqual(outcome.error, .malformedRequest)
        XCTAssertEqual(outcome.events.count, 2)
    }
}
