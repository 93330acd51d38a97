/// What a `LegacyServer` handler answers, and how the bytes go out on the wire.
///
/// The server adds the framing headers itself (`Content-Length`, `Transfer-Encoding`,
/// `Connection: close`) according to `mode`; a `Content-Length` already in `headers` is kept
/// instead of the computed one (to build deliberately wrong responses).
public struct LegacyResponse: Sendable {
    public var status: Int
    /// The reason phrase; nil uses the standard phrase for `status` (or "Unknown").
    public var reason: String?
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var mode: Mode
    /// Wait this long after the request was read before doing anything `mode` says
    /// (a slow upstream: time to first byte).
    public var delayMilliseconds: Int
    /// In `.chunked` and `.chunkedThenClose`, wait this long before each chunk after the head
    /// (a slow body).
    public var chunkDelayMilliseconds: Int

    public enum Mode: Sendable, Equatable {
        /// `Content-Length` framing; the connection stays open unless the request asked to close.
        case contentLength
        /// `Transfer-Encoding: chunked`, `body` cut into chunks of `chunkSize` bytes, then the
        /// last chunk.
        case chunked(chunkSize: Int)
        /// No length: `Connection: close`, the body, then the connection is closed.
        case closeDelimited
        /// Write exactly these bytes (ignoring status, headers and body), then close.
        case raw([UInt8])
        /// Read the request and never answer; the socket stays open until the client closes it
        /// or the server stops.
        case hang
        /// Close the connection right after reading the request, sending nothing.
        case closeWithoutResponse
        /// Send the head with `Content-Length: body.count + 1024`, then `body`, then close: a
        /// response cut short after its head went out.
        case headThenClose
        /// Send a chunked head and `body` in chunks of `chunkSize`, then close without the last
        /// chunk.
        case chunkedThenClose(chunkSize: Int)
    }

    public init(status: Int, reason: String? = nil, headers: [(String, String)] = [],
                body: [UInt8] = [], mode: Mode = .contentLength,
                delayMilliseconds: Int = 0, chunkDelayMilliseconds: Int = 0) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.mode = mode
        self.delayMilliseconds = delayMilliseconds
        self.chunkDelayMilliseconds = chunkDelayMilliseconds
    }

    /// `status` with `Content-Type: application/json` and `text` sent byte for byte (it need not
    /// be valid JSON: legacy APIs send trailing commas).
    public static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> LegacyResponse {
        LegacyResponse(status: status, headers: [("Content-Type", "application/json")] + headers,
                       body: Array(text.utf8))
    }

    /// Like `json`, with the body gzip-compressed and `Content-Encoding: gzip`.
    public static func gzipJSON(_ status: Int, _ text: String, headers: [(String, String)] = []) -> LegacyResponse {
        LegacyResponse(status: status,
                       headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")] + headers,
                       body: Gzip.compress(Array(text.utf8)))
    }

    /// `status` with `contentType` and `text` as the body.
    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain",
                            headers: [(String, String)] = []) -> LegacyResponse {
        LegacyResponse(status: status, headers: [("Content-Type", contentType)] + headers,
                       body: Array(text.utf8))
    }

    /// A copy with `mode` replaced.
    public func with(mode: Mode) -> LegacyResponse {
        var copy = self
        copy.mode = mode
        return copy
    }

    /// A copy with `delayMilliseconds` replaced.
    public func with(delayMilliseconds: Int) -> LegacyResponse {
        var copy = self
        copy.delayMilliseconds = delayMilliseconds
        return copy
    }

    /// A copy with the headers named `name` (case-insensitive) removed.
    public func removingHeader(_ name: String) -> LegacyResponse {
        var copy = self
        let lower = name.lowercased()
        copy.headers.removeAll { $0.0.lowercased() == lower }
        return copy
    }

    /// The first value of the field `name` (ASCII case-insensitive), or nil when absent.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.0.lowercased() == wanted }?.1
    }

    /// The standard reason phrase for the codes the demo APIs use.
    static func standardReason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 423: "Locked"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Unknown"
        }
    }
}
