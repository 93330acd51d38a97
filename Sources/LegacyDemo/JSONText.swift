/// Just enough JSON writing for the demo answers (the demo must not use the proxy's own modules).
enum JSONText {
    /// `text` as a JSON string literal, quotes included.
    static func quoted(_ text: String) -> String {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        appendEscaped(text.utf8, to: &out)
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// Escapes valid UTF-8 `bytes` for the inside of a JSON string.
    static func appendEscaped<Bytes: Sequence<UInt8>>(_ bytes: Bytes, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                out += Array("\\u00".utf8)
                out += [hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            default: out.append(byte)
            }
        }
    }

    /// The `/echo` answer: `{"method","target","path","version","headers":[[name,value]…],
    /// "body" (UTF-8 bodies) or "body_base64" (others),"body_length"}`.
    static func echo(_ request: LegacyRequest) -> String {
        var out = Array(#"{"method":"#.utf8)
        out += Array(quoted(request.method).utf8)
        out += Array(#","target":"#.utf8) + Array(quoted(request.target).utf8)
        out += Array(#","path":"#.utf8) + Array(quoted(request.path).utf8)
        out += Array(#","version":"#.utf8) + Array(quoted(request.version).utf8)
        out += Array(#","headers":["#.utf8)
        for (i, (name, value)) in request.headers.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += Array("[\(quoted(name)),\(quoted(value))]".utf8)
        }
        out += Array("],".utf8)
        if String(validating: request.body, as: UTF8.self) != nil {
            out += Array(#""body":""#.utf8)
            appendEscaped(request.body, to: &out)
        } else {
            out += Array(#""body_base64":""#.utf8)
            out += base64(request.body)
        }
        out += Array(#"","body_length":\#(request.body.count)}"#.utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// Standard base64 with padding.
    static func base64(_ bytes: [UInt8]) -> [UInt8] {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [table[Int(n >> 18)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], table[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [table[Int(n >> 18)], table[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [table[Int(n >> 18)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return out
    }
}
