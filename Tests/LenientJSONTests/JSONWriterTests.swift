import LenientJSON
import XCTest

final class JSONWriterTests: XCTestCase {
    private func written(_ s: String) -> String {
        var out: [UInt8] = []
        JSONWriter.appendString(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func testStringsAreQuotedAndOnlyQuotesBackslashesAndControlsEscaped() {
        XCTAssertEqual(written(""), #""""#)
        XCTAssertEqual(written("plain text, 'single' quotes/slashes"), #""plain text, 'single' quotes/slashes""#)
        XCTAssertEqual(written(#"say "hi""#), #""say \"hi\"""#)
        XCTAssertEqual(written(#"C:\dir\"#), #""C:\\dir\\""#)
        XCTAssertEqual(written("a\nb\rc\td"), #""a\nb\rc\td""#)
        XCTAssertEqual(written("\u{0}\u{1}\u{8}\u{C}\u{1F}\u{7F}"), #""\u0000\u0001\u0008\u000c\u001f\u007f""#)
        XCTAssertEqual(written("\"\"\\\n"), #""\"\"\\\n""#)
    }

    func testNonASCIIIsCopiedAsUTF8() {
        XCTAssertEqual(written("café – 日本 🎉"), "\"café – 日本 🎉\"")
        XCTAssertEqual(written("\u{80}\u{9F}\u{2028}"), "\"\u{80}\u{9F}\u{2028}\"")
    }

    func testAppendsAfterWhatIsAlreadyThere() {
        var out = Array("[1,".utf8)
        JSONWriter.appendString("x\"y", to: &out)
        JSONWriter.appendString(String(repeating: "long text ", count: 40), to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "[1,\"x\\\"y\"\"" + String(repeating: "long text ", count: 40) + "\"")
    }
}
