/// The request target, split and normalized the way routing needs it.
public struct RequestTarget: Sendable, Equatable {
    /// The path with dot-segments removed (RFC 3986 §5.2.4); percent-encoding left as sent.
    public var path: String
    /// The query without its `?`, or nil.
    public var query: String?

    /// Parses an origin-form target (`/a/../b?x`) or an absolute-form one
    /// (`http://host/a`, whose authority is ignored here). nil: not a path we route
    /// (empty, `*`, authority-form), or a path that climbs above `/` — both a 400.
    public init?(_ target: String) {
        var t = Substring(target)
        if !t.hasPrefix("/") {
            let lower = t.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://"),
                  let colon = t.firstIndex(of: ":") else { return nil }
            t = t[t.index(colon, offsetBy: 3)...]
            if let slash = t.firstIndex(where: { $0 == "/" || $0 == "?" }) {
                t = t[slash...]
            } else {
                t = "/"
            }
            if t.hasPrefix("?") { t = "/" + t }
        }
        if let q = t.firstIndex(of: "?") {
            query = String(t[t.index(after: q)...])
            t = t[..<q]
        } else {
            query = nil
        }
        guard let normalized = RequestTarget.removeDotSegments(t) else { return nil }
        path = normalized
    }

    /// The target to send upstream: `path` (already prefix-stripped by the caller) and the query.
    public func origin(path: String) -> String {
        guard let query else { return path }
        return path + "?" + query
    }

    /// RFC 3986 §5.2.4 for an absolute path; nil when `..` would climb above the root.
    public static func removeDotSegments(_ path: Substring) -> String? {
        if !path.contains(".") { return String(path) }
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var trailingSlash = false
        for (i, seg) in segments.enumerated() {
            let last = i == segments.count - 1
            switch seg {
            case ".":
                trailingSlash = last
            case "..":
                guard !output.isEmpty else { return nil }
                output.removeLast()
                trailingSlash = last
            default:
                output.append(seg)
                trailingSlash = false
            }
        }
        var result = "/" + output.joined(separator: "/")
        if trailingSlash && !output.isEmpty { result += "/" }
        return result
    }

    /// `Host` without its port or a trailing dot, lower-cased (`API.example.com:8080` →
    /// `api.example.com`, `example.com.` → `example.com`, `[::1]:80` → `[::1]`).
    /// Runs for every request: scans UTF-8 bytes (the cuts are at ASCII bytes, so character
    /// boundaries) and copies only when something changes.
    public static func hostWithoutPort(_ host: String) -> String {
        let utf8 = host.utf8
        var end = utf8.endIndex
        if utf8.first == UInt8(ascii: "[") {
            if let close = utf8.firstIndex(of: UInt8(ascii: "]")) { end = utf8.index(after: close) }
        } else {
            if let colon = utf8.lastIndex(of: UInt8(ascii: ":")) { end = colon }
            if utf8.distance(from: utf8.startIndex, to: end) > 1 && utf8[utf8.index(before: end)] == UInt8(ascii: ".") {
                end = utf8.index(before: end)
            }
        }
        let kept = utf8[..<end]
        if end == utf8.endIndex && !kept.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") || $0 >= 0x80 }) {
            return host
        }
        return host[..<end].lowercased()
    }
}
