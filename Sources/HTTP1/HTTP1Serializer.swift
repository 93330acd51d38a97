import ProxyModel

/// Writes HTTP/1.1 heads and chunked framing. Field names and values are written as given:
/// the caller is responsible for them being valid (they come from a parser or from the proxy).
public enum HTTP1Serializer {
    /// Appends `METHOD target HTTP/1.1\r\n`, one `name: value\r\n` per field, and `\r\n`.
    /// The version is always HTTP/1.1, whatever `head.version` says.
    public static func appendRequestHead(_ head: RequestHead, to out: inout [UInt8]) {
        append(head.method, to: &out)
        out.append(0x20)
        append(head.target, to: &out)
        append(" HTTP/1.1\r\n", to: &out)
        appendFields(head.fields, to: &out)
    }

    /// Appends `HTTP/1.1 status reason\r\n` (reason = `head.reason`, or the registered phrase
    /// when it is empty), the fields, and `\r\n`.
    public static func appendResponseHead(_ head: ResponseHead, to out: inout [UInt8]) {
        append("HTTP/1.1 ", to: &out)
        append(String(head.status), to: &out)
        out.append(0x20)
        append(head.reason.isEmpty ? HTTPStatus.phrase(head.status) : head.reason, to: &out)
        append("\r\n", to: &out)
        appendFields(head.fields, to: &out)
    }

    /// Appends one chunk: the size in lower-case hex, CRLF, the bytes, CRLF. Empty input
    /// appends nothing (an empty chunk would end the body).
    public static func appendChunk(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        append(String(bytes.count, radix: 16), to: &out)
        append("\r\n", to: &out)
        out.append(contentsOf: bytes)
        append("\r\n", to: &out)
    }

    /// Appends the last chunk without trailers: `0\r\n\r\n`.
    public static func appendLastChunk(to out: inout [UInt8]) {
        append("0\r\n\r\n", to: &out)
    }

    /// Reserves the whole field block first (one growth at most) and writes the separators as
    /// bytes: this runs for every head in both directions.
    private static func appendFields(_ fields: HTTPFields, to out: inout [UInt8]) {
        var size = 2
        for field in fields.entries { size += field.name.utf8.count + field.value.utf8.count + 4 }
        if out.capacity < out.count + size { out.reserveCapacity(max(out.count + size, 2 * out.capacity)) }
        for field in fields.entries {
            append(field.name, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(UInt8(ascii: " "))
            append(field.value, to: &out)
            out.append(cr)
            out.append(lf)
        }
        out.append(cr)
        out.append(lf)
    }

    @inline(__always)
    private static func append(_ string: String, to out: inout [UInt8]) {
        var string = string
        string.withUTF8 { out.append(contentsOf: $0) }
    }
}
