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
}
