#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTestClient

/// A real `redis-server` on a free loopback port for tests, with no persistence
/// (`--save '' --appendonly no`); killed when released. Only tests use it.
///
/// A machine without `redis-server` makes `init` throw, so the test fails rather than skips
/// (`make test` installs it).
public final class RedisTestServer: @unchecked Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case notInstalled
        case didNotStart(String)
        case protocolError(String)
        public var description: String {
            switch self {
            case .notInstalled: return "redis-server is not installed (make test installs it: Makefile APT_PACKAGES)"
            case .didNotStart(let why): return "redis-server did not start: \(why)"
            case .protocolError(let why): return "unexpected RESP: \(why)"
            }
        }
    }

    public let port: Int
    private let binary: String
    private var process: Process?

    public init() throws {
        guard let found = ["/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { throw Failure.notInstalled }
        binary = found
        port = RedisTestServer.freePort()
        try start()
    }

    deinit { kill() }

    /// Starts the server (again) on `port`; returns once it answers `PING`.
    public func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                       "--protected-mode", "no", "--loglevel", "warning"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if case .status("PONG")? = try? command(["PING"]) { return }
            usleep(20_000)
        }
        throw Failure.didNotStart("no PONG on port \(port) within 10 s")
    }

    /// SIGKILL, as a crash would (connections are reset); waits for the exit.
    public func kill() {
        guard let p = process else { return }
        process = nil
        if p.isRunning {
            Glibc.kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
    }

    /// SIGSTOP / SIGCONT: the server keeps its connections but answers nothing (a slow Redis).
    public func pause() { process.map { _ = Glibc.kill($0.processIdentifier, SIGSTOP) } }
    public func resume() { process.map { _ = Glibc.kill($0.processIdentifier, SIGCONT) } }

    public indirect enum Value: Equatable, Sendable {
        case status(String)
        case error(String)
        case integer(Int)
        case bulk(String?)
        case array([Value])
    }

    /// One command on a fresh blocking connection, answered in raw RESP (written apart from
    /// hiredis, the code under test).
    public func command(_ arguments: [String]) throws -> Value {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.protocolError("socket") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw Failure.protocolError("connect: errno \(errno)") }
        var out = "*\(arguments.count)\r\n"
        for a in arguments { out += "$\(a.utf8.count)\r\n\(a)\r\n" }
        let bytes = Array(out.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw Failure.protocolError("write") }
            sent += n
        }
        var reader = Reader(fd: fd)
        return try reader.value()
    }

    /// Every key matching `pattern` (`KEYS`: fine for a test's small database).
    public func keys(_ pattern: String = "*") throws -> [String] {
        guard case .array(let items) = try command(["KEYS", pattern]) else { throw Failure.protocolError("KEYS") }
        return items.compactMap { if case .bulk(let s?) = $0 { return s } else { return nil } }
    }

    private struct Reader {
        let fd: Int32
        var buffer: [UInt8] = []

        mutating func line() throws -> String {
            while true {
                if let i = buffer.firstIndex(of: 10), i > 0, buffer[i - 1] == 13 {
                    let text = String(decoding: buffer[..<(i - 1)], as: UTF8.self)
                    buffer.removeFirst(i + 1)
                    return text
                }
                try fill()
            }
        }

        mutating func fill() throws {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw Failure.protocolError("connection closed") }
            buffer.append(contentsOf: chunk[..<n])
        }

        mutating func value() throws -> Value {
            let l = try line()
            guard let kind = l.first else { throw Failure.protocolError("empty line") }
            let rest = String(l.dropFirst())
            switch kind {
            case "+": return .status(rest)
            case "-": return .error(rest)
            case ":": return .integer(Int(rest) ?? 0)
            case "$":
                let n = Int(rest) ?? -1
                if n < 0 { return .bulk(nil) }
                while buffer.count < n + 2 { try fill() }
                let text = String(decoding: buffer[..<n], as: UTF8.self)
                buffer.removeFirst(n + 2)
                return .bulk(text)
            case "*":
                let n = Int(rest) ?? -1
                if n < 0 { return .bulk(nil) }
                var items: [Value] = []
                for _ in 0..<n { items.append(try value()) }
                return .array(items)
            default: throw Failure.protocolError(l)
            }
        }
    }

    /// A loopback port nothing listens on now.
    public static func freePort() -> Int { unusedLoopbackPort() }
}
