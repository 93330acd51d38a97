import HTTP1
import ProxyModel
import XCTest

final class HopByHopTests: XCTestCase {
    func testRemovesFixedAndConnectionNamedFields() {
        var fields: HTTPFields = [
            "Host": "h", "Connection": "close, X-Session", "connection": "Foo", "Keep-Alive": "timeout=5",
            "Proxy-Connection": "keep-alive", "TE": "trailers", "Trailer": "X-T", "Transfer-Encoding": "chunked",
            "Upgrade": "h2c", "x-session": "1", "FOO": "2", "Content-Type": "application/json", "X-Other": "3",
        ]
        HopByHop.remove(from: &fields)
        XCTAssertEqual(fields, ["Host": "h", "Content-Type": "application/json", "X-Other": "3"])
    }

    func testLeavesEndToEndFieldsAlone() {
        var fields: HTTPFields = ["Accept": "*/*", "Content-Length": "3"]
        HopByHop.remove(from: &fields)
        XCTAssertEqual(fields, ["Accept": "*/*", "Content-Length": "3"])
    }

    func testIsFixedMatchesTheFixedNamesInAnyCaseAndNothingElse() {
        for name in HopByHop.fixedNames {
            XCTAssertTrue(HopByHop.isFixed(name), name)
            XCTAssertTrue(HopByHop.isFixed(name.uppercased()), name)
        }
        for other in ["tf", "trailers", "upgrade1", "connectio", "keep_alive", "content-length", "transfer-encodinG2", ""] {
            XCTAssertFalse(HopByHop.isFixed(other), other)
        }
    }
}
