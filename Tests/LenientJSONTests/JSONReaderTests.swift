import LenientJSON
import XCTest

final class JSONReaderTests: XCTestCase {
    func testParsesObjectsInOrderWithLastDuplicateWinning() throws {
        let v = try JSONReader.parse(#"{"b":1,"a":[true,null,"x"],"b":2.5e1}"#)
        XCTAssertEqual(v.objectValue?.keys, ["b", "a", "b"])
        XCTAssertEqual(v["b"], .number("2.5e1"))
        XCTAssertEqual(v["a"], .array([.bool(true), .null, .string("x")]))
    }

    func testTrailingCommasAreTolerated() throws {
        let v = try JSONReader.parse("{\n\"type\": \"api_error\",\n\"message\": \"No way\",\n}")
        XCTAssertEqual(v["message"]?.stringValue, "No way")
        XCTAssertEqual(try JSONReader.parse("[1,2,]"), .array([.number("1"), .number("2")]))
    }

    func testTrailingCommasRefusedWhenDisabled() {
        XCTAssertThrowsError(try JSONReader.parse("[1,]", options: .init(allowTrailingCommas: false)))
    }

    func testRejectsWhatIsNotJSON() {
        for bad in ["", "{", "[,]", "{\"a\" 1}", "01", "1.", "tru", "\"a\u{01}\"", "{} x", "<html>", "{'a':1}", "[1,,2]"] {
            XCTAssertThrowsError(try JSONReader.parse(bad), "accepted \(bad.debugDescription)")
        }
    }

    func testDeepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try JSONReader.parse(deep)) { error in
            XCTAssertTrue((error as? JSONError)?.reason.contains("nested deeper") ?? false)
        }
        XCTAssertNoThrow(try JSONReader.parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
    }

    func testInvalidUTF8IsRejected() {
        XCTAssertThrowsError(try JSONReader.parse([0x22, 0xC3, 0x28, 0x22]))
        XCTAssertThrowsError(try JSONReader.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]))
    }

    func testEscapesAndSurrogatePairs() throws {
        XCTAssertEqual(try JSONReader.parse(#""a\"b\\c\/\n\u00e9\ud83d\ude00""#), .string("a\"b\\c/\né😀"))
        XCTAssertEqual(try JSONReader.parse(#""\ud800x""#), .string("\u{FFFD}x"))
    }

    func testWriterRoundTrips() throws {
        let text = #"{"type":"api","code":"x.y-z","param":null,"message":"quote \" back \\ nl \n tab \t ctl \u0001"}"#
        let v = try JSONReader.parse(text)
        XCTAssertEqual(JSONWriter.string(v), text)
        XCTAssertEqual(try JSONReader.parse(JSONWriter.string(v)), v)
    }
}
