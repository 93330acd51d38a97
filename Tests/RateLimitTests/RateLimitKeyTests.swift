import ProxyModel
import XCTest
@testable import RateLimit

final class RateLimitKeyTests: XCTestCase {
    let trusted = [AddressRange("127.0.0.1/32")!, AddressRange("10.0.0.0/8")!]

    func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    func clientKey(peer: String, xff: [String]) -> RateLimitKey {
        var h = HTTPFields()
        for v in xff { h.append("X-Forwarded-For", v) }
        return RateLimitKey.derive(policy: .clientIP, peer: ip(peer), headers: h, route: "r", trustedProxies: trusted)
    }

    func testUntrustedPeerIgnoresSpoofedXFF() {
        XCTAssertEqual(clientKey(peer: "203.0.113.9", xff: ["198.51.100.1"]), .address(ip("203.0.113.9")))
        XCTAssertEqual(clientKey(peer: "203.0.113.9", xff: []), .address(ip("203.0.113.9")))
    }

    func testTrustedPeerUsesRightMostUntrusted() {
        // The client prepended a spoofed entry; the right-most untrusted one is the real client.
        XCTAssertEqual(clientKey(peer: "127.0.0.1", xff: ["6.6.6.6, 198.51.100.7, 10.1.2.3"]),
                       .address(ip("198.51.100.7")))
        // Several fields form one list, in order.
        XCTAssertEqual(clientKey(peer: "127.0.0.1", xff: ["6.6.6.6", "198.51.100.7", "10.1.2.3"]),
                       .address(ip("198.51.100.7")))
    }

    func testTrustedPeerWithoutXFFUsesPeer() {
        XCTAssertEqual(clientKey(peer: "127.0.0.1", xff: []), .address(ip("127.0.0.1")))
    }

    func testAllTrustedUsesLeftMost() {
        XCTAssertEqual(clientKey(peer: "127.0.0.1", xff: ["10.0.0.5, 10.0.0.6"]), .address(ip("10.0.0.5")))
    }

    func testUnparseableEntryStopsTheWalk() {
        XCTAssertEqual(clientKey(peer: "127.0.0.1", xff: ["6.6.6.6, junk"]), .addressText("junk"))
        XCTAssertNotEqual(clientKey(peer: "127.0.0.1", xff: ["6.6.6.6, junk"]), .address(ip("6.6.6.6")))
    }

    func testIPv4AndMappedIPv6AreOneClient() {
        XCTAssertEqual(clientKey(peer: "127.0.0.1", xff: ["::ffff:198.51.100.7"]), .address(ip("198.51.100.7")))
    }

    func testHeaderKey() {
        var a = HTTPFields(); a.append("Authorization", "Bearer A")
        var b = HTTPFields(); b.append("authorization", "Bearer B")
        let none = HTTPFields()
        func k(_ h: HTTPFields) -> RateLimitKey {
            RateLimitKey.derive(policy: .header("Authorization"), peer: nil, headers: h, route: "r", trustedProxies: [])
        }
        XCTAssertNotEqual(k(a), k(b))
        XCTAssertEqual(k(a), k(a))
        XCTAssertEqual(k(none), .header([""]))
        XCTAssertNotEqual(k(none), k(a))
        XCTAssertNotEqual(k(a), .route("Bearer A"))
    }

    func testRouteAndGlobal() {
        let h = HTTPFields()
        XCTAssertEqual(RateLimitKey.derive(policy: .route, peer: nil, headers: h, route: "billing", trustedProxies: []),
                       .route("billing"))
        XCTAssertNotEqual(RateLimitKey.route("billing"), .route("accounts"))
        XCTAssertEqual(RateLimitKey.derive(policy: .global, peer: ip("1.2.3.4"), headers: h, route: "x", trustedProxies: []),
                       RateLimitKey.derive(policy: .global, peer: ip("5.6.7.8"), headers: h, route: "y", trustedProxies: []))
    }
}

extension RateLimitKeyTests {
    func testRepeatedHeaderFieldsFormOneValueList() {
        var two = HTTPFields(); two.append("X-Key", "a"); two.append("Host", "h"); two.append("x-key", "b")
        var one = HTTPFields(); one.append("X-Key", "a")
        func k(_ h: HTTPFields) -> RateLimitKey {
            RateLimitKey.derive(policy: .header("X-Key"), peer: nil, headers: h, route: "r", trustedProxies: [])
        }
        XCTAssertEqual(k(two), .header(["a", "b"]))
        XCTAssertEqual(k(one), .header(["a"]))
        XCTAssertNotEqual(k(two), k(one))
        XCTAssertEqual(RateLimitKey.header([]), .header([""]))
    }

    func testSharedTextIsTheSameInEveryProcessAndKeepsKeysApart() {
        func text(_ policy: RateLimitPolicy.Key, peer: String = "203.0.113.9", _ fields: [(String, String)] = []) -> String {
            var h = HTTPFields()
            for (n, v) in fields { h.append(n, v) }
            return RateLimitKey.sharedText(policy: policy, peer: ip(peer), headers: h, route: "billing", trustedProxies: trusted)
        }
        // Plain text, no per-process seed: another instance derives the same.
        XCTAssertEqual(text(.global), "g")
        XCTAssertEqual(text(.route), "r:billing")
        XCTAssertEqual(text(.header("authorization"), [("Authorization", "Bearer a"), ("Accept", "x")]), "h:Bearer a")
        XCTAssertEqual(text(.header("X-Key"), [("x-key", "a"), ("X-KEY", "b")]), "h:a\0b")
        XCTAssertEqual(text(.header("X-Key")), "h:", "absent: the empty value, one shared bucket")
        XCTAssertEqual(text(.clientIP), "a:203.0.113.9")
        XCTAssertEqual(text(.clientIP, peer: "127.0.0.1", [("X-Forwarded-For", "198.51.100.7, 10.1.2.3")]), "a:198.51.100.7")
        XCTAssertEqual(text(.clientIP, peer: "127.0.0.1", [("X-Forwarded-For", "host:80")]), "t:host:80")
        // Two values joined are not one value containing the separator's text.
        XCTAssertNotEqual(text(.header("X-Key"), [("X-Key", "a, b")]), text(.header("X-Key"), [("X-Key", "a"), ("X-Key", "b")]))
    }
}
