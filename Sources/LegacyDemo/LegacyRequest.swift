/// One HTTP/1.x request as a `LegacyServer` received it, body fully read (chunked bodies decoded,
/// trailers dropped).
public struct LegacyRequest: Sendable {
    public var method: String
    /// The request target exactly as sent, query included (`/invoices?offset=0`).
    public var target: String
    /// `HTTP/1.1` or `HTTP/1.0`.
    public var version: String
    /// Header fields in the order received, names as spelled by the client, values without
    /// surrounding whitespace.
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(method: String, target: String, version: String = "HTTP/1.1",
                headers: [(String, String)] = [], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// The first value of the field `name` (ASCII case-insensitive), or nil when absent.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.0.lowercased() == wanted }?.1
    }

    /// The target without its query.
    public var path: String {
        if let q = target.firstIndex(of: "?") { return String(target[..<q]) }
        return target
    }

    /// The query's `name=value` pairs in order (no percent-decoding; a bare `name` has value "").
    public var queryItems: [(String, String)] {
        guard let q = target.firstIndex(of: "?") else { return [] }
        return target[target.index(after: q)...].split(separator: "&").map { item in
            if let eq = item.firstIndex(of: "=") {
                return (String(item[..<eq]), String(item[item.index(after: eq)...]))
            }
            return (String(item), "")
        }
    }

    /// The first value of the query parameter `name`, or nil when absent.
    public func query(_ name: String) -> String? {
        queryItems.first { $0.0 == name }?.1
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}
