#if canImport(Glibc)
import Glibc
#endif

/// The systemd notify protocol (sd_notify(3)): datagrams to `$NOTIFY_SOCKET`. Does nothing
/// when the variable is unset (not under systemd).
enum SystemdNotifier {
    static func send(_ state: String) {
        guard let path = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 } // abstract namespace
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        var message = Array(state.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                sendto(fd, &message, message.count, Int32(MSG_NOSIGNAL), sa, length)
            }
        }
    }

    /// The watchdog timeout systemd asks for (`WATCHDOG_USEC`, in microseconds), or nil when
    /// there is none: unset, not a positive number, or `WATCHDOG_PID` set to another process.
    static func watchdogMicroseconds() -> UInt64? {
        func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        return watchdogMicroseconds(usec: variable("WATCHDOG_USEC"), pid: variable("WATCHDOG_PID"), ourPID: getpid())
    }

    static func watchdogMicroseconds(usec: String?, pid: String?, ourPID: pid_t) -> UInt64? {
        guard let usec, let value = UInt64(usec), value > 0 else { return nil }
        if let pid, !pid.isEmpty, pid_t(pid) != ourPID { return nil }
        return value
    }

    static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}

/// Lines to stdout or stderr straight through write(2) (Glibc's `stderr` global is not
/// concurrency-safe).
enum Output {
    static func line(_ text: String, fd: Int32 = 1) {
        let bytes = Array((text + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            offset += n
        }
    }
}
