#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LegacyDemo
import Synchronization

/// A running `errata --config PATH` (the built binary) with its stderr collected. Killed with
/// SIGKILL when released if it is still running.
final class ErrataProcess {
    let process = Process()
    private let errors = CollectedText()

    /// `environment` is added to the test's own, without any systemd variables the test runner had.
    init(binary: URL, config: String, arguments: [String] = [], environment: [String: String] = [:]) throws {
        process.executableURL = binary
        process.arguments = ["--config", config] + arguments
        var env = ProcessInfo.processInfo.environment
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { env.removeValue(forKey: name) }
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardError = pipe
        try process.run()
        let handle = pipe.fileHandleForReading
        let errors = self.errors
        Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                errors.append(data)
            }
        }.start()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var stderr: String { errors.text }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Whether stderr came to contain `text` within `seconds`.
    func waitForStderr(containing text: String, seconds: Double = 10) -> Bool {
        waitUntil(seconds) { stderr.contains(text) }
    }

    /// The exit status once the process has exited, or nil if it still runs after `seconds`.
    func waitForExit(seconds: Double = 15) -> Int32? {
        guard waitUntil(seconds, { !process.isRunning }) else { return nil }
        process.waitUntilExit()
        return process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
    }
}

/// Runs `executable` to completion with `environment` (nil: the test's own); its exit status and
/// its stdout and stderr together.
func runToCompletion(_ executable: URL, _ arguments: [String],
                     environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// An upstream whose `/slow` answers only once `gate` is signalled (or after 10 s): a request
/// certainly in flight while the test reloads or stops errata. Other paths answer at once.
func gatedServer(slowBody: [UInt8], otherBody: [UInt8] = [97],
                 headers: [(String, String)] = []) throws -> (server: LegacyServer, gate: DispatchSemaphore) {
    let gate = DispatchSemaphore(value: 0)
    let server = try LegacyServer { request in
        if request.path == "/slow" { _ = gate.wait(timeout: .now() + 10) }
        return LegacyResponse(status: 200, headers: headers, body: request.path == "/slow" ? slowBody : otherBody)
    }
    return (server, gate)
}

/// Bytes appended by a reader thread, read by the test.
final class CollectedText: Sendable {
    private let bytes = Mutex<[UInt8]>([])

    func append(_ data: Data) { bytes.withLock { $0 += data } }

    var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass; whether it held.
func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// A `NOTIFY_SOCKET` bound by the test, as systemd's manager binds one: an AF_UNIX datagram
/// socket in a fresh directory. One datagram is one sd_notify message of `KEY=VALUE` lines.
final class NotifySocket {
    let path: String
    private let directory: String
    private let fd: Int32
    /// Every message received so far, in order of arrival.
    private(set) var received: [[String: String]] = []
    private var consumed = 0

    init() throws {
        directory = "/tmp/errata-notify-\(UUID().uuidString.prefix(8))"
        guard mkdir(directory, 0o700) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        path = directory + "/notify"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        unlink(path)
        rmdir(directory)
    }

    /// Receives whatever arrives within `seconds` into `received`.
    private func receive(for seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        repeat {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { continue }
            var message: [String: String] = [:]
            for line in String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                message[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            received.append(message)
            return
        } while Date() < deadline
    }

    /// The next message not yet returned that sets `key` (to `value`, when given), skipping
    /// the others; nil when none comes within `seconds`.
    func next(_ key: String, _ value: String? = nil, seconds: Double = 10) -> [String: String]? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            while consumed < received.count {
                let message = received[consumed]
                consumed += 1
                if let found = message[key], value == nil || found == value { return message }
            }
            guard Date() < deadline else { return nil }
            receive(for: deadline.timeIntervalSinceNow)
        }
    }

    /// Waits `seconds` for more messages (to check that something does not come).
    func collect(for seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { receive(for: deadline.timeIntervalSinceNow) }
    }

    /// The lifecycle states of every message so far, in order (`READY`, `RELOADING`, `STOPPING`).
    var states: [String] {
        received.compactMap { m in ["READY", "RELOADING", "STOPPING"].first { m[$0] == "1" } }
    }
}
