/// A JSON path as config problems print it: `routes[2].upstream`, `upstreams.billing.timeouts.connect`.
///
/// A key that is not a plain identifier (letters, digits, `_`, `-`) is printed quoted in brackets
/// (`upstreams["billing.v2"].servers`), so the path stays unambiguous.
struct ConfigPath: Sendable, Hashable, CustomStringConvertible {
    enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    var components: [Component]

    /// The document itself; prints as the empty string.
    static let root = ConfigPath(components: [])

    func key(_ name: String) -> ConfigPath { ConfigPath(components: components + [.key(name)]) }

    func index(_ i: Int) -> ConfigPath { ConfigPath(components: components + [.index(i)]) }

    var description: String {
        var out = ""
        for component in components {
            switch component {
            case .index(let i):
                out += "[\(i)]"
            case .key(let name) where Self.isPlain(name):
                if !out.isEmpty { out += "." }
                out += name
            case .key(let name):
                out += "[\"\(name)\"]"
            }
        }
        return out
    }

    private static func isPlain(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { s in
            s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "_" || s == "-")
        }
    }
}
