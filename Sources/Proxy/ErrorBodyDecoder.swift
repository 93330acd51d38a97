import CZlib
import ProxyModel

/// Decodes a held upstream error body before it is normalized: `identity`, `gzip`
/// (`x-gzip`) and `deflate` (zlib-wrapped, or raw as some servers send it) through zlib.
///
/// The decoded size is capped at `limit` bytes, so a gzip bomb costs at most `limit` bytes of
/// output and the input it takes to produce them: inflation stops as soon as the cap is passed.
/// Pure apart from zlib; no I/O.
enum ErrorBodyDecoder {
    enum Outcome: Equatable {
        /// The decoded body, at most `limit` bytes.
        case decoded([UInt8])
        /// An encoding errata does not decode (`br`, `zstd`, a list of codings), or a corrupt
        /// stream: the body cannot be read and the error falls back to its status.
        case unreadable
        /// Decoding produced more than `limit` bytes: falls back to the status, like a large body.
        case tooLarge
    }

    /// `contentEncoding` is the response's `Content-Encoding` value (nil when absent).
    static func decode(_ body: [UInt8], contentEncoding: String?, limit: Int) -> Outcome {
        let coding = contentEncoding.map { Substring($0).trimmingSpaces().lowercased() } ?? ""
        switch coding {
        case "", "identity":
            return body.count <= limit ? .decoded(body) : .tooLarge
        case "gzip", "x-gzip":
            // windowBits 15 + 16: a gzip header and trailer.
            return inflate(body, windowBits: 15 + 16, limit: limit)
        case "deflate":
            // RFC 9110 says zlib format; some servers send raw deflate, which is tried second.
            let zlib = inflate(body, windowBits: 15, limit: limit)
            if zlib == .unreadable { return inflate(body, windowBits: -15, limit: limit) }
            return zlib
        default:
            return .unreadable
        }
    }

    private static func inflate(_ input: [UInt8], windowBits: Int32, limit: Int) -> Outcome {
        var stream = z_stream()
        guard errata_inflateInit2(&stream, windowBits) == Z_OK else { return .unreadable }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var input = input
        return input.withUnsafeMutableBufferPointer { inBuf -> Outcome in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inBuf.count)
            while true {
                let (result, produced) = chunk.withUnsafeMutableBufferPointer { outBuf -> (Int32, Int) in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    let r = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (r, outBuf.count - Int(stream.avail_out))
                }
                if output.count + produced > limit { return .tooLarge }
                output.append(contentsOf: chunk[0..<produced])
                switch result {
                case Z_STREAM_END:
                    return .decoded(output)
                case Z_OK:
                    // No progress possible with the input left: a truncated stream.
                    if stream.avail_in == 0 && produced == 0 { return .unreadable }
                case Z_BUF_ERROR:
                    if stream.avail_in == 0 { return .unreadable }
                default:
                    return .unreadable
                }
            }
        }
    }
}
