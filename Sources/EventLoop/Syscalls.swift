import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

/// The outcome of one non-blocking I/O call (SwiftNIO's `.processed(n)` / `.wouldBlock`).
public enum IOResult: Equatable, Sendable {
    case processed(Int)
    case wouldBlock
    /// The peer closed its side (a read returned 0).
    case eof
    case failed(errno: Int32)
}

/// The syscalls the event loop makes, behind a protocol so that the write queue's partial-write
/// accounting can be tested against a fake kernel.
public protocol SocketIO {
    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> IOResult
    func writev(_ fd: Int32, _ iov: UnsafeBufferPointer<iovec>) -> IOResult
}

/// The real kernel.
public struct KernelSocketIO: SocketIO, Sendable {
    public init() {}

    @inline(__always)
    public func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n > 0 { return .processed(n) }
            if n == 0 { return .eof }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .failed(errno: e)
        }
    }

    @inline(__always)
    public func writev(_ fd: Int32, _ iov: UnsafeBufferPointer<iovec>) -> IOResult {
        while true {
            let n = Glibc.writev(fd, iov.baseAddress, Int32(iov.count))
            if n >= 0 { return .processed(n) }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .failed(errno: e)
        }
    }
}

/// Small socket helpers. Every fd they create is non-blocking and close-on-exec.
public enum Sockets {
    /// Ignores SIGPIPE process-wide: a write to a closed peer returns EPIPE instead of killing us.
    public static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }

    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    public static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    /// Binds and listens on `address` with SO_REUSEADDR and SO_REUSEPORT (one socket per worker).
    /// - Returns: the fd, or the errno of the failing call and its name.
    public static func listen(on address: SocketAddress, backlog: Int32 = 1024, reusePort: Bool = true) -> Result<Int32, SocketError> {
        let fd = socket(address.family, errata_sock_stream_nonblock(), 0)
        guard fd >= 0 else { return .failure(SocketError(call: "socket", errno: errno)) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort {
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if address.family == AF_INET6 {
            _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let rc = address.withSockAddr { bind(fd, $0, $1) }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            return .failure(SocketError(call: "bind", errno: e))
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            Glibc.close(fd)
            return .failure(SocketError(call: "listen", errno: e))
        }
        return .success(fd)
    }

    /// The local address a socket is bound to (to learn an ephemeral port).
    public static func localAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return rc == 0 ? SocketAddress(storage: storage, length: len) : nil
    }

    /// Starts a non-blocking connect.
    /// - Returns: the fd and whether the connection is already established (loopback often is),
    ///   or the errno (ECONNREFUSED etc.).
    public static func connect(to address: SocketAddress) -> Result<(fd: Int32, connected: Bool), SocketError> {
        let fd = socket(address.family, errata_sock_stream_nonblock(), 0)
        guard fd >= 0 else { return .failure(SocketError(call: "socket", errno: errno)) }
        let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return .success((fd, true)) }
        let e = errno
        if e == EINPROGRESS || e == EINTR { return .success((fd, false)) }
        Glibc.close(fd)
        return .failure(SocketError(call: "connect", errno: e))
    }

    /// The pending error of a socket after a non-blocking connect (0: connected).
    public static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }

    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}

/// A failed socket call.
public struct SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}
