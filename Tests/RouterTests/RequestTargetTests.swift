import Router
import XCTest

final class RequestTargetTests: XCTestCase {
    func testOriginFormSplitsPathAndQuery() {
        let t = RequestTarget("/billing/invoices?limit=10&offset=0")
        XCTAssertEqual(t?.path, "/billing/invoices")
        XCTAssertEqual(t?.query, "limit=10&offset=0")
        XCTAssertEqual(RequestTarget("/a")?.query, nil)
        XCTAssertEqual(RequestTarget("/a?")?.query, "", "an empty query is kept as sent")
    }

    func testQueryIsPreservedVerbatimInTheForwardedTarget() {
        let t = RequestTarget("/billing/../accounts/./x?q=a/../b&r=%2F")!
        XCTAssertEqual(t.path, "/accounts/x")
        XCTAssertEqual(t.query, "q=a/../b&r=%2F", "dot-segments in the query are not paths")
        XCTAssertEqual(t.origin(path: "/x"), "/x?q=a/../b&r=%2F")
        XCTAssertEqual(RequestTarget("/x")!.origin(path: "/y"), "/y")
    }

    func testDotSegmentsAreRemoved() {
        let cases: [(String, String)] = [
            ("/a/./b", "/a/b"),
            ("/a/b/../c", "/a/c"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/a/..", "/"),
            ("/.", "/"),
            ("/./a/", "/a/"),
            ("/a/b/c/../../d", "/a/d"),
            ("/a.b/..c/.d", "/a.b/..c/.d"),
            ("//a/../b", "//b"),
            ("/a/%2e%2e/b", "/a/%2e%2e/b"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(RequestTarget(input)?.path, expected, input)
        }
    }

    func testClimbingAboveTheRootIsRejected() {
        XCTAssertNil(RequestTarget("/.."))
        XCTAssertNil(RequestTarget("/../etc/passwd"))
        XCTAssertNil(RequestTarget("/a/../../b"))
        XCTAssertNil(RequestTarget("/a/../..?x=1"))
        XCTAssertNotNil(RequestTarget("/a/b/../../"))
    }

    func testAbsoluteFormTakesPathAndQueryAndIgnoresTheAuthority() {
        XCTAssertEqual(RequestTarget("http://api.example.com/a/../b?x=1"), RequestTarget("/b?x=1"))
        XCTAssertEqual(RequestTarget("HTTPS://api.example.com:8443/v1")?.path, "/v1")
        XCTAssertEqual(RequestTarget("http://api.example.com")?.path, "/")
        let queryOnly = RequestTarget("http://api.example.com?x=1")
        XCTAssertEqual(queryOnly?.path, "/")
        XCTAssertEqual(queryOnly?.query, "x=1")
        XCTAssertNil(RequestTarget("http://api.example.com/../x"))
    }

    func testTargetsThatAreNotPathsAreRejected() {
        XCTAssertNil(RequestTarget(""))
        XCTAssertNil(RequestTarget("*"))
        XCTAssertNil(RequestTarget("api.example.com:443"))
        XCTAssertNil(RequestTarget("ftp://example.com/x"))
        XCTAssertNil(RequestTarget("a/b"))
    }

    func testHostWithoutPort() {
        XCTAssertEqual(RequestTarget.hostWithoutPort("API.example.com:8080"), "api.example.com")
        XCTAssertEqual(RequestTarget.hostWithoutPort("api.example.com"), "api.example.com")
        XCTAssertEqual(RequestTarget.hostWithoutPort("[::1]:80"), "[::1]")
        XCTAssertEqual(RequestTarget.hostWithoutPort("[::1]"), "[::1]")
        XCTAssertEqual(RequestTarget.hostWithoutPort("example.com.:80"), "example.com")
        XCTAssertEqual(RequestTarget.hostWithoutPort("Example.COM."), "example.com")
        XCTAssertEqual(RequestTarget.hostWithoutPort("."), ".")
        XCTAssertEqual(RequestTarget.hostWithoutPort("[::1"), "[::1")
        XCTAssertEqual(RequestTarget.hostWithoutPort("ÉCOLE.example:80"), "école.example")
    }
}
