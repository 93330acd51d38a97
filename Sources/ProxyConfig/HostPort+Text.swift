import ProxyModel

extension HostPort {
    /// Why a `host:port` string was rejected, in words for a config problem.
    public struct SyntaxError: Error, Sendable, Equatable {
        public var message: String
    }

    /// Parses `host:port` as config.json writes it: an IPv4 address, a host name
    /// (`accounts.internal:443`), or an IPv6 address in brackets (`[::]:8443`, stored without them).
    /// The port is decimal, 1–65535; with `allowPortZero`, 0 is accepted too (a listening socket on
    /// an ephemeral port, for tests).
    public static func parse(_ text: String, allowPortZero: Bool = false) -> Result<HostPort, SyntaxError> {
        func fail(_ message: String) -> Result<HostPort, SyntaxError> { .failure(SyntaxError(message: message)) }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return fail("missing \"]\" after an IPv6 address") }
            host = text[text.index(after: text.startIndex)..<close]
            guard let ip = IPAddress(String(host)), !ip.isV4, host.contains(":") else {
                return fail("\"\(host)\" in brackets is not an IPv6 address")
            }
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return fail("missing \":port\" after \"]\"") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return fail("missing \":port\" (host:port)") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                return fail("an IPv6 address must be written in brackets ([::1]:8080)")
            }
            if let message = hostProblem(host) { return fail(message) }
        }
        guard !portText.isEmpty, portText.utf8.count <= 5,
              portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let port = Int(portText) else {
            return fail("invalid port \"\(portText)\"; expected a decimal number")
        }
        let lowest = allowPortZero ? 0 : 1
        guard port >= lowest, port <= 65535 else {
            return fail("port \(port) is out of range (\(lowest)-65535)")
        }
        return .success(HostPort(host: String(host), port: port))
    }

    /// nil when `host` is an IPv4 address or a DNS name (labels of letters, digits, `-`, `_`).
    private static func hostProblem(_ host: Substring) -> String? {
        if host.isEmpty { return "missing host before \":port\"" }
        if host.utf8.allSatisfy({ $0 == UInt8(ascii: ".") || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) }) {
            return IPAddress(String(host)) == nil ? "\"\(host)\" is not an IPv4 address" : nil
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        let valid = host.utf8.count <= 253 && labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.utf8.allSatisfy { b in
                (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                    || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
            }
        }
        return valid ? nil : "\"\(host)\" is not a host name or an IP address"
    }
}
