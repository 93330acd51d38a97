import ProxyModel

/// Hop-by-hop fields (RFC 9110 §7.6.1), which a proxy must not forward.
public enum HopByHop {
    /// The fields that are hop-by-hop whatever `Connection` says, lower-cased.
    public static let fixedNames: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// Removes Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding,
    /// Upgrade, and every field named in a Connection field.
    public static func remove(from fields: inout HTTPFields) {
        var named = fixedNames
        for value in fields.all("Connection") {
            for member in HTTPFields.listMembers(value) { named.insert(member.lowercased()) }
        }
        fields.removeAll { named.contains($0) }
    }
}
