#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why reading a request stopped.
enum RequestReadError: Error, Equatable {
    /// The peer closed (or the socket failed) before a whole request arrived. `midRequest` is
    /// false when the connection ended cleanly between requests.
    case closed(midRequest: Bool)
    /// The bytes are not an HTTP/1.x request; the reason goes into the 400 body.
    case malformed(String)
    /// The request line and headers exceed `SocketReader.headLimit`.
    case headTooLarge
}

/// Buffered blocking reads from one connected socket, and the HTTP/1.x request grammar on top.
/// Owned by the one thread serving the connection.
struct SocketReader {
    /// Largest request head (request line + fields) accepted before answering 431.
    static let headLimit = 64 * 1024
    /// Largest body accepted (a demo server still needs a bound).
    static let bodyLimit = 1 << 30

    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(fd: Int32) { self.fd = fd }

    /// Whether unread bytes are buffered (a pipelined request).
    var hasBufferedBytes: Bool { start < buffer.count }

    private static let zeros = [UInt8](repeating: 0, count: 64 * 1024)

    /// Reads more bytes into the buffer; false on EOF or error.
    private mutating func fill() -> Bool {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 64 * 1024 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        let oldCount = buffer.count
        buffer += Self.zeros
        while true {
            let n = buffer.withUnsafeMutableBytes { raw in
                recv(fd, raw.baseAddress! + oldCount, Self.zeros.count, 0)
            }
            if n < 0 && errno == EINTR { continue }
            buffer.removeSubrange((oldCount + max(n, 0))...)
            return n > 0
        }
    }

    /// The next line without its LF (and CR before it), or nil on EOF. Throws `headTooLarge`
    /// when no LF comes within `limit` bytes.
    private mutating func readLine(limit: Int) throws(RequestReadError) -> [UInt8]? {
        var scanned = start
        while true {
            if let lf = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = lf
                if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = Array(buffer[start..<end])
                start = lf + 1
                return line
            }
            scanned = buffer.count
            if buffer.count - start > limit { throw .headTooLarge }
            let offset = scanned - start
            if !fill() { return nil }
            scanned = start + offset
        }
    }

    /// Appends exactly `count` bytes to `body`; false when the peer closes first.
    private mutating func read(_ count: Int, into body: inout [UInt8]) -> Bool {
        var filled = body.count
        body += [UInt8](repeating: 0, count: count)
        let end = body.count
        // Buffered bytes first, then straight from the socket into `body`.
        let take = min(count, buffer.count - start)
        if take > 0 {
            body.withUnsafeMutableBytes { dst in
                buffer.withUnsafeBytes { src in
                    (dst.baseAddress! + filled).copyMemory(from: src.baseAddress! + start, byteCount: take)
                }
            }
            start += take
            filled += take
        }
        while filled < end {
            let n = body.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress! + filled, end - filled, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                body.removeSubrange(filled...)
                return false
            }
            filled += n
        }
        return true
    }

    /// Reads one request head. Returns nil when the peer closed cleanly before sending a byte of
    /// it.
    mutating func readHead() throws(RequestReadError) -> LegacyRequest? {
        var lineBudget = Self.headLimit
        // RFC 9112 §2.2: ignore at least one empty line before the request line.
        var requestLine: [UInt8] = []
        var sawBytes = false
        for _ in 0..<4 {
            guard let line = try readLine(limit: lineBudget) else {
                if sawBytes { throw .closed(midRequest: true) }
                return nil
            }
            sawBytes = true
            if !line.isEmpty { requestLine = line; break }
        }
        lineBudget -= requestLine.count
        let parts = requestLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw .malformed("malformed request line")
        }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            throw .malformed("unsupported version \(version)")
        }
        var headers: [(String, String)] = []
        while true {
            guard let line = try readLine(limit: lineBudget) else { throw .closed(midRequest: true) }
            lineBudget -= line.count + 2
            if lineBudget < 0 { throw .headTooLarge }
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
                throw .malformed("header line without a name")
            }
            let name = line[..<colon]
            if name.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) {
                throw .malformed("whitespace in a header name")
            }
            var value = line[(colon + 1)...]
            while let f = value.first, f == UInt8(ascii: " ") || f == UInt8(ascii: "\t") { value = value.dropFirst() }
            while let l = value.last, l == UInt8(ascii: " ") || l == UInt8(ascii: "\t") { value = value.dropLast() }
            headers.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return LegacyRequest(method: String(decoding: parts[0], as: UTF8.self),
                             target: String(decoding: parts[1], as: UTF8.self),
                             version: version, headers: headers)
    }

    /// How the body of `request` is framed.
    enum BodyFraming: Equatable { case none, length(Int), chunked }

    static func framing(of request: LegacyRequest) throws(RequestReadError) -> BodyFraming {
        let te = request.headers.filter { $0.0.lowercased() == "transfer-encoding" }.map(\.1)
        if !te.isEmpty {
            let last = te.joined(separator: ",").split(separator: ",").last
                .map { $0.trimmingASCIISpaces().lowercased() }
            guard last == "chunked" else { throw .malformed("transfer-encoding without final chunked") }
            return .chunked
        }
        let lengths = request.headers.filter { $0.0.lowercased() == "content-length" }.map(\.1)
        guard let first = lengths.first else { return .none }
        guard lengths.allSatisfy({ $0 == first }), !first.isEmpty,
              first.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              first.utf8.count <= 12, let n = Int(first) else {
            throw .malformed("invalid content-length")
        }
        return .length(n)
    }

    /// Reads the body `framing` announces (chunked decoded, trailers dropped).
    mutating func readBody(_ framing: BodyFraming) throws(RequestReadError) -> [UInt8] {
        var body: [UInt8] = []
        switch framing {
        case .none:
            return body
        case .length(let n):
            guard n <= Self.bodyLimit else { throw .malformed("body too large") }
            guard read(n, into: &body) else { throw .closed(midRequest: true) }
            return body
        case .chunked:
            while true {
                guard let line = try readLine(limit: 4096) else { throw .closed(midRequest: true) }
                let sizeText = line.prefix { $0 != UInt8(ascii: ";") }
                    .filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
                guard !sizeText.isEmpty, sizeText.count <= 15,
                      let size = Int(String(decoding: sizeText, as: UTF8.self), radix: 16) else {
                    throw .malformed("invalid chunk size")
                }
                if size == 0 { break }
                guard body.count + size <= Self.bodyLimit else { throw .malformed("body too large") }
                guard read(size, into: &body) else { throw .closed(midRequest: true) }
                guard let end = try readLine(limit: 2) else { throw .closed(midRequest: true) }
                guard end.isEmpty else { throw .malformed("chunk data longer than its size") }
            }
            // Trailer fields, dropped, up to the empty line.
            var budget = Self.headLimit
            while true {
                guard let line = try readLine(limit: budget) else { throw .closed(midRequest: true) }
                if line.isEmpty { break }
                budget -= line.count
                if budget < 0 { throw .headTooLarge }
            }
            return body
        }
    }
}

extension Substring {
    func trimmingASCIISpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
