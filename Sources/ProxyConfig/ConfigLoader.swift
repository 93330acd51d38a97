import ErrorNormalizer
import LenientJSON
import ProxyModel
import RateLimit
import Router

/// Reads config.json (the contract in CONFIG.md) into a validated `ConfigSnapshot`.
///
/// Validation is complete: one call reports every problem found, each with the JSON path of the
/// value at fault (`routes[2].upstream: unknown upstream "biling"`), and a snapshot is returned
/// only when there is none. Rules beyond the JSON types:
///
/// - An unknown key is a problem at every level, and so is a key given twice in one object.
/// - `null` is the same as an absent key for the keys whose default is "none": `admin`,
///   `workers`, `rate_limit_store`, `listeners[].tls`, `tls.client_ca`, `upstreams.NAME.tls`,
///   its `ca` and `server_name`, `errors.problem_type_base`, and a route's `host`, `methods`
///   and `dialect`. Elsewhere `null` is a type error.
/// - Durations are positive (see `DurationText`); sizes (see `ByteSize`) and counts are at least 1,
///   except `max_idle_connections`, which may be 0. An upstream's `max_idle_connections`
///   defaults to 64, or to its `max_connections` when that is lower.
/// - Listener and admin addresses may use port 0 (an ephemeral port, for tests); upstream
///   servers and `rate_limit_store.redis` need 1–65535. Two listeners, or a listener and the
///   admin listener, on the same address are a problem.
/// - A rate-limit policy needs `key`, `rate` and `per`; `burst` defaults to `rate`.
/// - Relative file paths (certificates, keys, CA bundles, the access-log file) are resolved
///   against `baseDirectory`; files to read must exist and be readable now (their contents are
///   checked by the TLS layer), an access-log file must be writable or creatable.
/// - The document may have trailing commas (it is read with `LenientJSON` defaults).
public enum ConfigLoader {
    /// Reads and validates the file at `path`; relative paths in it are resolved against the
    /// folder that holds it. A file that cannot be read is one problem whose path is `path`.
    public static func load(path: String) -> Result<ConfigSnapshot, ConfigErrors> {
        switch ConfigFiles.contents(of: path) {
        case .success(let bytes):
            return parse(bytes, baseDirectory: ConfigFiles.directory(of: path))
        case .failure(let problem):
            return .failure(ConfigErrors(problems: [.init(path: path, message: "cannot read config file: \(problem.reason)")]))
        }
    }

    /// Validates config.json given as `bytes`; relative file paths are resolved against `baseDirectory`.
    public static func parse(_ bytes: [UInt8], baseDirectory: String) -> Result<ConfigSnapshot, ConfigErrors> {
        let json: JSONValue
        do {
            json = try JSONReader.parse(bytes)
        } catch {
            return .failure(ConfigErrors(problems: [.init(path: "", message: syntaxMessage(error, in: bytes))]))
        }
        let log = ProblemLog()
        let root = ConfigReader(value: json, path: .root, log: log, baseDirectory: baseDirectory)
        let snapshot = root.object(keys: topLevelKeys).map { readSnapshot($0) }
        guard let snapshot, log.problems.isEmpty else { return .failure(ConfigErrors(problems: log.problems)) }
        return .success(snapshot)
    }

    static let topLevelKeys = ["listeners", "admin", "upstreams", "routes", "rate_limits", "dialects", "errors",
                               "limits", "timeouts", "access_log", "trusted_proxies", "workers", "rate_limit_store"]

    /// Reads every section, in the order CONFIG.md lists them; cross-references are checked
    /// against the names declared, so an entry with problems of its own still counts as declared.
    private static func readSnapshot(_ root: ConfigObject) -> ConfigSnapshot {
        let names = DeclaredNames(root)
        let listeners = root.required("listeners").flatMap(readListeners) ?? []
        let admin = root.nonNull("admin").flatMap { readAdmin($0, listeners: listeners) }
        let upstreams = root["upstreams"].flatMap { readUpstreams($0, names: names) } ?? [:]
        let routes = root.required("routes").flatMap { readRoutes($0, names: names) } ?? []
        let rateLimits = root["rate_limits"].flatMap(readRateLimits) ?? [:]
        let dialects = root["dialects"].flatMap(readDialects) ?? [:]
        return ConfigSnapshot(
            listeners: listeners,
            admin: admin,
            upstreams: upstreams,
            routes: RouteTable(routes),
            rateLimits: rateLimits,
            dialects: dialects,
            errors: root["errors"].flatMap(readErrors) ?? ErrorsConfig(),
            limits: root["limits"].flatMap(readLimits) ?? LimitsConfig(),
            timeouts: root["timeouts"].flatMap(readClientTimeouts) ?? ClientTimeouts(),
            accessLog: root["access_log"].flatMap(readAccessLog) ?? AccessLogConfig(),
            trustedProxies: root["trusted_proxies"].flatMap(readTrustedProxies) ?? [],
            workers: root.nonNull("workers").flatMap { $0.int(minimum: 1) },
            rateLimitStore: root.nonNull("rate_limit_store").flatMap(readRateLimitStore))
    }

    /// The JSON syntax error with its line and column (1-based), for a person to find it.
    private static func syntaxMessage(_ error: JSONError, in bytes: [UInt8]) -> String {
        let before = bytes.prefix(max(0, min(error.offset, bytes.count)))
        let line = before.lazy.filter { $0 == UInt8(ascii: "\n") }.count + 1
        let column = before.count - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
        return "invalid JSON at line \(line), column \(column): \(error.reason)"
    }

    // MARK: Small sections

    static func readErrors(_ r: ConfigReader) -> ErrorsConfig? {
        guard let o = r.object(keys: ["format", "problem_json", "problem_type_base", "expose_upstream_addresses"]) else {
            return nil
        }
        let defaults = ErrorsConfig()
        let render = ErrorRenderOptions(
            format: o["format"].flatMap { $0.choice([ErrorRenderOptions.Format.flat, .wrapped]) } ?? defaults.render.format,
            problemJSON: o["problem_json"].flatMap { $0.choice([ErrorRenderOptions.ProblemJSON.never, .negotiate, .always]) }
                ?? defaults.render.problemJSON,
            problemTypeBase: o.nonNull("problem_type_base").flatMap { $0.nonEmptyString() })
        return ErrorsConfig(render: render,
                            exposeUpstreamAddresses: o["expose_upstream_addresses"].flatMap { $0.bool() }
                                ?? defaults.exposeUpstreamAddresses)
    }

    static func readLimits(_ r: ConfigReader) -> LimitsConfig? {
        guard let o = r.object(keys: ["header_bytes", "uri_bytes", "request_body_bytes", "error_body_bytes",
                                      "max_connections", "h2_max_concurrent_streams"]) else { return nil }
        let d = LimitsConfig()
        return LimitsConfig(
            headerBytes: o["header_bytes"].flatMap { $0.size() } ?? d.headerBytes,
            uriBytes: o["uri_bytes"].flatMap { $0.size() } ?? d.uriBytes,
            requestBodyBytes: o["request_body_bytes"].flatMap { $0.size() } ?? d.requestBodyBytes,
            errorBodyBytes: o["error_body_bytes"].flatMap { $0.size() } ?? d.errorBodyBytes,
            maxConnections: o["max_connections"].flatMap { $0.int(minimum: 1) } ?? d.maxConnections,
            h2MaxConcurrentStreams: o["h2_max_concurrent_streams"].flatMap { $0.int(minimum: 1, maximum: Int(Int32.max)) }
                ?? d.h2MaxConcurrentStreams)
    }

    static func readClientTimeouts(_ r: ConfigReader) -> ClientTimeouts? {
        guard let o = r.object(keys: ["client_header", "client_idle", "drain"]) else { return nil }
        let d = ClientTimeouts()
        return ClientTimeouts(clientHeader: o["client_header"].flatMap { $0.duration() } ?? d.clientHeader,
                              clientIdle: o["client_idle"].flatMap { $0.duration() } ?? d.clientIdle,
                              drain: o["drain"].flatMap { $0.duration() } ?? d.drain)
    }

    static func readAccessLog(_ r: ConfigReader) -> AccessLogConfig? {
        guard let o = r.object(keys: ["to", "format"]) else { return nil }
        var config = AccessLogConfig()
        if let to = o["to"], let text = to.nonEmptyString() {
            switch text {
            case "stdout": config.to = .stdout
            case "stderr": config.to = .stderr
            case "off": config.to = .off
            default:
                let file = ConfigFiles.resolve(text, against: r.baseDirectory)
                if let problem = ConfigFiles.appendableFileProblem(file) {
                    to.report("cannot write \"\(file)\": \(problem.reason)")
                }
                config.to = .file(file)
            }
        }
        if let format = o["format"], let text = format.string() {
            if text == "json" {
                config.format = text
            } else {
                format.report("expected \"json\", found \"\(text)\"")
            }
        }
        return config
    }

    static func readTrustedProxies(_ r: ConfigReader) -> [AddressRange]? {
        r.array()?.compactMap { item in
            guard let text = item.string() else { return nil }
            guard let range = AddressRange(text) else {
                item.report("invalid address or CIDR range \"\(text)\"")
                return nil
            }
            return range
        }
    }

    static func readRateLimitStore(_ r: ConfigReader) -> RateLimitStoreConfig? {
        guard let o = r.object(keys: ["redis", "on_failure", "timeout"]) else { return nil }
        let redis = o.required("redis")?.hostPort()
        let onFailure = o["on_failure"].flatMap { $0.choice([RateLimitStoreConfig.OnFailure.local, .allow, .deny]) }
        let timeout = o["timeout"].flatMap { $0.duration() }
        guard let redis else { return nil }
        let d = RateLimitStoreConfig(redis: redis)
        return RateLimitStoreConfig(redis: redis, onFailure: onFailure ?? d.onFailure, timeout: timeout ?? d.timeout)
    }
}

/// The names each section declares, collected before any is read, so a route can name an
/// upstream or policy that is declared (even if invalid) without a second "unknown" problem.
struct DeclaredNames {
    let upstreams: Set<String>
    let rateLimits: Set<String>
    let dialects: Set<String>

    init(_ root: ConfigObject) {
        upstreams = Set(root.object["upstreams"]?.objectValue?.keys ?? [])
        rateLimits = Set(root.object["rate_limits"]?.objectValue?.keys ?? [])
        dialects = Set(root.object["dialects"]?.objectValue?.keys ?? [])
    }

    /// Whether `name` is `auto` or a key of `dialects`.
    func isDialect(_ name: String) -> Bool { name == "auto" || dialects.contains(name) }
}
