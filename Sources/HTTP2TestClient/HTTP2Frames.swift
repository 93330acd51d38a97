/// Raw HTTP/2 frames for abuse tests: what a well-behaved client session would never send.
public enum HTTP2Frames {
    /// The client connection preface.
    public static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    public enum FrameType: UInt8 {
        case data = 0, headers = 1, rstStream = 3, settings = 4, ping = 6, goaway = 7, windowUpdate = 8, continuation = 9
    }

    public static let endStream: UInt8 = 0x1
    public static let endHeaders: UInt8 = 0x4
    public static let ack: UInt8 = 0x1

    public static func frame(_ type: FrameType, flags: UInt8 = 0, stream: Int32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = [UInt8(payload.count >> 16 & 0xff), UInt8(payload.count >> 8 & 0xff),
                            UInt8(payload.count & 0xff), type.rawValue, flags]
        out += be32(UInt32(bitPattern: stream) & 0x7fff_ffff)
        return out + payload
    }

    /// An empty SETTINGS frame (or its ACK).
    public static func settings(ack: Bool = false, _ entries: [(UInt16, UInt32)] = []) -> [UInt8] {
        var payload: [UInt8] = []
        for (id, value) in entries { payload += [UInt8(id >> 8), UInt8(id & 0xff)] + be32(value) }
        return frame(.settings, flags: ack ? Self.ack : 0, payload)
    }

    public static func ping(_ opaque: UInt64 = 0) -> [UInt8] {
        frame(.ping, (0..<8).map { UInt8(truncatingIfNeeded: opaque >> (56 - 8 * $0)) })
    }

    public static func rstStream(_ stream: Int32, code: UInt32 = 0x8) -> [UInt8] {
        frame(.rstStream, stream: stream, be32(code))
    }

    public static func windowUpdate(_ stream: Int32, _ increment: UInt32) -> [UInt8] {
        frame(.windowUpdate, stream: stream, be32(increment))
    }

    /// A HEADERS frame for a GET of `path` (literal fields, no Huffman).
    public static func getHeaders(stream: Int32, path: String = "/", authority: String = "localhost",
                                  flags: UInt8 = endStream | endHeaders, extra: [UInt8] = []) -> [UInt8] {
        let block = literal(":method", "GET") + literal(":scheme", "http") + literal(":authority", authority)
            + literal(":path", path) + extra
        return frame(.headers, flags: flags, stream: stream, block)
    }

    /// An HPACK literal field without indexing, new name (RFC 7541 §6.2.2).
    public static func literal(_ name: String, _ value: String) -> [UInt8] {
        [0x00] + string(name) + string(value)
    }

    /// An HPACK literal with incremental indexing, new name: it enters the dynamic table (§6.2.1).
    public static func indexedLiteral(_ name: String, _ value: String) -> [UInt8] {
        [0x40] + string(name) + string(value)
    }

    /// An HPACK indexed field reference (§6.1); 62 is the newest dynamic-table entry.
    public static func indexed(_ index: Int) -> [UInt8] { integer(index, prefixBits: 7, firstByte: 0x80) }

    static func string(_ s: String) -> [UInt8] {
        let bytes = Array(s.utf8)
        return integer(bytes.count, prefixBits: 7, firstByte: 0) + bytes
    }

    static func integer(_ value: Int, prefixBits: Int, firstByte: UInt8) -> [UInt8] {
        let max = (1 << prefixBits) - 1
        if value < max { return [firstByte | UInt8(value)] }
        var out = [firstByte | UInt8(max)]
        var rest = value - max
        while rest >= 128 {
            out.append(UInt8(rest % 128 + 128))
            rest /= 128
        }
        out.append(UInt8(rest))
        return out
    }

    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
    }

    /// A frame as parsed by `parse`.
    public struct Frame: Sendable {
        public var type: UInt8
        public var flags: UInt8
        public var stream: Int32
        public var payload: [UInt8]

        /// The error code of a GOAWAY or RST_STREAM frame.
        public var errorCode: UInt32? {
            switch type {
            case FrameType.goaway.rawValue where payload.count >= 8: return u32(payload, 4)
            case FrameType.rstStream.rawValue where payload.count >= 4: return u32(payload, 0)
            default: return nil
            }
        }
    }

    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    /// Splits server bytes into frames (a trailing partial frame is left out).
    public static func parse(_ bytes: [UInt8]) -> [Frame] {
        var frames: [Frame] = []
        var i = 0
        while i + 9 <= bytes.count {
            let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            guard i + 9 + length <= bytes.count else { break }
            frames.append(Frame(type: bytes[i + 3], flags: bytes[i + 4],
                                stream: Int32(bitPattern: u32(bytes, i + 5) & 0x7fff_ffff),
                                payload: Array(bytes[(i + 9)..<(i + 9 + length)])))
            i += 9 + length
        }
        return frames
    }
}
