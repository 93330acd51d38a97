import ProxyModel
import XCTest

final class AddressRangeTests: XCTestCase {
    func testIPv4DottedQuads() {
        XCTAssertEqual(IPAddress("127.0.0.1")?.description, "127.0.0.1")
        XCTAssertEqual(IPAddress("0.0.0.0")?.description, "0.0.0.0")
        XCTAssertEqual(IPAddress("255.255.255.255")?.description, "255.255.255.255")
        XCTAssertEqual(IPAddress("203.0.113.10")?.isV4, true)
    }

    func testIPv4RejectsWhatIsNotADottedQuad() {
        for text in ["", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "256.1.1.1", "1.2.3.1000",
                     "01.2.3.4", "1.2.3.00", "1.2.3.4 ", "1.2.3.a", "１.2.3.4", "1.2.3.-4"] {
            XCTAssertNil(IPAddress(text), text)
        }
    }

    func testIPv6AndEmbeddedIPv4() {
        XCTAssertEqual(IPAddress("::1")?.isV4, false)
        XCTAssertEqual(IPAddress("::ffff:10.0.0.1")?.description, "0:0:0:0:0:ffff:a00:1")
        XCTAssertNil(IPAddress("::ffff:10.0.0.01"))
    }

    func testRangesContainTheirAddresses() {
        let range = AddressRange("10.0.0.0/8")!
        XCTAssertTrue(range.contains(IPAddress("10.200.1.2")!))
        XCTAssertFalse(range.contains(IPAddress("11.0.0.1")!))
    }
}
