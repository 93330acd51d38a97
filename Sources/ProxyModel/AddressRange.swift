/// A numeric IPv4 or IPv6 address as 16 bytes (IPv4 as IPv4-mapped IPv6), parsed without libc.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]
    public var isV4: Bool

    /// Parses `192.0.2.1` or `2001:db8::1` (no brackets, no zone); nil otherwise.
    public init?(_ text: String) {
        if let v4 = IPAddress.parseV4(Substring(text)) {
            bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, v4[0], v4[1], v4[2], v4[3]]
            isV4 = true
        } else if let v6 = IPAddress.parseV6(text) {
            bytes = v6
            isV4 = false
        } else {
            return nil
        }
    }

    public var description: String {
        if isV4 { return bytes[12...].map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) {
            groups.append(String(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]), radix: 16))
        }
        return groups.joined(separator: ":")
    }

    /// Dotted-quad IPv4: four 1–3 digit decimal parts ≤ 255 without leading zeros. Runs for
    /// every request whose client is checked against `trusted_proxies`: scans bytes, no splitting.
    static func parseV4(_ s: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(4)
        var value = 0
        var digits = 0
        var leadingZero = false
        for b in s.utf8 {
            if b == UInt8(ascii: ".") {
                guard digits > 0, out.count < 3 else { return nil }
                out.append(UInt8(value))
                value = 0
                digits = 0
                continue
            }
            // A digit after a leading `0` is refused: `010` is octal to some parsers.
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9"), digits < 3, digits == 0 || !leadingZero else { return nil }
            if digits == 0 { leadingZero = b == UInt8(ascii: "0") }
            value = value * 10 + Int(b - UInt8(ascii: "0"))
            digits += 1
            guard value <= 255 else { return nil }
        }
        guard digits > 0, out.count == 3 else { return nil }
        out.append(UInt8(value))
        return out
    }

    static func parseV6(_ s: String) -> [UInt8]? {
        guard s.contains(":"), s.utf8.count <= 45 else { return nil }
        let halves = s.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt8]? {
            if part.isEmpty { return [] }
            var out: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, piece) in pieces.enumerated() {
                if i == pieces.count - 1, piece.contains("."), let v4 = parseV4(piece) {
                    out += v4
                    continue
                }
                guard !piece.isEmpty, piece.count <= 4, let v = UInt16(piece, radix: 16) else { return nil }
                out += [UInt8(v >> 8), UInt8(v & 0xff)]
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count < 16 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}

/// A CIDR range (`127.0.0.1/32`, `10.0.0.0/8`, `::1/128`; a bare address is a single host),
/// as `trusted_proxies` lists them.
public struct AddressRange: Sendable, Hashable, CustomStringConvertible {
    public var network: IPAddress
    /// Prefix length over the 128-bit form (an IPv4 `/8` is stored as 104).
    public var prefix: Int
    public let description: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        let maxBits = address.isV4 ? 32 : 128
        var bits = maxBits
        if parts.count == 2 {
            guard let b = Int(parts[1]), b >= 0, b <= maxBits, parts[1].allSatisfy(\.isNumber) else { return nil }
            bits = b
        }
        network = address
        prefix = bits + (address.isV4 ? 96 : 0)
        description = text
    }

    public func contains(_ address: IPAddress) -> Bool {
        var remaining = prefix
        for i in 0..<16 {
            if remaining <= 0 { return true }
            let mask: UInt8 = remaining >= 8 ? 0xff : UInt8(0xff << (8 - remaining) & 0xff)
            if address.bytes[i] & mask != network.bytes[i] & mask { return false }
            remaining -= 8
        }
        return true
    }
}
