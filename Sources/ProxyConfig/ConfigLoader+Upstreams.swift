extension ConfigLoader {
    static func readUpstreams(_ r: ConfigReader, names: DeclaredNames) -> [String: UpstreamConfig]? {
        guard let entries = r.namedEntries() else { return nil }
        var upstreams: [String: UpstreamConfig] = [:]
        for (name, entry) in entries {
            if name.isEmpty { entry.report("an upstream name must not be empty") }
            if let upstream = readUpstream(name: name, entry, names: names) { upstreams[name] = upstream }
        }
        return upstreams
    }

    private static func readUpstream(name: String, _ r: ConfigReader, names: DeclaredNames) -> UpstreamConfig? {
        guard let o = r.object(keys: ["servers", "dialect", "tls", "max_connections", "max_idle_connections",
                                      "timeouts", "passive_health"]) else { return nil }
        let servers = o.required("servers")?.array(nonEmpty: true)?.compactMap { $0.hostPort() }
        let dialect = o["dialect"].flatMap { readDialectName($0, names: names) }
        let tls = o.nonNull("tls").flatMap(readUpstreamTLS)
        let maxConnections = o["max_connections"].flatMap { $0.int(minimum: 1) }
        var maxIdle: Int?
        if let idle = o["max_idle_connections"], let n = idle.int(minimum: 0) {
            if let maxConnections, n > maxConnections {
                idle.report("must not exceed max_connections (\(maxConnections)), found \(n)")
            }
            maxIdle = n
        }
        let timeouts = o["timeouts"].flatMap(readUpstreamTimeouts)
        let health = o["passive_health"].flatMap(readPassiveHealth)
        guard let servers else { return nil }
        let d = UpstreamConfig(name: name, servers: servers)
        let connections = maxConnections ?? d.maxConnections
        return UpstreamConfig(name: name, servers: servers, dialect: dialect ?? d.dialect, tls: tls,
                              maxConnections: connections,
                              maxIdleConnections: maxIdle ?? min(d.maxIdleConnections, connections),
                              timeouts: timeouts ?? d.timeouts, passiveHealth: health ?? d.passiveHealth)
    }

    /// `auto` or a key of `dialects`.
    static func readDialectName(_ r: ConfigReader, names: DeclaredNames) -> String? {
        guard let name = r.string() else { return nil }
        guard names.isDialect(name) else {
            r.report("unknown dialect \"\(name)\"")
            return nil
        }
        return name
    }

    private static func readUpstreamTLS(_ r: ConfigReader) -> UpstreamTLSConfig? {
        guard let o = r.object(keys: ["verify", "ca", "server_name"]) else { return nil }
        return UpstreamTLSConfig(verify: o["verify"].flatMap { $0.bool() } ?? true,
                                 ca: o.nonNull("ca").flatMap { $0.readableFile() },
                                 serverName: o.nonNull("server_name").flatMap { $0.nonEmptyString() })
    }

    private static func readUpstreamTimeouts(_ r: ConfigReader) -> UpstreamTimeouts? {
        guard let o = r.object(keys: ["connect", "response_head", "idle"]) else { return nil }
        let d = UpstreamTimeouts()
        return UpstreamTimeouts(connect: o["connect"].flatMap { $0.duration() } ?? d.connect,
                                responseHead: o["response_head"].flatMap { $0.duration() } ?? d.responseHead,
                                idle: o["idle"].flatMap { $0.duration() } ?? d.idle)
    }

    private static func readPassiveHealth(_ r: ConfigReader) -> PassiveHealth? {
        guard let o = r.object(keys: ["failures", "cooldown"]) else { return nil }
        let d = PassiveHealth()
        return PassiveHealth(failures: o["failures"].flatMap { $0.int(minimum: 1) } ?? d.failures,
                             cooldown: o["cooldown"].flatMap { $0.duration() } ?? d.cooldown)
    }
}
