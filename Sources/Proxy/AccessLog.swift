#if canImport(Glibc)
import Glibc
#endif
import EventLoop

/// One finished request, as the access log records it.
struct AccessLogEntry {
    var requestID: String
    var client: String
    var method: String
    var path: String
    var protocolVersion: String
    var status: Int
    var route: String?
    var upstream: String?
    var upstreamStatus: Int?
    /// Why the proxy answered itself (`upstream_timeout`…), nil when the upstream answered.
    var error: String?
    var durationNanoseconds: UInt64
    var bytesSent: Int
}

/// The JSON access log: one line per request (time, request id, client, method, path, status,
/// upstream, upstream status, duration, bytes) written to a file descriptor.
///
/// Confined to its worker's queue. Lines are buffered and written with one `write(2)` when
/// 16 KiB have gathered or at the worker's next tick (≤ 100 ms later), so logging costs
/// a fraction of a syscall per request. `fd` is not owned (stdout, stderr, or a file the
/// server opened); -1 turns logging off.
final class AccessLog: DeadlineTarget {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var deadline: UInt64 = 0
    private var cachedSecond: Int = -1
    private var cachedPrefix = ""

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(fd >= 0 ? 20_000 : 0)
    }

    var isEnabled: Bool { fd >= 0 }

    func record(_ e: AccessLogEntry) {
        guard fd >= 0 else { return }
        append("{\"time\":\"")
        append(timestamp())
        append("\",\"request_id\":")
        appendJSONString(e.requestID)
        append(",\"client\":")
        appendJSONString(e.client)
        append(",\"method\":")
        appendJSONString(e.method)
        append(",\"path\":")
        appendJSONString(e.path)
        append(",\"protocol\":\"")
        append(e.protocolVersion)
        append("\",\"status\":")
        append(String(e.status))
        append(",\"route\":")
        if let route = e.route { appendJSONString(route) } else { append("null") }
        append(",\"upstream\":")
        if let upstream = e.upstream { appendJSONString(upstream) } else { append("null") }
        append(",\"upstream_status\":")
        append(e.upstreamStatus.map(String.init) ?? "null")
        if let error = e.error {
            append(",\"error\":")
            appendJSONString(error)
        }
        append(",\"duration_ms\":")
        let micros = e.durationNanoseconds / 1000
        append(String(micros / 1000))
        append(".")
        let frac = String(micros % 1000)
        append(String(repeating: "0", count: 3 - frac.count) + frac)
        append(",\"bytes\":")
        append(String(e.bytesSent))
        append("}\n")
        if buffer.count >= 16 * 1024 {
            flush()
        } else if deadline == 0 {
            deadline = Worker.now() + 100_000_000
        }
    }

    func deadlineExpired(now: UInt64) { flush() }

    /// Writes everything buffered (blocking writes to a pipe or file are short and rare).
    func flush() {
        deadline = 0
        guard fd >= 0, !buffer.isEmpty else { return }
        var offset = 0
        buffer.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else if n < 0 && errno == EAGAIN {
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&p, 1, 100)
                } else {
                    return
                }
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let second = Int(ts.tv_sec)
        if second != cachedSecond {
            var t = time_t(second)
            var parts = tm()
            gmtime_r(&t, &parts)
            func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
            cachedPrefix = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
                + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
            cachedSecond = second
        }
        let ms = String(Int(ts.tv_nsec) / 1_000_000)
        return cachedPrefix + "." + String(repeating: "0", count: 3 - ms.count) + ms + "Z"
    }

    private func append(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
    }

    private func appendJSONString(_ s: String) {
        buffer.append(0x22)
        for byte in s.utf8 {
            switch byte {
            case 0x22: buffer += [0x5c, 0x22]
            case 0x5c: buffer += [0x5c, 0x5c]
            case 0x00..<0x20, 0x7f:
                let hex = Array("0123456789abcdef".utf8)
                buffer += [0x5c, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            default: buffer.append(byte)
            }
        }
        buffer.append(0x22)
    }
}
