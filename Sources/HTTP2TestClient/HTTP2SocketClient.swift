#if canImport(Glibc)
import Glibc
#endif
import HTTPTestClient

/// An `HTTP2ClientSession` over a loopback socket (h2c prior knowledge), pumped with poll(2)
/// until what the test waits for happens. Used from one test thread.
public final class HTTP2SocketClient {
    public let session: HTTP2ClientSession
    private let socket: RawHTTPClient
    /// The server closed the connection (EOF or error).
    public private(set) var closed = false
    private var pendingOut: [UInt8] = []
    private var pendingOffset = 0

    public init(port: Int, settings: [(Int32, UInt32)] = [], autoWindowUpdate: Bool = true,
                maxSendHeaderBlock: Int? = nil) throws {
        socket = try RawHTTPClient(port: port)
        session = HTTP2ClientSession(settings: settings, autoWindowUpdate: autoWindowUpdate,
                                     maxSendHeaderBlock: maxSendHeaderBlock)
        let flags = fcntl(socket.fd, F_GETFL)
        _ = fcntl(socket.fd, F_SETFL, flags | O_NONBLOCK)
    }

    /// Sends raw bytes (before or instead of the session's own).
    public func sendRaw(_ bytes: [UInt8]) {
        pendingOut += bytes
    }

    /// Pumps bytes both ways until `done` is true, the connection closes, or `timeoutMilliseconds`
    /// pass. Returns whether `done` became true.
    @discardableResult
    public func run(timeoutMilliseconds: Int = 20_000, until done: () -> Bool) -> Bool {
        let deadline = now() + timeoutMilliseconds
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while !done() {
            if closed { return false }
            if pendingOffset >= pendingOut.count {
                pendingOut = session.output()
                pendingOffset = 0
            }
            let remaining = deadline - now()
            if remaining <= 0 { return false }
            var pfd = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
            if pendingOffset < pendingOut.count { pfd.events |= Int16(POLLOUT) }
            if poll(&pfd, 1, Int32(min(remaining, 100))) < 0 { return false }
            if pfd.revents & Int16(POLLOUT) != 0 {
                let n = pendingOut.withUnsafeBytes {
                    Glibc.send(socket.fd, $0.baseAddress! + pendingOffset, $0.count - pendingOffset, Int32(MSG_NOSIGNAL))
                }
                if n > 0 { pendingOffset += n } else if errno != EAGAIN { closed = true }
            }
            if pfd.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = buffer.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    session.receive(Array(buffer[0..<n]))
                } else if n == 0 || errno != EAGAIN {
                    closed = true
                }
            }
        }
        return true
    }

    /// Runs until every stream in `ids` is closed.
    @discardableResult
    public func waitForStreams(_ ids: [Int32], timeoutMilliseconds: Int = 30_000) -> Bool {
        run(timeoutMilliseconds: timeoutMilliseconds) { ids.allSatisfy { session.response($0)?.closed == true } }
    }

    /// One request, run to its end. Nil when the stream did not close in time.
    public func request(method: String = "GET", path: String, authority: String = "localhost",
                        headers: [(String, String)] = [], body: [UInt8]? = nil,
                        timeoutMilliseconds: Int = 30_000) -> HTTP2Response? {
        let id = session.submitRequest(method: method, path: path, authority: authority, headers: headers, body: body)
        guard waitForStreams([id], timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        return session.response(id)
    }

    private func now() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }
}

/// A raw-bytes HTTP/2 peer for abuse tests: sends frames no client session would and reads the
/// server's frames until it closes.
public final class HTTP2RawClient {
    private let socket: RawHTTPClient
    public private(set) var received: [UInt8] = []
    public private(set) var closed = false

    public init(port: Int) throws {
        socket = try RawHTTPClient(port: port)
    }

    /// Sends `bytes`; false when the server had already closed (a reset is expected then).
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(socket.fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Reads until the server closes or `timeoutMilliseconds` pass without a byte. Returns the frames.
    public func readUntilClosed(timeoutMilliseconds: Int = 10_000) -> [HTTP2Frames.Frame] {
        socket.setTimeout(milliseconds: timeoutMilliseconds)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !closed {
            let n = buffer.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                received += buffer[0..<n]
            } else {
                if n == 0 || errno == ECONNRESET { closed = true }
                break
            }
        }
        return HTTP2Frames.parse(received)
    }

    /// The last GOAWAY's error code among the frames received so far.
    public var goawayCode: UInt32? {
        HTTP2Frames.parse(received).last { $0.type == HTTP2Frames.FrameType.goaway.rawValue }?.errorCode
    }
}
