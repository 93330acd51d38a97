import ErrorNormalizer
import LenientJSON
import RateLimit
import Router

extension ConfigLoader {
    static func readRoutes(_ r: ConfigReader, names: DeclaredNames) -> [Route]? {
        guard let items = r.array(nonEmpty: true) else { return nil }
        var routes: [Route] = []
        var firstIndex: [String: Int] = [:]
        for (i, item) in items.enumerated() {
            guard let o = item.object(keys: ["name", "host", "path_prefix", "methods", "upstream", "strip_prefix",
                                             "rate_limits", "dialect"]) else { continue }
            let nameReader = o["name"]
            let name = nameReader.map { $0.nonEmptyString() } ?? "route\(i)"
            if let name {
                if let first = firstIndex[name] {
                    (nameReader ?? item).report("duplicate route name \"\(name)\" (also routes[\(first)])")
                } else {
                    firstIndex[name] = i
                }
            }
            let host = o.nonNull("host").flatMap(readHostPattern)
            let pathPrefix = o["path_prefix"].flatMap(readPathPrefix)
            let methods = o.nonNull("methods").flatMap(readMethods)
            let upstream = o.required("upstream").flatMap { u -> String? in
                guard let upstream = u.string() else { return nil }
                guard names.upstreams.contains(upstream) else {
                    u.report("unknown upstream \"\(upstream)\"")
                    return nil
                }
                return upstream
            }
            let stripPrefix = o["strip_prefix"].flatMap { $0.bool() }
            let rateLimits = o["rate_limits"].flatMap { readPolicyNames($0, names: names) }
            let dialect = o.nonNull("dialect").flatMap { readDialectName($0, names: names) }
            guard let name, let upstream else { continue }
            routes.append(Route(name: name, host: host, pathPrefix: pathPrefix ?? "/", methods: methods,
                                upstream: upstream, stripPrefix: stripPrefix ?? false, rateLimits: rateLimits ?? [],
                                dialect: dialect))
        }
        return routes
    }

    private static func readHostPattern(_ r: ConfigReader) -> HostPattern? {
        guard let text = r.string() else { return nil }
        guard let pattern = HostPattern(text) else {
            r.report("invalid host pattern \"\(text)\"; expected a host name (api.example.com) or *.example.com")
            return nil
        }
        return pattern
    }

    /// A path prefix that a normalized request path can start with.
    private static func readPathPrefix(_ r: ConfigReader) -> String? {
        guard let prefix = r.string() else { return nil }
        guard prefix.hasPrefix("/") else {
            r.report("must start with \"/\", found \"\(prefix)\"")
            return nil
        }
        if prefix.contains("?") || prefix.contains("#") {
            r.report("must be a path only; \"?\" and \"#\" never occur in a request path")
            return nil
        }
        if RequestTarget.removeDotSegments(Substring(prefix)) != prefix {
            r.report("contains a \".\" or \"..\" segment; request paths are matched with those removed, so it would never match")
            return nil
        }
        return prefix
    }

    /// Methods are case-sensitive tokens (RFC 9110 §9.1) and the standard ones upper case, so a
    /// lower-case letter is taken for a mistake.
    private static func readMethods(_ r: ConfigReader) -> Set<String>? {
        guard let items = r.array(nonEmpty: true) else { return nil }
        var methods = Set<String>()
        for item in items {
            guard let method = item.string() else { continue }
            guard !method.isEmpty, method.utf8.allSatisfy(isUpperCaseTokenByte) else {
                item.report("expected an upper-case method name (\"GET\"), found \"\(method)\"")
                continue
            }
            methods.insert(method)
        }
        return methods
    }

    /// `tchar` of RFC 9110 §5.6.2, less the lower-case letters.
    static func isUpperCaseTokenByte(_ b: UInt8) -> Bool {
        isTokenByte(b) && !(b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z"))
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    private static func readPolicyNames(_ r: ConfigReader, names: DeclaredNames) -> [String]? {
        guard let items = r.array() else { return nil }
        var policies: [String] = []
        for item in items {
            guard let name = item.string() else { continue }
            if !names.rateLimits.contains(name) {
                item.report("unknown rate limit policy \"\(name)\"")
            } else if policies.contains(name) {
                item.report("\"\(name)\" is listed twice")
            } else {
                policies.append(name)
            }
        }
        return policies
    }

    static func readRateLimits(_ r: ConfigReader) -> [String: RateLimitPolicy]? {
        guard let entries = r.namedEntries() else { return nil }
        var policies: [String: RateLimitPolicy] = [:]
        for (name, entry) in entries {
            if name.isEmpty { entry.report("a rate limit policy name must not be empty") }
            guard let o = entry.object(keys: ["key", "rate", "per", "burst", "max_keys"]) else { continue }
            let key = o.required("key").flatMap(readPolicyKey)
            let rate = o.required("rate")?.int(minimum: 1)
            let per = o.required("per")?.duration()
            let burst = o["burst"].flatMap { $0.int(minimum: 1) }
            let maxKeys = o["max_keys"].flatMap { $0.int(minimum: 1) }
            guard let key, let rate, let per else { continue }
            policies[name] = RateLimitPolicy(name: name, key: key, rate: rate, per: per, burst: burst ?? rate,
                                             maxKeys: maxKeys ?? 100_000)
        }
        return policies
    }

    /// `global`, `client_ip`, `route`, or `header:NAME` (NAME a header field name, kept as written).
    private static func readPolicyKey(_ r: ConfigReader) -> RateLimitPolicy.Key? {
        let expected = #"expected "global", "client_ip", "route" or "header:NAME""#
        guard case .string(let text) = r.value else {
            r.report("\(expected), found \(r.value.typeName)")
            return nil
        }
        switch text {
        case "global": return .global
        case "client_ip": return .clientIP
        case "route": return .route
        default:
            if text.hasPrefix("header:") {
                let field = String(text.dropFirst("header:".count))
                guard !field.isEmpty, field.utf8.allSatisfy(isTokenByte) else {
                    r.report("invalid header name \"\(field)\" in \"\(text)\"")
                    return nil
                }
                return .header(field)
            }
            r.report("\(expected), found \"\(text)\"")
            return nil
        }
    }

    static func readDialects(_ r: ConfigReader) -> [String: Dialect]? {
        guard let entries = r.namedEntries() else { return nil }
        var dialects: [String: Dialect] = [:]
        for (name, entry) in entries {
            if name == "auto" {
                entry.report("\"auto\" is built in and cannot be redefined")
                continue
            }
            if name.isEmpty { entry.report("a dialect name must not be empty") }
            guard case .object = entry.value else {
                entry.report("expected an object, found \(entry.value.typeName)")
                continue
            }
            switch Dialect.compile(name: name, spec: entry.value, path: entry.path.description) {
            case .success(let dialect): dialects[name] = dialect
            case .failure(let errors): entry.log.merge(errors)
            }
        }
        return dialects
    }
}
