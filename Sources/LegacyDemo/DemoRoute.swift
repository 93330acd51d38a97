import Foundation

/// One documented path of a demo API: an example request and the status it answers, so the
/// executable and the README can print curl lines and the tests can check every one.
public struct DemoRoute: Sendable {
    public var method: String
    /// The example target, query included.
    public var target: String
    public var headers: [(String, String)]
    public var body: String?
    /// The status this example request gets; nil when no response comes (hang, close, garbage).
    public var status: Int?
    public var summary: String
    /// Extra curl options for the example (e.g. `--compressed`).
    public var curlOptions: String

    public init(_ method: String, _ target: String, headers: [(String, String)] = [], body: String? = nil,
                status: Int?, _ summary: String, curlOptions: String = "") {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.status = status
        self.summary = summary
        self.curlOptions = curlOptions
    }

    /// The example as a request (what the handler sees; the server adds nothing).
    public var request: LegacyRequest {
        var fields = [("Host", "127.0.0.1")] + headers
        if let body { fields.append(("Content-Length", String(body.utf8.count))) }
        return LegacyRequest(method: method, target: target, headers: fields, body: Array((body ?? "").utf8))
    }

    /// A shell line that sends the example to `host:port` with curl, e.g.
    /// `curl -i -X POST -H 'Content-Type: application/json' --data-raw '{}' http://127.0.0.1:9101/charge`.
    public func curl(host: String = "127.0.0.1", port: Int) -> String {
        var parts = ["curl", "-i"]
        if !curlOptions.isEmpty { parts.append(curlOptions) }
        if method != "GET" || body != nil { parts += ["-X", method] }
        for (name, value) in headers { parts += ["-H", Self.quote("\(name): \(value)")] }
        if let body { parts += ["--data-raw", Self.quote(body)] }
        parts.append(Self.quote("http://\(host):\(port)\(target)"))
        return parts.joined(separator: " ")
    }

    /// Single-quotes `text` for a POSIX shell.
    static func quote(_ text: String) -> String {
        let safe = text.allSatisfy { $0.isLetter || $0.isNumber || "/:._-=,".contains($0) }
        if safe { return text }
        return "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
