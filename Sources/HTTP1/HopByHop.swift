import ProxyModel

/// Hop-by-hop fields (RFC 9110 §7.6.1), which a proxy must not forward.
public enum HopByHop {
    /// The fields that are hop-by-hop whatever `Connection` says, lower-cased.
    public static let fixedNames: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// Removes Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding,
    /// Upgrade, and every field named in a Connection field. Runs on every request and
    /// response: names are compared in place, without lower-cased copies.
    public static func remove(from fields: inout HTTPFields) {
        var named: [String] = []
        for field in fields.entries where HTTPFields.equalsIgnoringCase(field.name, "Connection") {
            for member in HTTPFields.listMembers(field.value) {
                let name = String(member)
                if !isFixed(name) { named.append(name) }  // fixed ones go anyway
            }
        }
        fields.removeAll { field in
            isFixed(field.name) || named.contains { HTTPFields.equalsIgnoringCase($0, field.name) }
        }
    }

    /// Whether `name` is one of `fixedNames`, in any case.
    public static func isFixed(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return HTTPFields.equalsIgnoringCase(name, "te")
        case 7: return HTTPFields.equalsIgnoringCase(name, "trailer") || HTTPFields.equalsIgnoringCase(name, "upgrade")
        case 10: return HTTPFields.equalsIgnoringCase(name, "connection") || HTTPFields.equalsIgnoringCase(name, "keep-alive")
        case 16: return HTTPFields.equalsIgnoringCase(name, "proxy-connection")
        case 17: return HTTPFields.equalsIgnoringCase(name, "transfer-encoding")
        default: return false
        }
    }
}
