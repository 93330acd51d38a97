import ProxyModel
import XCTest

final class ProxyErrorTests: XCTestCase {
    func testSynthesizedErrorsMatchTheContractTable() {
        let table: [(ProxyError.Kind, Int, String, String)] = [
            (.malformedRequest, 400, "malformed_request", "http_request_error"),
            (.routeNotFound, 404, "route_not_found", "destination_not_found"),
            (.requestTimeout, 408, "request_timeout", "http_request_error"),
            (.payloadTooLarge, 413, "payload_too_large", "http_request_error"),
            (.uriTooLong, 414, "uri_too_long", "http_request_error"),
            (.headerFieldsTooLarge, 431, "request_header_fields_too_large", "http_request_error"),
            (.rateLimited, 429, "rate_limited", "http_request_denied"),
            (.notImplemented, 501, "not_implemented", "http_request_error"),
            (.upstreamConnectFailed(.refused), 502, "upstream_connect_failed", "connection_refused"),
            (.upstreamConnectFailed(.nameNotResolved), 502, "upstream_connect_failed", "destination_not_found"),
            (.upstreamConnectFailed(.tlsCertificate), 502, "upstream_connect_failed", "tls_certificate_error"),
            (.upstreamConnectFailed(.tlsProtocol), 502, "upstream_connect_failed", "tls_protocol_error"),
            (.upstreamProtocolError, 502, "upstream_protocol_error", "http_protocol_error"),
            (.upstreamClosed, 502, "upstream_closed", "connection_terminated"),
            (.upstreamUnavailable(connectionLimit: false), 503, "upstream_unavailable", "destination_unavailable"),
            (.upstreamUnavailable(connectionLimit: true), 503, "upstream_unavailable", "connection_limit_reached"),
            (.upstreamTimeout(.connect), 504, "upstream_timeout", "connection_timeout"),
            (.upstreamTimeout(.responseHead), 504, "upstream_timeout", "http_response_timeout"),
            (.versionNotSupported, 505, "http_version_not_supported", "http_request_error"),
        ]
        for (kind, status, code, proxyStatus) in table {
            let e = ProxyError(kind)
            XCTAssertEqual(e.status, status, "\(kind)")
            XCTAssertEqual(e.code, code, "\(kind)")
            XCTAssertEqual(e.proxyStatus, "errata; error=\(proxyStatus)", "\(kind)")
            XCTAssertEqual(e.canonical.type, HTTPStatus.errorType(status))
            XCTAssertFalse(e.canonical.message.isEmpty)
        }
    }

    func testProxyStatusDetailsAreQuoted() {
        let e = ProxyError(.upstreamConnectFailed(.nameNotResolved), details: "name \"a\\b\" unknown")
        XCTAssertEqual(e.proxyStatus, #"errata; error=destination_not_found; details="name \"a\\b\" unknown""#)
        XCTAssertEqual(ProxyStatus.received(status: 503), "errata; received-status=503")
    }

    func testFieldsLookupIsCaseInsensitive() {
        var f: HTTPFields = ["Content-Type": "text/html", "X-A": "1", "x-a": "2"]
        XCTAssertEqual(f.first("content-type"), "text/html")
        XCTAssertEqual(f.all("X-a"), ["1", "2"])
        f.set("X-A", "3")
        XCTAssertEqual(f.all("x-a"), ["3"])
        XCTAssertFalse(HTTPFields.equalsIgnoringCase("a-b", "a\rb"))
        XCTAssertFalse(HTTPFields.equalsIgnoringCase("[", "{"))
    }
}
