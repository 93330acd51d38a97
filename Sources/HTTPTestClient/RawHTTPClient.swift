#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib

/// A response as read off the wire by `RawHTTPClient`.
public struct RawResponse: Sendable {
    public var status: Int
    public var reason: String
    public var headers: [(String, String)]
    /// The body with chunked framing removed.
    public var body: [UInt8]
    /// The bytes after the head exactly as received (chunk framing included).
    public var rawBody: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

public enum RawClientError: Error, Equatable {
    case connectFailed(Int32)
    case timedOut
    /// The server closed before the response was complete; the bytes received so far.
    case closedEarly([UInt8])
    case malformed(String)
}

/// A deliberately simple blocking HTTP/1.1 client (a library only the tests use) over a loopback socket, written separately from
/// the server under test: it sends whatever bytes a test gives it and parses responses strictly
/// enough to check framing. Used from one test thread.
public final class RawHTTPClient {
    public let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to 127.0.0.1:`port`; reads give up after `timeoutMilliseconds`.
    public init(port: Int, timeoutMilliseconds: Int = 10_000) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            let e = errno
            Glibc.close(fd)
            throw RawClientError.connectFailed(e)
        }
        setTimeout(milliseconds: timeoutMilliseconds)
    }

    deinit { Glibc.close(fd) }

    public func setTimeout(milliseconds: Int) {
        var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: Int((milliseconds % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    public func send(_ text: String) { send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Half-closes the sending side.
    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Receives into the buffer: true when bytes came, false on EOF; throws on timeout.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer += chunk[0..<n]
                return true
            }
            if n == 0 { return false }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw RawClientError.timedOut }
            return false
        }
    }

    /// Everything until the server closes.
    public func readToEOF() throws -> [UInt8] {
        while try fill() {}
        defer { buffer.removeAll() }
        return buffer
    }

    /// Whether the server closed the connection (true) or kept it open past the timeout (false),
    /// discarding anything received.
    public func waitForClose() -> Bool {
        do {
            _ = try readToEOF()
            return true
        } catch {
            return false
        }
    }

    private func takeLine() throws -> String {
        while true {
            if let lf = buffer.firstIndex(of: 10) {
                guard lf > 0, buffer[lf - 1] == 13 else { throw RawClientError.malformed("line without CRLF") }
                let line = String(decoding: buffer[0..<(lf - 1)], as: UTF8.self)
                buffer.removeSubrange(0...lf)
                return line
            }
            guard try fill() else { throw RawClientError.closedEarly(buffer) }
        }
    }

    private func take(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw RawClientError.closedEarly(buffer) }
        }
        let bytes = Array(buffer[0..<count])
        buffer.removeSubrange(0..<count)
        return bytes
    }

    /// Reads one response (interim 1xx responses are returned as such). `forHEAD` reads no body.
    public func readResponse(forHEAD: Bool = false) throws -> RawResponse {
        let statusLine = try takeLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw RawClientError.malformed("status line \(statusLine)")
        }
        var headers: [(String, String)] = []
        while true {
            let line = try takeLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw RawClientError.malformed("header \(line)") }
            headers.append((String(line[..<colon]),
                            String(line[line.index(after: colon)...]).trimmingCharacters(in: " ")))
        }
        var response = RawResponse(status: status, reason: parts.count > 2 ? String(parts[2]) : "",
                                   headers: headers, body: [], rawBody: [])
        if forHEAD || (100..<200).contains(status) || status == 204 || status == 304 { return response }
        if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            while true {
                let sizeLine = try takeLine()
                response.rawBody += Array((sizeLine + "\r\n").utf8)
                guard let size = Int(sizeLine, radix: 16) else { throw RawClientError.malformed("chunk size \(sizeLine)") }
                if size == 0 {
                    guard try takeLine().isEmpty else { throw RawClientError.malformed("trailer") }
                    response.rawBody += [13, 10]
                    return response
                }
                let data = try take(size)
                response.body += data
                response.rawBody += data
                guard try takeLine().isEmpty else { throw RawClientError.malformed("chunk end") }
                response.rawBody += [13, 10]
            }
        } else if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            response.body = try take(length)
        } else {
            response.body = try readToEOF()
        }
        response.rawBody = response.rawBody.isEmpty ? response.body : response.rawBody
        return response
    }

    /// Sends `request` and reads the response.
    public func exchange(_ request: String, forHEAD: Bool = false) throws -> RawResponse {
        send(request)
        return try readResponse(forHEAD: forHEAD)
    }
}

extension String {
    public func trimmingCharacters(in set: Character) -> String {
        var s = self[...]
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}

/// gunzips `bytes` with zlib; nil when they are not one complete gzip member.
public func gunzip(_ bytes: [UInt8]) -> [UInt8]? {
    var stream = z_stream()
    guard errata_inflateInit2(&stream, 15 + 16) == Z_OK else { return nil }
    defer { inflateEnd(&stream) }
    var input = bytes
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    var result: Int32 = Z_OK
    input.withUnsafeMutableBufferPointer { inBuf in
        stream.next_in = inBuf.baseAddress
        stream.avail_in = uInt(inBuf.count)
        repeat {
            chunk.withUnsafeMutableBufferPointer { outBuf in
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                result = inflate(&stream, Z_NO_FLUSH)
                output += outBuf[0..<(outBuf.count - Int(stream.avail_out))]
            }
        } while result == Z_OK
    }
    return result == Z_STREAM_END ? output : nil
}
