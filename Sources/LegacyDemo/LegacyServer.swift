#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSystemShims
import Dispatch
import Foundation

/// Errors from starting a `LegacyServer`.
public struct LegacyServerError: Error, CustomStringConvertible {
    public let operation: String
    public let errno: Int32
    public var description: String { "\(operation) failed: \(String(cString: strerror(errno)))" }
}

/// A small blocking HTTP/1.1 server on 127.0.0.1, independent of the proxy's own HTTP and event
/// loop code, so the proxy is never tested against itself.
///
/// One thread blocks in `accept`; each connection gets its own thread that reads a request
/// (Content-Length or chunked body, `Expect: 100-continue` honoured), calls `handler` on that
/// thread, writes the response as its `mode` says, and loops while the connection is kept
/// alive. `handler` runs concurrently for concurrent connections.
///
/// The threads hold the server, so a server runs until `stop()` is called.
public final class LegacyServer: Sendable {
    /// The bound TCP port on 127.0.0.1.
    public let port: Int

    private let listenFD: Int32
    private let handler: @Sendable (LegacyRequest) -> LegacyResponse
    private let state = QueueLocked(State())
    private let threads = DispatchGroup()

    private struct State {
        var stopped = false
        var connections: Set<Int32> = []
        var requestCount = 0
        var connectionCount = 0
    }

    /// Binds 127.0.0.1:`port` (0 picks an ephemeral port, read it back from `port`) and starts
    /// serving `handler` on background threads until `stop()`. Ignores SIGPIPE process-wide.
    public init(port: Int = 0, handler: @escaping @Sendable (LegacyRequest) -> LegacyResponse) throws {
        signal(SIGPIPE, SIG_IGN)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LegacyServerError(operation: "socket", errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let e = errno
            close(fd)
            throw LegacyServerError(operation: "bind 127.0.0.1:\(port)", errno: e)
        }
        guard listen(fd, 512) == 0 else {
            let e = errno
            close(fd)
            throw LegacyServerError(operation: "listen", errno: e)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        self.listenFD = fd
        self.handler = handler

        threads.enter()
        let thread = Thread { [self] in
            acceptLoop()
            threads.leave()
        }
        thread.name = "legacy-accept-\(self.port)"
        thread.start()
    }

    /// Requests read completely (a request the client abandoned mid-way is not counted).
    public var requestCount: Int { state.withLock { $0.requestCount } }

    /// Connections accepted.
    public var connectionCount: Int { state.withLock { $0.connectionCount } }

    /// Connections open right now.
    public var openConnectionCount: Int { state.withLock { $0.connections.count } }

    /// Whether `stop()` was called.
    public var isStopped: Bool { state.withLock { $0.stopped } }

    /// Stops accepting, shuts down every open connection (hanging ones included) and waits up to
    /// two seconds for the server's threads to finish. After it returns the port refuses
    /// connections. Idempotent.
    public func stop() {
        let first = state.withLock { state -> Bool in
            if state.stopped { return false }
            state.stopped = true
            // Wakes the threads blocked in recv/send; each closes its own descriptor.
            for fd in state.connections { shutdown(fd, Int32(SHUT_RDWR)) }
            return true
        }
        guard first else { return }
        // On Linux, shutdown of a listening socket wakes accept with EINVAL and refuses new
        // connections.
        shutdown(listenFD, Int32(SHUT_RDWR))
        _ = threads.wait(timeout: .now() + .seconds(2))
        close(listenFD)
    }

    // MARK: - Accepting

    private func acceptLoop() {
        while true {
            let fd = errata_accept4(listenFD, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            if fd < 0 {
                let e = errno
                if e == EINTR || e == ECONNABORTED { continue }
                if e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM {
                    if isStopped { return }
                    usleep(10_000)
                    continue
                }
                return
            }
            let admitted = state.withLock { state -> Bool in
                if state.stopped { return false }
                state.connections.insert(fd)
                state.connectionCount += 1
                return true
            }
            guard admitted else {
                close(fd)
                return
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            threads.enter()
            let thread = Thread { [self] in
                serve(fd)
                threads.leave()
            }
            thread.name = "legacy-conn-\(port)"
            thread.start()
        }
    }

    // MARK: - One connection

    /// What happens to a connection after a response.
    private enum After { case keepAlive, lingeringClose, hang }

    private func serve(_ fd: Int32) {
        var reader = SocketReader(fd: fd)
        var after = After.keepAlive
        while after == .keepAlive {
            after = serveOne(fd, &reader)
        }
        if after == .hang {
            // Never answer: wait until the peer closes or stop() shuts the socket down.
            var sink = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let n = sink.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 || (n < 0 && errno == EINTR) { continue }
                break
            }
        } else {
            lingeringClose(fd)
        }
        state.withLock { _ = $0.connections.remove(fd) }
        close(fd)
    }

    /// Reads and answers one request; says what to do with the connection next.
    private func serveOne(_ fd: Int32, _ reader: inout SocketReader) -> After {
        let request: LegacyRequest
        do throws(RequestReadError) {
            guard var head = try reader.readHead() else { return .lingeringClose }
            let framing = try SocketReader.framing(of: head)
            if framing != .none, head.version == "HTTP/1.1",
               head.header("Expect")?.lowercased() == "100-continue" {
                guard sendAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return .lingeringClose }
            }
            head.body = try reader.readBody(framing)
            request = head
        } catch {
            switch error {
            case .closed:
                break
            case .malformed(let reason):
                _ = write(LegacyResponse.text(400, "Bad Request: \(reason)\n"), to: fd, request: nil, close: true)
            case .headTooLarge:
                _ = write(LegacyResponse.text(431, "Request Header Fields Too Large\n"), to: fd, request: nil, close: true)
            }
            return .lingeringClose
        }
        state.withLock { $0.requestCount += 1 }

        let response = handler(request)
        if response.delayMilliseconds > 0 && !sleepUnlessStopped(milliseconds: response.delayMilliseconds) {
            return .lingeringClose
        }
        switch response.mode {
        case .hang:
            return .hang
        case .closeWithoutResponse:
            return .lingeringClose
        case .raw(let bytes):
            _ = sendAll(fd, bytes)
            return .lingeringClose
        default:
            let close = !Self.keepsAlive(request: request, response: response)
            let sent = write(response, to: fd, request: request, close: close)
            return sent && !close && !isStopped ? .keepAlive : .lingeringClose
        }
    }

    /// Whether the connection may carry another request after this exchange.
    private static func keepsAlive(request: LegacyRequest, response: LegacyResponse) -> Bool {
        func tokens(_ value: String?) -> [String] {
            (value ?? "").lowercased().split(separator: ",").map { String($0.trimmingASCIISpaces()) }
        }
        switch response.mode {
        case .contentLength, .chunked: break
        default: return false
        }
        if tokens(response.header("Connection")).contains("close") { return false }
        let requested = tokens(request.header("Connection"))
        if request.version == "HTTP/1.0" { return requested.contains("keep-alive") }
        return !requested.contains("close")
    }

    /// Writes `response` in its framing mode (not `.raw`, `.hang`, `.closeWithoutResponse`).
    /// `request` nil means an error answer to an unreadable request. Returns false when the
    /// peer went away.
    private func write(_ response: LegacyResponse, to fd: Int32, request: LegacyRequest?, close: Bool) -> Bool {
        let isHead = request?.method == "HEAD"
        let bodiless = isHead || response.status == 204 || response.status == 304
            || (100..<200).contains(response.status)
        var mode = response.mode
        if case .chunked = mode, request?.version == "HTTP/1.0" { mode = .closeDelimited }
        if case .chunkedThenClose = mode, request?.version == "HTTP/1.0" { mode = .headThenClose }

        var headers = response.headers
        let hasLength = response.header("Content-Length") != nil
        switch mode {
        case .contentLength:
            if !hasLength && response.status != 204 && response.status != 304 && !(100..<200).contains(response.status) {
                headers.append(("Content-Length", String(response.body.count)))
            }
        case .chunked, .chunkedThenClose:
            headers.append(("Transfer-Encoding", "chunked"))
        case .headThenClose:
            if !hasLength { headers.append(("Content-Length", String(response.body.count + 1024))) }
        default:
            break
        }
        if close {
            if response.header("Connection") == nil { headers.append(("Connection", "close")) }
        } else if request?.version == "HTTP/1.0" {
            headers.append(("Connection", "keep-alive"))
        }

        var head = "HTTP/1.1 \(response.status) \(response.reason ?? LegacyResponse.standardReason(response.status))\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        var headBytes = Array(head.utf8)
        if bodiless { return sendAll(fd, headBytes) }

        switch mode {
        case .chunked(let size), .chunkedThenClose(let size):
            guard sendAll(fd, headBytes) else { return false }
            let chunkSize = max(1, size)
            var offset = 0
            while offset < response.body.count {
                if response.chunkDelayMilliseconds > 0
                    && !sleepUnlessStopped(milliseconds: response.chunkDelayMilliseconds) { return false }
                let end = min(offset + chunkSize, response.body.count)
                var chunk = Array((String(end - offset, radix: 16) + "\r\n").utf8)
                chunk.append(contentsOf: response.body[offset..<end])
                chunk.append(contentsOf: [13, 10])
                guard sendAll(fd, chunk) else { return false }
                offset = end
            }
            if case .chunkedThenClose = mode { return false }
            return sendAll(fd, Array("0\r\n\r\n".utf8))
        default:
            if response.body.count <= 64 * 1024 {
                headBytes.append(contentsOf: response.body)
                return sendAll(fd, headBytes)
            }
            return sendAll(fd, headBytes) && sendAll(fd, response.body)
        }
    }

    /// Sends FIN, then reads (discarding) until the peer closes, up to one second, so that
    /// unread request bytes do not turn the close into a reset that destroys the response.
    private func lingeringClose(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sink = [UInt8](repeating: 0, count: 16 * 1024)
        var drained = 0
        while drained < 1 << 20 {
            let n = sink.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            drained += n
        }
    }

    /// Sleeps in short slices; false when the server stopped meanwhile.
    private func sleepUnlessStopped(milliseconds: Int) -> Bool {
        var remaining = milliseconds
        while remaining > 0 {
            if isStopped { return false }
            let slice = min(remaining, 10)
            usleep(useconds_t(slice * 1000))
            remaining -= slice
        }
        return !isStopped
    }
}

/// Sends all of `bytes` on the blocking socket `fd` (no SIGPIPE); false when the peer went away.
func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { raw -> Bool in
        var offset = 0
        while offset < raw.count {
            let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }
}
