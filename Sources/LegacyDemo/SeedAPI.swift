/// The five legacy APIs of the seed documents, each answering in its own error format.
///
/// Every API serves the `commonRoutes` (health, echo, byte streams and the misbehaviours the
/// proxy's tests need) plus its own `routes`; any other path gets a 404 in the API's format.
/// On every route the query parameters `chunked=N` (chunked, N-byte chunks), `close=1`
/// (close-delimited), `gzip=1` (gzip the body) and `delay=MS` (wait before answering) change
/// how the response goes out.
public enum SeedAPI: String, CaseIterable, Sendable {
    case oneclick, billing, catalog, accounts, legacyWeb

    /// The port `legacy-demo` serves this API on by default (9101…9105).
    public var defaultPort: Int { 9101 + (Self.allCases.firstIndex(of: self) ?? 0) }

    /// The dialect (a `dialects` entry of the demo config, or `auto`) that reads this API's
    /// errors. billing's failure-in-200 needs `status_envelope_200` instead.
    public var dialect: String {
        switch self {
        case .oneclick: "oneclick"
        case .billing: "status_envelope"
        case .catalog: "message_description"
        case .accounts, .legacyWeb: "auto"
        }
    }

    /// One line on what the API is.
    public var summary: String {
        switch self {
        case .oneclick: #"payments, {"type","message"} errors (seed 000)"#
        case .billing: #"invoices, {"code","message","status":"failure"} envelopes (seed 002)"#
        case .catalog: #"items and OAuth2, {"message","description"} / {"error","error_description"} (seed 004)"#
        case .accounts: #"accounts, canonical-ish {"type","code","param","message"} (seed 003)"#
        case .legacyWeb: "an old web app: HTML, text/plain and empty error pages (seed 001)"
        }
    }

    /// The handler `LegacyServer` runs for this API.
    public func handler() -> @Sendable (LegacyRequest) -> LegacyResponse {
        let api = self
        return { request in api.respond(to: request) }
    }

    /// The response to `request`: a common route, else an API route, else the API's 404; then
    /// the query modifiers applied.
    public func respond(to request: LegacyRequest) -> LegacyResponse {
        let response = Self.commonResponse(request, api: self) ?? apiResponse(request) ?? notFound(request)
        return Self.applyModifiers(response, request)
    }

    // MARK: - Documented routes

    /// The API's own example requests (the common ones are in `commonRoutes`).
    public var routes: [DemoRoute] {
        let auth = ("Authorization", "Bearer demo-key")
        let json = ("Content-Type", "application/json")
        switch self {
        case .oneclick:
            return [
                DemoRoute("POST", "/charge", headers: [auth, json], body: #"{"amount":100}"#, status: 200, "a charge succeeds"),
                DemoRoute("POST", "/charge", headers: [json], body: #"{"amount":100}"#, status: 401, "no Authorization: key_error"),
                DemoRoute("POST", "/charge", headers: [auth, json], body: "{}", status: 400, "no amount: invalid_request_error"),
                DemoRoute("GET", "/error/401", status: 401, "key_error"),
                DemoRoute("GET", "/error/400", status: 400, "invalid_request_error"),
                DemoRoute("GET", "/error/500", status: 500, "api_error"),
                DemoRoute("GET", "/error/trailing-comma", status: 500, "api_error with a trailing comma (invalid JSON)"),
                DemoRoute("GET", "/nope", status: 404, "unknown path: invalid_request_error"),
            ]
        case .billing:
            return [
                DemoRoute("GET", "/invoices?offset=0", status: 200, #"{"status":"success"} envelope"#),
                DemoRoute("GET", "/invoices", status: 400, "nested invalid_input: 'offset' is a required property"),
                DemoRoute("GET", "/invoices?limit=500", status: 400, "nested invalid_input with two messages"),
                DemoRoute("GET", "/error/500", status: 500, "failure envelope, code 500"),
                DemoRoute("GET", "/error/423", status: 423, "failure envelope, locked"),
                DemoRoute("GET", "/error/429", status: 429, "failure envelope, rate limit"),
                DemoRoute("GET", "/error/200", status: 200, "legacy failure inside a 200"),
                DemoRoute("GET", "/nope", status: 404, "unknown path: failure envelope"),
            ]
        case .catalog:
            return [
                DemoRoute("GET", "/items/7", status: 200, "an item"),
                DemoRoute("POST", "/items", headers: [json], body: #"{"name":"lamp"}"#, status: 201, #"created {"id":7}"#),
                DemoRoute("POST", "/items", headers: [("Content-Type", "text/plain")], body: "lamp", status: 415, "unsupported media type"),
                DemoRoute("POST", "/oauth/token", headers: [("Authorization", "Basic ZGVtbzpkZW1v"), ("Content-Type", "application/x-www-form-urlencoded")],
                          body: "grant_type=client_credentials", status: 200, "a token"),
                DemoRoute("POST", "/oauth/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                          body: "grant_type=client_credentials", status: 401, "OAuth2 invalid_client"),
                DemoRoute("POST", "/oauth/token", headers: [("Authorization", "Basic ZGVtbzpkZW1v"), ("Content-Type", "application/x-www-form-urlencoded")],
                          body: "grant_type=password", status: 400, "OAuth2 unsupported_grant_type"),
                DemoRoute("GET", "/error/404", status: 404, #"{"message":"404","description":…}"#),
                DemoRoute("GET", "/error/404-gzip", status: 404, "the same 404, gzip-compressed", curlOptions: "--compressed"),
                DemoRoute("GET", "/error/415", status: 415, "unsupported media type"),
                DemoRoute("GET", "/error/oauth-500", status: 500, "OAuth2 server_error"),
                DemoRoute("GET", "/nope", status: 404, "unknown path: message/description 404"),
            ]
        case .accounts:
            return [
                DemoRoute("GET", "/accounts/me", headers: [auth], status: 200, "the account"),
                DemoRoute("GET", "/accounts/me", status: 403, "no Authorization: insufficient_permissions"),
                DemoRoute("POST", "/customers", headers: [json], body: #"{"customer":{"id":"c_1"}}"#, status: 201, "customer created"),
                DemoRoute("POST", "/customers", headers: [json], body: #"{"customer":{}}"#, status: 400, "parameter_missing customer.id"),
                DemoRoute("GET", "/error/403", status: 403, "insufficient_permissions"),
                DemoRoute("GET", "/error/400", status: 400, "parameter_missing"),
                DemoRoute("GET", "/error/429", status: 429, "rate_limit"),
                DemoRoute("GET", "/nope", status: 404, "unknown path: not_found"),
            ]
        case .legacyWeb:
            return [
                DemoRoute("GET", "/reports/1", status: 200, "an HTML page"),
                DemoRoute("DELETE", "/reports/1", status: 405, "HTML 405 page"),
                DemoRoute("PUT", "/reports/1", status: 409, "empty 409"),
                DemoRoute("POST", "/reports", body: "q=1", status: 403, "text/plain 403"),
                DemoRoute("GET", "/error/409", status: 409, "empty 409"),
                DemoRoute("GET", "/error/405", status: 405, "HTML 405 page"),
                DemoRoute("GET", "/error/403", status: 403, "text/plain 403"),
                DemoRoute("GET", "/error/503", status: 503, "HTML 503 page with Retry-After: 30"),
                DemoRoute("GET", "/nope", status: 404, "unknown path: HTML 404 page"),
            ]
        }
    }

    /// Routes every API serves.
    public static let commonRoutes: [DemoRoute] = [
        DemoRoute("GET", "/ok", status: 200, "the API's success body"),
        DemoRoute("POST", "/echo?x=1", headers: [("Content-Type", "text/plain")], body: "hello", status: 200,
                  #"JSON {"method","target","path","version","headers":[[name,value]…],"body" or "body_base64","body_length"}"#),
        DemoRoute("POST", "/echo/raw", headers: [("Content-Type", "text/plain")], body: "hello", status: 200,
                  "the request body verbatim, with X-Echo-Method, X-Echo-Target, X-Echo-Body-Length"),
        DemoRoute("GET", "/bytes/1024", status: 200, "N bytes of a-z, application/octet-stream"),
        DemoRoute("GET", "/chunked", status: 200, "a JSON body in 8-byte chunks"),
        DemoRoute("GET", "/slow/200", status: 200, "answers after MS milliseconds"),
        DemoRoute("GET", "/drip/100", status: 200, "a chunked body, one 1-byte chunk per MS milliseconds (10 chunks)"),
        DemoRoute("GET", "/hang", status: nil, "reads the request, never answers"),
        DemoRoute("GET", "/close", status: nil, "closes without a response"),
        DemoRoute("GET", "/truncated", status: 200, "Content-Length larger than the body, then close"),
        DemoRoute("GET", "/truncated-chunked", status: 200, "chunks, then close without the last chunk"),
        DemoRoute("GET", "/garbage", status: nil, "bytes that are not HTTP, then close"),
    ]

    // MARK: - Answers

    private func apiResponse(_ request: LegacyRequest) -> LegacyResponse? {
        let method = request.method
        let path = request.path
        switch self {
        case .oneclick:
            switch path {
            case "/charge" where method == "POST":
                if request.header("Authorization") == nil { return .json(401, SeedBody.oneclickKeyError) }
                if !request.bodyText.contains(#""amount""#) { return .json(400, SeedBody.oneclickInvalidRequest) }
                return .json(200, #"{"id":"ch_1","object":"charge","status":"succeeded"}"#)
            case "/error/401": return .json(401, SeedBody.oneclickKeyError)
            case "/error/400": return .json(400, SeedBody.oneclickInvalidRequest)
            case "/error/500": return .json(500, SeedBody.oneclickAPIError)
            case "/error/trailing-comma": return .json(500, SeedBody.oneclickTrailingComma)
            default: return nil
            }
        case .billing:
            switch path {
            case "/invoices" where method == "GET":
                var problems: [String] = []
                if request.query("offset") == nil { problems.append("'offset' is a required property") }
                if let limit = request.query("limit").flatMap({ Int($0) }), limit > 100 {
                    problems.append("'limit' must be at most 100")
                }
                if problems.isEmpty { return .json(200, SeedBody.billingSuccess) }
                let list = problems.map { "\"\($0)\"" }.joined(separator: ",")
                return .json(400, #"{"code":400,"message":{"error_code":"invalid_input","message":["# + list + "]}}")
            case "/error/500": return .json(500, SeedBody.billingInternal)
            case "/error/423": return .json(423, SeedBody.billingLocked)
            case "/error/429": return .json(429, SeedBody.billingRateLimit)
            case "/error/400": return .json(400, SeedBody.billingOffsetMissing)
            case "/error/200": return .json(200, SeedBody.billingFailureIn200)
            default: return nil
            }
        case .catalog:
            switch path {
            case "/items/7" where method == "GET": return .json(200, #"{"id":7,"name":"lamp"}"#)
            case "/items" where method == "POST":
                guard request.header("Content-Type")?.lowercased().hasPrefix("application/json") == true else {
                    return .json(415, SeedBody.catalogUnsupportedMedia)
                }
                return .json(201, SeedBody.catalogCreated)
            case "/oauth/token" where method == "POST":
                if request.header("Authorization") == nil { return .json(401, SeedBody.catalogOAuthClient) }
                if !request.bodyText.contains("grant_type=client_credentials") {
                    return .json(400, SeedBody.catalogOAuthGrant)
                }
                return .json(200, #"{"access_token":"demo-token","token_type":"bearer","expires_in":3600}"#)
            case "/error/404": return .json(404, SeedBody.catalogNotFound)
            case "/error/404-gzip": return .gzipJSON(404, SeedBody.catalogNotFound)
            case "/error/415": return .json(415, SeedBody.catalogUnsupportedMedia)
            case "/error/oauth-400": return .json(400, SeedBody.catalogOAuthGrant)
            case "/error/oauth-401": return .json(401, SeedBody.catalogOAuthClient)
            case "/error/oauth-500": return .json(500, SeedBody.catalogOAuthServer)
            default: return nil
            }
        case .accounts:
            switch path {
            case "/accounts/me" where method == "GET":
                if request.header("Authorization") == nil { return .json(403, SeedBody.accountsForbidden) }
                return .json(200, #"{"id":"acct_1","name":"Demo Account"}"#)
            case "/customers" where method == "POST":
                guard request.bodyText.contains(#""id""#) else { return .json(400, SeedBody.accountsParameterMissing) }
                return .json(201, #"{"created":true}"#)
            case "/error/403": return .json(403, SeedBody.accountsForbidden)
            case "/error/400": return .json(400, SeedBody.accountsParameterMissing)
            case "/error/429": return .json(429, SeedBody.accountsRateLimit)
            default: return nil
            }
        case .legacyWeb:
            let methodNotAllowed = LegacyResponse.text(405, SeedBody.legacyWebMethodNotAllowed, contentType: "text/html",
                                                       headers: [("Allow", "GET, PUT")])
            let forbidden = LegacyResponse.text(403, SeedBody.legacyWebForbidden)
            let conflict = LegacyResponse(status: 409)
            switch path {
            case "/reports/1":
                switch method {
                case "GET", "HEAD":
                    return .text(200, "<html><body><h1>Report 1</h1></body></html>", contentType: "text/html")
                case "PUT": return conflict
                default: return methodNotAllowed
                }
            case "/reports" where method == "POST": return forbidden
            case "/error/409": return conflict
            case "/error/405": return methodNotAllowed
            case "/error/403": return forbidden
            case "/error/503":
                return .text(503, SeedBody.legacyWebUnavailable, contentType: "text/html", headers: [("Retry-After", "30")])
            default: return nil
            }
        }
    }

    private func notFound(_ request: LegacyRequest) -> LegacyResponse {
        switch self {
        case .oneclick:
            let message = "Unrecognized request URL (\(request.method): \(request.path))."
            return .json(404, #"{"type":"invalid_request_error","message":"# + JSONText.quoted(message) + "}")
        case .billing:
            return .json(404, SeedBody.billingNotFound)
        case .catalog:
            return .json(404, SeedBody.catalogNotFound)
        case .accounts:
            let message = "No such route: \(request.method) \(request.path)"
            return .json(404, #"{"type":"invalid_request","code":"not_found","param":null,"message":"# + JSONText.quoted(message) + "}")
        case .legacyWeb:
            return .text(404, SeedBody.legacyWebNotFound, contentType: "text/html")
        }
    }

    private var successBody: String {
        switch self {
        case .oneclick: #"{"status":"ok","api":"oneclick"}"#
        case .billing: SeedBody.billingSuccess
        case .catalog: #"{"id":7,"name":"lamp"}"#
        case .accounts: #"{"status":"ok","api":"accounts"}"#
        case .legacyWeb: "<html><body>ok</body></html>"
        }
    }

    /// The routes every API serves, or nil when `request` is not one of them.
    static func commonResponse(_ request: LegacyRequest, api: SeedAPI) -> LegacyResponse? {
        let path = request.path
        switch path {
        case "/ok":
            return api == .legacyWeb ? .text(200, api.successBody, contentType: "text/html") : .json(200, api.successBody)
        case "/echo":
            return .json(200, JSONText.echo(request))
        case "/echo/raw":
            return LegacyResponse(status: 200,
                                  headers: [("Content-Type", request.header("Content-Type") ?? "application/octet-stream"),
                                            ("X-Echo-Method", request.method), ("X-Echo-Target", request.target),
                                            ("X-Echo-Body-Length", String(request.body.count))],
                                  body: request.body)
        case "/chunked":
            return LegacyResponse.json(200, #"{"status":"ok","framing":"chunked","api":"\#(api.rawValue)"}"#)
                .with(mode: .chunked(chunkSize: 8))
        case "/hang":
            return LegacyResponse(status: 200, mode: .hang)
        case "/close":
            return LegacyResponse(status: 200, mode: .closeWithoutResponse)
        case "/truncated":
            return LegacyResponse.json(200, #"{"partial":"#).with(mode: .headThenClose)
        case "/truncated-chunked":
            return LegacyResponse.json(200, #"{"partial":true,"more":"#).with(mode: .chunkedThenClose(chunkSize: 8))
        case "/garbage":
            return LegacyResponse(status: 200, mode: .raw(Array("SSH-2.0-NotHTTP garbage\r\n\u{0}\u{1}\u{2}\r\n\r\n".utf8)))
        default:
            break
        }
        if let n = Self.number(after: "/bytes/", in: path) {
            guard n <= 1 << 30 else { return nil }
            var body = [UInt8](repeating: 0, count: n)
            for i in 0..<n { body[i] = UInt8(ascii: "a") &+ UInt8(i % 26) }
            return LegacyResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: body)
        }
        if let ms = Self.number(after: "/slow/", in: path) {
            return LegacyResponse.json(200, #"{"status":"ok","delayed_ms":\#(ms)}"#).with(delayMilliseconds: ms)
        }
        if let ms = Self.number(after: "/drip/", in: path) {
            var response = LegacyResponse(status: 200, headers: [("Content-Type", "text/plain")],
                                          body: Array("0123456789".utf8), mode: .chunked(chunkSize: 1))
            response.chunkDelayMilliseconds = ms
            return response
        }
        return nil
    }

    private static func number(after prefix: String, in path: String) -> Int? {
        guard path.hasPrefix(prefix) else { return nil }
        let digits = path.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy(\.isASCII), let n = Int(digits), n >= 0 else {
            return nil
        }
        return n
    }

    /// Applies `chunked=N`, `close=1`, `gzip=1` and `delay=MS` from the query.
    static func applyModifiers(_ response: LegacyResponse, _ request: LegacyRequest) -> LegacyResponse {
        guard request.target.contains("?") else { return response }
        var response = response
        let framed: Bool = switch response.mode {
        case .contentLength, .chunked, .closeDelimited: true
        default: false
        }
        if framed && request.query("gzip") == "1" && response.header("Content-Encoding") == nil {
            response.body = Gzip.compress(response.body)
            response.headers.append(("Content-Encoding", "gzip"))
        }
        if framed, let size = request.query("chunked").flatMap({ Int($0) }), size > 0 {
            response.mode = .chunked(chunkSize: size)
        }
        if framed && request.query("close") == "1" {
            response.mode = .closeDelimited
        }
        if let ms = request.query("delay").flatMap({ Int($0) }), ms > 0 {
            response.delayMilliseconds = ms
        }
        return response
    }
}
