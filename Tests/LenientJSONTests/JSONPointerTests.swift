import LenientJSON
import XCTest

final class JSONPointerTests: XCTestCase {
    func testRFC6901Examples() throws {
        let doc = try JSONReader.parse(#"{"foo":["bar","baz"],"":0,"a/b":1,"m~n":8,"message":{"message":["first"]}}"#)
        XCTAssertEqual(JSONPointer("")?.resolve(in: doc), doc)
        XCTAssertEqual(JSONPointer("/foo/0")?.resolve(in: doc), .string("bar"))
        XCTAssertEqual(JSONPointer("/")?.resolve(in: doc), .number("0"))
        XCTAssertEqual(JSONPointer("/a~1b")?.resolve(in: doc), .number("1"))
        XCTAssertEqual(JSONPointer("/m~0n")?.resolve(in: doc), .number("8"))
        XCTAssertEqual(JSONPointer("/message/message/0")?.resolve(in: doc), .string("first"))
    }

    func testMissingStepsAndBadIndexesResolveToNil() throws {
        let doc = try JSONReader.parse(#"{"foo":["bar"]}"#)
        XCTAssertNil(JSONPointer("/foo/1")?.resolve(in: doc))
        XCTAssertNil(JSONPointer("/foo/01")?.resolve(in: doc))
        XCTAssertNil(JSONPointer("/foo/-")?.resolve(in: doc))
        XCTAssertNil(JSONPointer("/nope")?.resolve(in: doc))
        XCTAssertNil(JSONPointer("/foo/0/x")?.resolve(in: doc))
    }

    func testInvalidPointersAreRefused() {
        XCTAssertNil(JSONPointer("foo"))
        XCTAssertNil(JSONPointer("/a~2"))
        XCTAssertNil(JSONPointer("/a~"))
    }

    func testDottedForm() {
        XCTAssertEqual(JSONPointer("/data/attributes/email")?.dotted, "data.attributes.email")
    }
}
