import HTTPTestClient
import Foundation
import LegacyDemo
import XCTest

final class SeedAPITests: XCTestCase {
    private var servers: [SeedAPI: LegacyServer] = [:]

    override func setUpWithError() throws {
        for api in SeedAPI.allCases {
            servers[api] = try LegacyServer(port: 0, handler: api.handler())
        }
    }

    override func tearDown() {
        for server in servers.values { server.stop() }
        servers.removeAll()
        super.tearDown()
    }

    /// Sends `method target` with `headers`/`body` to `api` over a fresh connection.
    private func request(_ api: SeedAPI, _ method: String, _ target: String,
                         headers: [(String, String)] = [], body: String? = nil) throws -> RawResponse {
        let client = try RawHTTPClient(port: servers[api]!.port)
        var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        return try client.exchange(text, forHEAD: method == "HEAD")
    }

    // MARK: - The seed formats, byte for byte (copied from the dialect vectors)

    /// (api, method, target, headers, body, expected status, expected body).
    private let vectors: [(SeedAPI, String, String, [(String, String)], String?, Int, String)] = [
        (.oneclick, "POST", "/charge", [], #"{"amount":1}"#, 401,
         #"{"type":"key_error","message":"The API key in the request is invalid."}"#),
        (.oneclick, "POST", "/charge", [("Authorization", "Bearer k")], "{}", 400,
         #"{"type":"invalid_request_error","message":"Missing required field: amount"}"#),
        (.oneclick, "GET", "/error/500", [], nil, 500, #"{"type":"api_error","message":"No way this is happening!?"}"#),
        (.oneclick, "GET", "/error/trailing-comma", [], nil, 500,
         "{\n\"type\": \"api_error\",\n\"message\": \"No way this is happening!?\",\n}"),
        (.billing, "GET", "/error/500", [], nil, 500, #"{"code":500,"message":"Internal Server Error","status":"failure"}"#),
        (.billing, "GET", "/error/423", [], nil, 423,
         #"{"code":423,"message":"The object is still being updated (locked). Try your request again later.","status":"failure"}"#),
        (.billing, "GET", "/error/429", [], nil, 429,
         #"{"code":429,"message":"You have reached the request rate limit. Try your request again later.","status":"failure"}"#),
        (.billing, "GET", "/invoices", [], nil, 400,
         #"{"code":400,"message":{"error_code":"invalid_input","message":["'offset' is a required property"]}}"#),
        (.billing, "GET", "/invoices?limit=500", [], nil, 400,
         #"{"code":400,"message":{"error_code":"invalid_input","message":["'offset' is a required property","'limit' must be at most 100"]}}"#),
        (.billing, "GET", "/error/200", [], nil, 200,
         #"{"code":423,"message":"The object is still being updated (locked).","status":"failure"}"#),
        (.billing, "GET", "/invoices?offset=0", [], nil, 200, #"{"status":"success","content":"... API response goes here ..."}"#),
        (.catalog, "GET", "/nope", [], nil, 404, #"{"message":"404","description":"The requested resource was not found"}"#),
        (.catalog, "POST", "/items", [("Content-Type", "text/plain")], "x", 415,
         #"{"message":"Unsupported Media Type","description":"The request was made with an unsupported media type"}"#),
        (.catalog, "POST", "/items", [("Content-Type", "application/json")], "{}", 201, #"{"id":7}"#),
        (.catalog, "POST", "/oauth/token", [("Authorization", "Basic eDp5")], "grant_type=password", 400,
         #"{"error":"unsupported_grant_type","error_description":"The grant type is not supported by the server"}"#),
        (.catalog, "POST", "/oauth/token", [], "grant_type=client_credentials", 401,
         #"{"error":"invalid_client","error_description":"The client ID or client secret is invalid"}"#),
        (.catalog, "GET", "/error/oauth-500", [], nil, 500,
         #"{"error":"server_error","error_description":"The server encountered an error while processing the request"}"#),
        (.accounts, "GET", "/accounts/me", [], nil, 403,
         #"{"code":"insufficient_permissions","message":"This account does not have permission to view the requested resource.","param":null,"type":"authentication"}"#),
        (.accounts, "POST", "/customers", [], #"{"customer":{}}"#, 400,
         #"{"type":"invalid_request","code":"parameter_missing","param":"customer.id","message":"The customer id is required."}"#),
        (.accounts, "GET", "/error/429", [], nil, 429,
         #"{"type":"rate_limit","code":"too_many_requests","param":null,"message":"Too many requests hit the API too quickly."}"#),
        (.legacyWeb, "DELETE", "/reports/1", [], nil, 405, "<html><body><h1>405 Method Not Allowed</h1></body></html>"),
        (.legacyWeb, "POST", "/reports", [], "q=1", 403, "Forbidden: scope billing:write missing"),
        (.legacyWeb, "GET", "/error/503", [], nil, 503,
         "<html><head><title>503 Service Unavailable</title></head><body>down</body></html>"),
        (.legacyWeb, "PUT", "/reports/1", [], nil, 409, ""),
    ]

    func testErrorBodiesMatchTheSeedVectorsByteForByte() throws {
        for (api, method, target, headers, body, status, expected) in vectors {
            let response = try request(api, method, target, headers: headers, body: body)
            XCTAssertEqual(response.status, status, "\(api) \(method) \(target)")
            XCTAssertEqual(response.bodyText, expected, "\(api) \(method) \(target)")
        }
    }

    func testContentTypesFollowTheSeedVectors() throws {
        XCTAssertEqual(try request(.oneclick, "GET", "/error/500").header("Content-Type"), "application/json")
        XCTAssertEqual(try request(.legacyWeb, "GET", "/error/405").header("Content-Type"), "text/html")
        XCTAssertEqual(try request(.legacyWeb, "GET", "/error/403").header("Content-Type"), "text/plain")
        let unavailable = try request(.legacyWeb, "GET", "/error/503")
        XCTAssertEqual(unavailable.header("Content-Type"), "text/html")
        XCTAssertEqual(unavailable.header("Retry-After"), "30")
        let conflict = try request(.legacyWeb, "GET", "/error/409")
        XCTAssertEqual(conflict.status, 409)
        XCTAssertEqual(conflict.header("Content-Length"), "0")
        XCTAssertNil(conflict.header("Content-Type"))
    }

    func testCatalogGzipErrorDecodesToTheNotFoundBody() throws {
        let response = try request(.catalog, "GET", "/error/404-gzip")
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(response.header("Content-Encoding"), "gzip")
        XCTAssertEqual(response.header("Content-Type"), "application/json")
        XCTAssertNotEqual(response.bodyText, SeedBody.catalogNotFound)
        XCTAssertEqual(gunzip(response.body).map { String(decoding: $0, as: UTF8.self) },
                       #"{"message":"404","description":"The requested resource was not found"}"#)
    }

    func testUnknownPathsGet404InEachAPIsOwnFormat() throws {
        XCTAssertEqual(try request(.oneclick, "GET", "/x").bodyText,
                       #"{"type":"invalid_request_error","message":"Unrecognized request URL (GET: /x)."}"#)
        XCTAssertEqual(try request(.billing, "GET", "/x").bodyText, #"{"code":404,"message":"Not Found","status":"failure"}"#)
        XCTAssertEqual(try request(.accounts, "DELETE", "/x").bodyText,
                       #"{"type":"invalid_request","code":"not_found","param":null,"message":"No such route: DELETE /x"}"#)
        let web = try request(.legacyWeb, "GET", "/x")
        XCTAssertEqual(web.status, 404)
        XCTAssertEqual(web.header("Content-Type"), "text/html")
    }

    // MARK: - Documented routes

    func testEveryDocumentedRouteAnswersItsDocumentedStatus() throws {
        for api in SeedAPI.allCases {
            XCTAssertFalse(api.routes.isEmpty)
            for route in api.routes {
                let response = try request(api, route.method, route.target, headers: route.headers, body: route.body)
                XCTAssertEqual(response.status, route.status, "\(api) \(route.method) \(route.target)")
            }
            for route in SeedAPI.commonRoutes {
                XCTAssertEqual(api.respond(to: route.request).status, route.status ?? 200,
                               "\(api) \(route.method) \(route.target)")
            }
        }
    }

    func testCurlLinesQuoteWhatTheShellWouldMangle() {
        let route = DemoRoute("POST", "/invoices?offset=0", headers: [("Content-Type", "application/json")],
                              body: #"{"it's":1}"#, status: 200, "x")
        XCTAssertEqual(route.curl(port: 9102),
                       #"curl -i -X POST -H 'Content-Type: application/json' --data-raw '{"it'\''s":1}' 'http://127.0.0.1:9102/invoices?offset=0'"#)
        XCTAssertEqual(DemoRoute("GET", "/ok", status: 200, "ok").curl(port: 9101), "curl -i http://127.0.0.1:9101/ok")
    }

    func testDefaultPortsAndDialects() {
        XCTAssertEqual(SeedAPI.allCases.map(\.defaultPort), [9101, 9102, 9103, 9104, 9105])
        XCTAssertEqual(SeedAPI.allCases.map(\.dialect),
                       ["oneclick", "status_envelope", "message_description", "auto", "auto"])
    }

    // MARK: - Common routes and modifiers

    func testEchoReportsMethodTargetHeadersAndBody() throws {
        let response = try request(.accounts, "PUT", "/echo?a=1", headers: [("X-Seen", "yes")], body: "payload \"q\"")
        XCTAssertEqual(response.status, 200)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        XCTAssertEqual(json["method"] as? String, "PUT")
        XCTAssertEqual(json["target"] as? String, "/echo?a=1")
        XCTAssertEqual(json["path"] as? String, "/echo")
        XCTAssertEqual(json["body"] as? String, "payload \"q\"")
        XCTAssertEqual(json["body_length"] as? Int, 11)
        let headers = try XCTUnwrap(json["headers"] as? [[String]])
        XCTAssertEqual(headers.first, ["Host", "127.0.0.1"])
        XCTAssertTrue(headers.contains(["X-Seen", "yes"]))
    }

    func testEchoOfBinaryBodyUsesBase64() throws {
        let client = try RawHTTPClient(port: servers[.oneclick]!.port)
        client.send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n")
        client.send([0xff, 0x00, 0xfe, 0x41])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try client.readResponse().body)) as? [String: Any])
        XCTAssertEqual(json["body_base64"] as? String, Data([0xff, 0x00, 0xfe, 0x41]).base64EncodedString())
        XCTAssertNil(json["body"])
    }

    func testRawEchoReturnsTheBodyVerbatim() throws {
        let response = try request(.catalog, "POST", "/echo/raw", headers: [("Content-Type", "text/csv")], body: "a,b\n1,2")
        XCTAssertEqual(response.bodyText, "a,b\n1,2")
        XCTAssertEqual(response.header("Content-Type"), "text/csv")
        XCTAssertEqual(response.header("X-Echo-Method"), "POST")
        XCTAssertEqual(response.header("X-Echo-Body-Length"), "7")
    }

    func testBytesRouteSendsThatManyPatternBytes() throws {
        let response = try request(.billing, "GET", "/bytes/100000")
        XCTAssertEqual(response.body.count, 100_000)
        XCTAssertEqual(Array(response.body.prefix(27)), Array("abcdefghijklmnopqrstuvwxyza".utf8))
        XCTAssertEqual(try request(.billing, "GET", "/bytes/0").body, [])
    }

    func testQueryModifiersChangeFraming() throws {
        let chunked = try request(.billing, "GET", "/error/500?chunked=5")
        XCTAssertEqual(chunked.header("Transfer-Encoding"), "chunked")
        XCTAssertEqual(chunked.bodyText, SeedBody.billingInternal)
        XCTAssertTrue(String(decoding: chunked.rawBody, as: UTF8.self).hasPrefix("5\r\n{\"cod\r\n"))

        let closing = try request(.billing, "GET", "/error/500?close=1")
        XCTAssertNil(closing.header("Content-Length"))
        XCTAssertEqual(closing.bodyText, SeedBody.billingInternal)

        let zipped = try request(.accounts, "GET", "/error/403?gzip=1")
        XCTAssertEqual(zipped.header("Content-Encoding"), "gzip")
        XCTAssertEqual(gunzip(zipped.body).map { String(decoding: $0, as: UTF8.self) }, SeedBody.accountsForbidden)
    }

    func testMisbehavingCommonRoutes() throws {
        let port = servers[.oneclick]!.port
        let close = try RawHTTPClient(port: port)
        close.send("GET /close HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(try close.readToEOF(), [])

        let garbage = try RawHTTPClient(port: port)
        garbage.send("GET /garbage HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertFalse(String(decoding: try garbage.readToEOF(), as: UTF8.self).hasPrefix("HTTP/"))

        let hang = try RawHTTPClient(port: port, timeoutMilliseconds: 200)
        hang.send("GET /hang HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertThrowsError(try hang.readResponse()) { XCTAssertEqual($0 as? RawClientError, .timedOut) }

        let truncated = try RawHTTPClient(port: port)
        truncated.send("GET /truncated-chunked HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertThrowsError(try truncated.readResponse()) { error in
            guard case .closedEarly = error as? RawClientError else { return XCTFail("\(error)") }
        }
    }

    func testChunkedCommonRouteIsChunkedAndKeepsAlive() throws {
        let client = try RawHTTPClient(port: servers[.catalog]!.port)
        for _ in 0..<2 {
            let response = try client.exchange("GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n")
            XCTAssertEqual(response.header("Transfer-Encoding"), "chunked")
            XCTAssertEqual(response.bodyText, #"{"status":"ok","framing":"chunked","api":"catalog"}"#)
        }
        XCTAssertEqual(servers[.catalog]!.connectionCount, 1)
    }
}
