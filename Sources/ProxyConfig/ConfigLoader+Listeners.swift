extension ConfigLoader {
    static func readListeners(_ r: ConfigReader) -> [ListenerConfig]? {
        guard let items = r.array(nonEmpty: true) else { return nil }
        var listeners: [ListenerConfig] = []
        var firstIndex: [HostPort: Int] = [:]
        for (i, item) in items.enumerated() {
            guard let o = item.object(keys: ["address", "tls"]) else { continue }
            let address = o.required("address").flatMap { $0.hostPort(allowPortZero: true) }
            let tls = o.nonNull("tls").flatMap(readListenerTLS)
            guard let address else { continue }
            if address.port != 0 {
                if let first = firstIndex[address] {
                    o["address"]?.report("same address as listeners[\(first)]")
                } else {
                    firstIndex[address] = i
                }
            }
            listeners.append(ListenerConfig(address: address, tls: tls))
        }
        return listeners
    }

    static func readAdmin(_ r: ConfigReader, listeners: [ListenerConfig]) -> HostPort? {
        guard let o = r.object(keys: ["address"]),
              let addressReader = o.required("address"),
              let address = addressReader.hostPort(allowPortZero: true) else { return nil }
        if address.port != 0, let i = listeners.firstIndex(where: { $0.address == address }) {
            addressReader.report("same address as listeners[\(i)]")
        }
        return address
    }

    static let supportedALPN = ["h2", "http/1.1"]

    static func readListenerTLS(_ r: ConfigReader) -> ListenerTLSConfig? {
        guard let o = r.object(keys: ["certificates", "min_version", "alpn", "client_ca"]) else { return nil }
        let certificates = o.required("certificates")?.array(nonEmpty: true)?.compactMap { item -> ListenerTLSConfig.Certificate? in
            guard let c = item.object(keys: ["cert", "key"]) else { return nil }
            let cert = c.required("cert")?.readableFile()
            let key = c.required("key")?.readableFile()
            guard let cert, let key else { return nil }
            return ListenerTLSConfig.Certificate(cert: cert, key: key)
        }
        let minVersion = o["min_version"].flatMap(readMinVersion)
        let alpn = o["alpn"].flatMap(readALPN)
        let clientCA = o.nonNull("client_ca").flatMap { $0.readableFile() }
        guard let certificates else { return nil }
        let d = ListenerTLSConfig(certificates: certificates)
        return ListenerTLSConfig(certificates: certificates, minVersion: minVersion ?? d.minVersion,
                                 alpn: alpn ?? d.alpn, clientCA: clientCA)
    }

    private static func readMinVersion(_ r: ConfigReader) -> ListenerTLSConfig.MinVersion? {
        guard case .string(let text) = r.value else {
            r.report("expected a string (\"1.2\" or \"1.3\"), found \(r.value.typeName)")
            return nil
        }
        if let version = ListenerTLSConfig.MinVersion(rawValue: text) { return version }
        if ["1.0", "1.1"].contains(text) {
            r.report("TLS versions below 1.2 are not supported")
        } else {
            r.report("expected \"1.2\" or \"1.3\", found \"\(text)\"")
        }
        return nil
    }

    private static func readALPN(_ r: ConfigReader) -> [String]? {
        guard let items = r.array(nonEmpty: true) else { return nil }
        var protocols: [String] = []
        for item in items {
            guard let name = item.string() else { continue }
            if !supportedALPN.contains(name) {
                item.report("unsupported protocol \"\(name)\"; expected \(ConfigReader.alternatives(supportedALPN))")
            } else if protocols.contains(name) {
                item.report("\"\(name)\" is listed twice")
            } else {
                protocols.append(name)
            }
        }
        return protocols
    }
}
