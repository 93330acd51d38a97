import ErrorNormalizer
import Foundation
import LenientJSON
import ProxyModel
import XCTest

/// The pure normalizer: every acceptance vector, the fallbacks, and bodies built to hurt.
final class ErrorNormalizerTests: XCTestCase {
    private static func fixture() -> [String: Any] {
        let url = Bundle.module.url(forResource: "dialect-vectors", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    static func dialects() throws -> [String: Dialect] {
        var out: [String: Dialect] = ["auto": .auto]
        for (name, spec) in fixture()["dialects"] as! [String: Any] {
            let text = String(decoding: try JSONSerialization.data(withJSONObject: spec), as: UTF8.self)
            out[name] = try Dialect.compile(name: name, spec: JSONReader.parse(text), path: "dialects.\(name)").get()
        }
        return out
    }

    func testEveryVector() throws {
        let dialects = try Self.dialects()
        let vectors = Self.fixture()["vectors"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(vectors.count, 38)
        for v in vectors {
            let name = v["name"] as! String
            let up = v["upstream"] as! [String: Any]
            let headers = up["headers"] as? [String: String] ?? [:]
            let body: [UInt8]
            if let text = up["body_text"] as? String {
                body = Array(text.utf8)
            } else {
                body = Array(try JSONSerialization.data(withJSONObject: up["body"]!))
            }
            let dialect = try XCTUnwrap(dialects[v["dialect"] as! String], name)
            let result = ErrorNormalizer.normalize(status: up["status"] as! Int, contentType: headers["Content-Type"],
                                                   body: body, dialect: dialect)
            let expect = v["expect"] as! [String: Any]
            if expect["passthrough"] != nil {
                XCTAssertEqual(result, .passThrough, name)
                continue
            }
            guard case .rewrite(let status, let error, _) = result else { XCTFail("\(name): passed through"); continue }
            let want = expect["body"] as! [String: Any]
            XCTAssertEqual(status, expect["status"] as? Int, name)
            XCTAssertEqual(error.type.rawValue, want["type"] as? String, name)
            XCTAssertEqual(error.code, want["code"] as? String, name)
            XCTAssertEqual(error.param, want["param"] as? String, name)
            XCTAssertEqual(error.message, want["message"] as? String, name)
        }
    }

    private func rewrite(_ status: Int, _ body: String, contentType: String? = "application/json",
                         dialect: Dialect = .auto) -> (Int, CanonicalError, NormalizationResult.Outcome)? {
        guard case .rewrite(let s, let e, let o) = ErrorNormalizer.normalize(status: status, contentType: contentType,
                                                                            body: Array(body.utf8), dialect: dialect) else { return nil }
        return (s, e, o)
    }

    func testHTMLAndTextBodiesYieldTheStatusPhraseNeverTheirContent() {
        let html = rewrite(502, "<html><body>secret stack trace</body></html>", contentType: "text/html")
        XCTAssertEqual(html?.1, CanonicalError(status: 502))
        XCTAssertEqual(html?.2, .unreadable)
        let text = rewrite(403, "Forbidden: internal detail", contentType: "text/plain")
        XCTAssertEqual(text?.1, CanonicalError(status: 403))
    }

    func testDeepNestingInvalidUTF8AndLargeBodiesFallBackWithoutCrashing() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertEqual(rewrite(500, deep)?.1, CanonicalError(status: 500))
        let deepObjects = String(repeating: "{\"error\":", count: 100_000) + "1" + String(repeating: "}", count: 100_000)
        XCTAssertEqual(rewrite(500, deepObjects)?.1, CanonicalError(status: 500))
        var invalid = Array("{\"message\":\"".utf8) + [0xFF, 0xFE, 0xC0] + Array("\"}".utf8)
        if case .rewrite(_, let e, _) = ErrorNormalizer.normalize(status: 400, contentType: "application/json",
                                                                  body: invalid, dialect: .auto) {
            XCTAssertEqual(e.type, .invalidRequest)
            XCTAssertFalse(e.message.isEmpty)
        } else { XCTFail("passed through") }
        invalid = Array("{\"message\":\"".utf8) + [UInt8](repeating: 0x61, count: 1 << 20) + Array("\"}".utf8)
        XCTAssertEqual(rewrite(500, String(decoding: invalid, as: UTF8.self))?.1.message.count, 1 << 20,
                       "the normalizer reads what it is given; the proxy bounds the body")
    }

    func testAValueOfTheWrongTypeMakesOnlyThatFieldFallBack() {
        let r = rewrite(404, #"{"code": 404, "message": {"nested": true}, "type": null, "param": 7, "error_description": "No such invoice"}"#)
        XCTAssertEqual(r?.1.code, "not_found", "a number is never a code")
        XCTAssertEqual(r?.1.type, .invalidRequest)
        XCTAssertNil(r?.1.param)
        XCTAssertEqual(r?.1.message, "No such invoice")
    }

    func testGRPCAnd204And304AndSuccessesPassThrough() {
        XCTAssertEqual(ErrorNormalizer.normalize(status: 500, contentType: "application/grpc", body: [], dialect: .auto), .passThrough)
        XCTAssertEqual(ErrorNormalizer.normalize(status: 204, contentType: nil, body: [], dialect: .auto), .passThrough)
        XCTAssertEqual(ErrorNormalizer.normalize(status: 304, contentType: nil, body: [], dialect: .auto), .passThrough)
        XCTAssertEqual(ErrorNormalizer.normalize(status: 200, contentType: "application/json",
                                                 body: Array(#"{"status":"failure"}"#.utf8), dialect: .auto), .passThrough)
    }

    func testAutoReadsErrorsArraysFaultsAndPointerParams() {
        let r = rewrite(422, #"{"errors":[{"code":"invalid_email","detail":"Email is invalid","source":{"pointer":"/data/attributes/email"}}]}"#)
        XCTAssertEqual(r?.1, CanonicalError(type: .invalidRequest, code: "invalid_email", param: "data.attributes.email",
                                            message: "Email is invalid"))
        XCTAssertEqual(r?.2, .rewritten)
        let fault = rewrite(503, #"{"fault":{"faultstring":"x","code":"backend.down","message":"Backend is down"}}"#)
        XCTAssertEqual(fault?.1.code, "backend.down")
        XCTAssertEqual(fault?.1.message, "Backend is down")
    }

    /// Any bytes and any status 400–599 give a canonical error: a type in the enum, a code
    /// token, a non-empty message.
    func testPropertyAnyBytesGiveACanonicalError() {
        var rng = SystemRandomNumberGenerator()
        let pieces = ["{", "}", "[", "]", "\"message\"", "\"error\"", ":", ",", "\"x\"", "1", "null", "\"code\"", "\u{0}", "\\"]
        for _ in 0..<3_000 {
            let status = Int.random(in: 400...599, using: &rng)
            let body: [UInt8] = Bool.random(using: &rng)
                ? (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                : Array((0..<Int.random(in: 0...24, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined().utf8)
            guard case .rewrite(let s, let e, _) = ErrorNormalizer.normalize(status: status, contentType: "application/json",
                                                                            body: body, dialect: .auto) else {
                return XCTFail("passed through")
            }
            XCTAssertTrue((400...599).contains(s))
            XCTAssertFalse(e.message.isEmpty)
            XCTAssertFalse(e.code.isEmpty)
            let rendered = e.render(status: s, options: ErrorRenderOptions(), accept: nil)
            let json = try? JSONSerialization.jsonObject(with: Data(rendered.body)) as? [String: Any]
            XCTAssertEqual(json.map { Set($0.keys) }, ["type", "code", "param", "message"])
        }
    }
}
