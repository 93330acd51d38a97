import HTTP1
import ProxyModel
import XCTest

final class HTTP1SerializerTests: XCTestCase {
    func testRequestHeadRoundTrips() throws {
        let head = RequestHead(method: "POST", target: "/v1/items?x=1", version: .http1_1,
                               fields: ["Host": "api.example", "Content-Length": "0", "X-Multi": "a, b"])
        var out: [UInt8] = []
        HTTP1Serializer.appendRequestHead(head, to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self),
                       "POST /v1/items?x=1 HTTP/1.1\r\nHost: api.example\r\nContent-Length: 0\r\nX-Multi: a, b\r\n\r\n")
        var parser = HTTP1RequestParser(limits: HTTP1Limits())
        let outcome = drive(&parser, [out])
        XCTAssertEqual(outcome.events, [.head(head, .contentLength(0), keepAlive: true), .end])
    }

    func testRequestHeadIsAlwaysWrittenAsHTTP11() {
        var out: [UInt8] = []
        HTTP1Serializer.appendRequestHead(RequestHead(method: "GET", target: "/", version: .http1_0, fields: HTTPFields()), to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "GET / HTTP/1.1\r\n\r\n")
    }

    func testResponseHeadRoundTrips() {
        let head = ResponseHead(status: 418, reason: "Short And Stout", version: .http1_1, fields: ["Content-Length": "2"])
        var out: [UInt8] = []
        HTTP1Serializer.appendResponseHead(head, to: &out)
        out += bytes("hi")
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "HTTP/1.1 418 Short And Stout\r\nContent-Length: 2\r\n\r\nhi")
        var parser = HTTP1ResponseParser(limits: HTTP1Limits())
        parser.expectResponse(toMethod: "GET")
        XCTAssertEqual(drive(&parser, [out]).events, [.head(head, .contentLength(2), keepAlive: true), .body(bytes("hi")), .end])
    }

    func testResponseHeadWithoutReasonUsesTheRegisteredPhrase() {
        var out: [UInt8] = []
        HTTP1Serializer.appendResponseHead(ResponseHead(status: 404, fields: ["Content-Length": "0"]), to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        out = []
        HTTP1Serializer.appendResponseHead(ResponseHead(status: 299), to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "HTTP/1.1 299 \(HTTPStatus.phrase(299))\r\n\r\n")
    }

    func testChunks() {
        var out: [UInt8] = []
        bytes("hello").withUnsafeBytes { HTTP1Serializer.appendChunk($0, to: &out) }
        [UInt8]().withUnsafeBytes { HTTP1Serializer.appendChunk($0, to: &out) }
        let big = [UInt8](repeating: 0x61, count: 300)
        big.withUnsafeBytes { HTTP1Serializer.appendChunk($0, to: &out) }
        HTTP1Serializer.appendLastChunk(to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self),
                       "5\r\nhello\r\n12c\r\n" + String(repeating: "a", count: 300) + "\r\n0\r\n\r\n")
    }

    func testChunkedBodyRoundTripsThroughTheParser() {
        var out: [UInt8] = []
        HTTP1Serializer.appendRequestHead(RequestHead(method: "PUT", target: "/x", version: .http1_1,
                                                      fields: ["Host": "h", "Transfer-Encoding": "chunked"]), to: &out)
        let pieces = [bytes("first "), bytes(""), bytes("second"), [UInt8](repeating: 0x7A, count: 4097)]
        for piece in pieces { piece.withUnsafeBytes { HTTP1Serializer.appendChunk($0, to: &out) } }
        HTTP1Serializer.appendLastChunk(to: &out)
        var parser = HTTP1RequestParser(limits: HTTP1Limits())
        let outcome = drive(&parser, [out])
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.events.dropFirst().first, .body(pieces.flatMap { $0 }))
        XCTAssertEqual(outcome.events.last, .end)
        XCTAssertEqual(outcome.leftover, [])
    }
}
