import LenientJSON
import ProxyModel
import XCTest

final class CanonicalErrorTests: XCTestCase {
    private func text(_ r: RenderedError) -> String { String(decoding: r.body, as: UTF8.self) }

    func testFlatRenderingHasTheFourKeysInOrder() {
        let e = CanonicalError(type: .invalidRequest, code: "invalid_input", param: "offset",
                               message: "'offset' is a required property")
        let r = e.render(status: 400, options: ErrorRenderOptions(), accept: nil)
        XCTAssertEqual(r.contentType, "application/json")
        XCTAssertEqual(text(r), #"{"type":"invalid_request","code":"invalid_input","param":"offset","message":"'offset' is a required property"}"#)
    }

    func testWrappedRendering() {
        let r = CanonicalError(status: 404).render(status: 404, options: ErrorRenderOptions(format: .wrapped), accept: nil)
        XCTAssertEqual(text(r), #"{"error":{"type":"invalid_request","code":"not_found","param":null,"message":"Not Found"}}"#)
    }

    func testProblemJSONNegotiation() {
        let e = CanonicalError(status: 503)
        let negotiate = ErrorRenderOptions(problemJSON: .negotiate, problemTypeBase: "https://errors.example.com/")
        XCTAssertEqual(e.render(status: 503, options: negotiate, accept: "application/problem+json").contentType,
                       "application/problem+json")
        XCTAssertEqual(e.render(status: 503, options: negotiate, accept: "application/json, application/problem+json;q=0.9").contentType,
                       "application/json")
        XCTAssertEqual(e.render(status: 503, options: negotiate, accept: "*/*").contentType, "application/json")
        XCTAssertEqual(e.render(status: 503, options: negotiate, accept: nil).contentType, "application/json")
        let always = e.render(status: 503, options: ErrorRenderOptions(problemJSON: .always), accept: nil)
        XCTAssertEqual(text(always), #"{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"Service Unavailable","error_type":"api","code":"service_unavailable","param":null}"#)
        let based = e.render(status: 503, options: ErrorRenderOptions(problemJSON: .always, problemTypeBase: "https://e.x/"), accept: nil)
        XCTAssertTrue(text(based).hasPrefix(#"{"type":"https://e.x/service_unavailable""#))
        let never = e.render(status: 503, options: ErrorRenderOptions(problemJSON: .never), accept: "application/problem+json")
        XCTAssertEqual(never.contentType, "application/json")
    }

    func testFallbacksFromStatus() {
        XCTAssertEqual(CanonicalError(status: 401).type, .authentication)
        XCTAssertEqual(CanonicalError(status: 407).type, .authentication)
        XCTAssertEqual(CanonicalError(status: 429).type, .rateLimit)
        XCTAssertEqual(CanonicalError(status: 418).type, .invalidRequest)
        XCTAssertEqual(CanonicalError(status: 418).code, "http_418")
        XCTAssertEqual(CanonicalError(status: 418).message, "HTTP 418")
        XCTAssertEqual(CanonicalError(status: 413).message, "Content Too Large")
        XCTAssertEqual(CanonicalError(status: 422).message, "Unprocessable Content")
        XCTAssertEqual(CanonicalError(status: 422).code, "unprocessable_entity")
        XCTAssertEqual(CanonicalError(status: 599).type, .api)
        XCTAssertEqual(CanonicalError(status: 599).message, "HTTP 599")
    }

    func testRenderingIsValidJSONForAwkwardMessages() throws {
        let e = CanonicalError(type: .api, code: "x", message: "\"quoted\" \\ \u{0} \n é")
        let v = try JSONReader.parse(e.render(status: 500, options: ErrorRenderOptions(), accept: nil).body)
        XCTAssertEqual(v["message"]?.stringValue, "\"quoted\" \\ \u{0} \n é")
    }

    func testEmptyMessageIsNeverRendered() {
        XCTAssertFalse(CanonicalError(type: .api, code: "x", message: "").message.isEmpty)
    }
}
