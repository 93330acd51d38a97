import ErrorNormalizer
import LenientJSON
import ProxyModel
import XCTest

/// Compiling dialects from config: each rule kind works, each mistake is reported with its path.
final class DialectTests: XCTestCase {
    private func compile(_ text: String) throws -> Result<Dialect, DialectCompileErrors> {
        Dialect.compile(name: "d", spec: try JSONReader.parse(text), path: "dialects.d")
    }

    private func problems(_ text: String) throws -> [String] {
        guard case .failure(let errors) = try compile(text) else { return [] }
        return errors.problems.map { "\($0.path): \($0.message)" }
    }

    func testABadRegexIsAConfigErrorWithItsPath() throws {
        let p = try problems(#"{"param": {"extract": {"from": "/m", "regex": "(unclosed"}}}"#)
        XCTAssertEqual(p.count, 1)
        XCTAssertTrue(p.first?.hasPrefix("dialects.d.param.extract.regex") ?? false, "\(p)")
    }

    func testUnknownKeysAndWrongTypesAreAllReported() throws {
        let p = try problems(#"{"mesage": {"from": ["/m"]}, "code": {"from": "not-a-list-or-pointer"}, "type": {"from": [1]}}"#)
        XCTAssertTrue(p.contains { $0.hasPrefix("dialects.d.mesage") }, "\(p)")
        XCTAssertTrue(p.contains { $0.hasPrefix("dialects.d.code.from") }, "\(p)")
        XCTAssertTrue(p.contains { $0.hasPrefix("dialects.d.type.from[0]") }, "\(p)")
        let bad = try problems(#"{"error_when": {"status": "7xx"}}"#)
        XCTAssertTrue(bad.contains { $0.hasPrefix("dialects.d.error_when.status") }, "\(bad)")
    }

    private func normalize(_ dialect: String, _ status: Int, _ body: String) throws -> NormalizationResult {
        ErrorNormalizer.normalize(status: status, contentType: "application/json", body: Array(body.utf8),
                                  dialect: try compile(dialect).get())
    }

    func testFromTriesPointersInOrderAndMapAndJoin() throws {
        let d = #"{"type": {"from": ["/kind", "/type"], "map": {"auth": "authentication"}}, "message": {"from": ["/msgs"], "join": " | "}, "code": {"from": ["/c"], "map": {"E1": "expired_card"}}}"#
        let r = try normalize(d, 402, #"{"type": "auth", "msgs": ["a", "b"], "c": "E1"}"#)
        XCTAssertEqual(r, .rewrite(status: 402, error: CanonicalError(type: .authentication, code: "expired_card", message: "a | b"),
                                   outcome: .rewritten))
    }

    func testExtractTakesTheFirstCaptureGroup() throws {
        let d = #"{"param": {"extract": {"from": "/m", "regex": "'([^']+)' is required"}}}"#
        guard case .rewrite(_, let e, _) = try normalize(d, 400, #"{"m": "'amount' is required"}"#) else { return XCTFail() }
        XCTAssertEqual(e.param, "amount")
    }

    func testStatusRuleAndErrorWhen() throws {
        let d = #"{"error_when": {"status": ["200", "202-204"], "body": {"/ok": false}}, "status": {"from": ["/code"]}}"#
        XCTAssertEqual(try normalize(d, 200, #"{"ok": true, "code": 423}"#), .passThrough)
        guard case .rewrite(let s, _, _) = try normalize(d, 200, #"{"ok": false, "code": 423}"#) else { return XCTFail() }
        XCTAssertEqual(s, 423)
        guard case .rewrite(let s2, _, _) = try normalize(d, 203, #"{"ok": false}"#) else { return XCTFail() }
        XCTAssertEqual(s2, 502, "error_when without a status in the body is a 502")
        XCTAssertTrue(try compile(d).get().hasErrorWhen)
        XCTAssertFalse(Dialect.auto.hasErrorWhen)
    }
}
