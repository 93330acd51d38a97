import ProxyModel
import XCTest

final class HTTPFieldsTests: XCTestCase {
    func testRemoveAnyOfDropsEveryNamedFieldIgnoringCaseAndKeepsTheRestInOrder() {
        var fields: HTTPFields = ["Server": "legacy", "content-type": "text/html", "ETag": "\"a\"",
                                  "Set-Cookie": "a=1", "CONTENT-LENGTH": "12", "etag": "\"b\"", "Set-Cookie": "b=2"]
        fields.remove(anyOf: ["Content-Type", "Content-Length", "ETag", "Proxy-Status"])
        XCTAssertEqual(fields.entries.map(\.name), ["Server", "Set-Cookie", "Set-Cookie"])
        XCTAssertEqual(fields.all("Set-Cookie"), ["a=1", "b=2"])
        fields.remove(anyOf: [])
        XCTAssertEqual(fields.count, 3)
    }

    func testListMembersAreTrimmedAndNonEmpty() {
        XCTAssertEqual(HTTPFields.listMembers("keep-alive"), ["keep-alive"])
        XCTAssertEqual(HTTPFields.listMembers(" close ,\tUpgrade\t, , x-a,"), ["close", "Upgrade", "x-a"])
        XCTAssertEqual(HTTPFields.listMembers(""), [])
        XCTAssertEqual(HTTPFields.listMembers(" , ,\t"), [])
        XCTAssertEqual(HTTPFields.listMembers("gzip,chunked"), ["gzip", "chunked"])
        XCTAssertEqual(HTTPFields.listMembers("é a , b"), ["é a", "b"])
    }

    func testLookupIgnoresCase() {
        var fields: HTTPFields = ["Content-Type": "a", "X-A": "1"]
        fields.append("x-a", "2")
        XCTAssertEqual(fields.first("content-type"), "a")
        XCTAssertEqual(fields.all("X-a"), ["1", "2"])
        fields.remove("X-A")
        XCTAssertEqual(fields.count, 1)
    }
}
