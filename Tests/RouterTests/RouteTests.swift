import Router
import XCTest

final class RouteTests: XCTestCase {
    private func route(_ name: String, host: String? = nil, prefix: String = "/", methods: Set<String>? = nil,
                       strip: Bool = false) -> Route {
        Route(name: name, host: host.map { HostPattern($0)! }, pathPrefix: prefix, methods: methods,
              upstream: "u", stripPrefix: strip)
    }

    func testExactHostMatchesOnlyThatName() {
        let table = RouteTable([route("api", host: "api.example.com")])
        XCTAssertEqual(table.match(host: "api.example.com", path: "/", method: "GET")?.name, "api")
        XCTAssertNil(table.match(host: "www.example.com", path: "/", method: "GET"))
        XCTAssertNil(table.match(host: "x.api.example.com", path: "/", method: "GET"))
        XCTAssertNil(table.match(host: nil, path: "/", method: "GET"), "a host route needs a Host")
    }

    func testWildcardMatchesOneOrMoreLabelsButNotTheBareDomain() {
        let table = RouteTable([route("wild", host: "*.example.com")])
        XCTAssertEqual(table.match(host: "a.example.com", path: "/", method: "GET")?.name, "wild")
        XCTAssertEqual(table.match(host: "a.b.example.com", path: "/", method: "GET")?.name, "wild")
        XCTAssertNil(table.match(host: "example.com", path: "/", method: "GET"))
        XCTAssertNil(table.match(host: "badexample.com", path: "/", method: "GET"))
        XCTAssertNil(table.match(host: ".example.com", path: "/", method: "GET"))
    }

    func testPortInHostIsIgnoredAndCaseDoesNotMatter() {
        let table = RouteTable([route("api", host: "API.Example.com"), route("v6", host: "[::1]")])
        XCTAssertEqual(table.match(host: "api.example.com:8443", path: "/", method: "GET")?.name, "api")
        XCTAssertEqual(table.match(host: "Api.EXAMPLE.com", path: "/", method: "GET")?.name, "api")
        XCTAssertEqual(table.match(host: "[::1]:8080", path: "/", method: "GET")?.name, "v6")
        XCTAssertEqual(table.match(host: "api.example.com.", path: "/", method: "GET")?.name, "api",
                       "a fully qualified Host (trailing dot) names the same host")
    }

    func testNoHostPatternMatchesAnyHost() {
        let table = RouteTable([route("any")])
        XCTAssertEqual(table.match(host: "whatever.test", path: "/x", method: "GET")?.name, "any")
        XCTAssertEqual(table.match(host: nil, path: "/x", method: "GET")?.name, "any")
    }

    func testPathPrefixIsAPlainBytePrefix() {
        let table = RouteTable([route("billing", prefix: "/billing/")])
        XCTAssertEqual(table.match(host: nil, path: "/billing/invoices", method: "GET")?.name, "billing")
        XCTAssertEqual(table.match(host: nil, path: "/billing/", method: "GET")?.name, "billing")
        XCTAssertNil(table.match(host: nil, path: "/billing", method: "GET"))
        XCTAssertNil(table.match(host: nil, path: "/Billing/x", method: "GET"), "paths are case-sensitive")
        let loose = RouteTable([route("b", prefix: "/bill")])
        XCTAssertEqual(loose.match(host: nil, path: "/billing", method: "GET")?.name, "b")
    }

    func testMethodsRestrictTheRoute() {
        let table = RouteTable([route("write", methods: ["POST", "PUT"]), route("rest")])
        XCTAssertEqual(table.match(host: nil, path: "/", method: "POST")?.name, "write")
        XCTAssertEqual(table.match(host: nil, path: "/", method: "PUT")?.name, "write")
        XCTAssertEqual(table.match(host: nil, path: "/", method: "GET")?.name, "rest")
        XCTAssertEqual(table.match(host: nil, path: "/", method: "post")?.name, "rest", "methods are case-sensitive")
    }

    func testFirstMatchInFileOrderWins() {
        let table = RouteTable([route("catch-all"), route("billing", prefix: "/billing/")])
        XCTAssertEqual(table.match(host: nil, path: "/billing/x", method: "GET")?.name, "catch-all")
        let specificFirst = RouteTable([route("billing", prefix: "/billing/"), route("catch-all")])
        XCTAssertEqual(specificFirst.match(host: nil, path: "/billing/x", method: "GET")?.name, "billing")
        XCTAssertEqual(specificFirst.match(host: nil, path: "/other", method: "GET")?.name, "catch-all")
    }

    func testNoMatchIsNil() {
        let table = RouteTable([route("a", host: "a.test", prefix: "/a/")])
        XCTAssertNil(table.match(host: "a.test", path: "/b", method: "GET"))
        XCTAssertNil(RouteTable([]).match(host: nil, path: "/", method: "GET"))
    }

    func testStripPrefixKeepsALeadingSlash() {
        let slashed = route("b", prefix: "/billing/", strip: true)
        XCTAssertEqual(slashed.forwardedPath("/billing/invoices/7"), "/invoices/7")
        XCTAssertEqual(slashed.forwardedPath("/billing/"), "/")
        let bare = route("b", prefix: "/billing", strip: true)
        XCTAssertEqual(bare.forwardedPath("/billing/invoices"), "/invoices")
        XCTAssertEqual(bare.forwardedPath("/billing"), "/")
    }

    func testWithoutStripPrefixThePathIsForwardedAsIs() {
        XCTAssertEqual(route("b", prefix: "/billing/").forwardedPath("/billing/x"), "/billing/x")
        XCTAssertEqual(route("root", strip: true).forwardedPath("/x/y"), "/x/y")
    }

    func testHostPatternParsing() {
        XCTAssertEqual(HostPattern("API.example.com"), .exact("api.example.com"))
        XCTAssertEqual(HostPattern("*.Example.com"), .wildcard(suffix: ".example.com"))
        XCTAssertEqual(HostPattern("example.com."), .exact("example.com"))
        XCTAssertEqual(HostPattern("127.0.0.1"), .exact("127.0.0.1"))
        XCTAssertEqual(HostPattern("[::1]"), .exact("[::1]"))
        for invalid in ["", "*", "*.", "*.*.com", "a.*.com", "api*.example.com", "example.com/x",
                        "api.example.com:8080", "a..b", "exa mple.com", "[::1", "[not-v6]", ".example.com"] {
            XCTAssertNil(HostPattern(invalid), invalid)
        }
    }
}
