#if canImport(Glibc)
import Glibc
#endif
import EventLoop
import Logging

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

extension AccessLogEntry {
    /// The access log's fields, in the order its lines show them.
    static let keyOrder = ["request_id", "client", "method", "path", "protocol", "status", "route", "upstream",
                           "upstream_status", "error", "duration_ms", "bytes"]

    var metadata: Logger.Metadata {
        let micros = durationNanoseconds / 1000
        let fraction = String(micros % 1000)
        var m: Logger.Metadata = [
            "request_id": .string(requestID),
            "client": .string(client),
            "method": .string(method),
            "path": .string(path),
            "protocol": .string(protocolVersion),
            "status": .stringConvertible(status),
            "route": route.map { .string($0) } ?? .stringConvertible(JSONLiteral.null),
            "upstream": upstream.map { .string($0) } ?? .stringConvertible(JSONLiteral.null),
            "upstream_status": upstreamStatus.map { .stringConvertible($0) } ?? .stringConvertible(JSONLiteral.null),
            "duration_ms": .stringConvertible(JSONLiteral(json: "\(micros / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)")),
            "bytes": .stringConvertible(bytesSent),
        ]
        if let error { m["error"] = .string(error) }
        return m
    }
}

/// The JSON access log: one line per request (time, request id, client, method, path, status,
/// upstream, upstream status, duration, bytes), logged through swift-log (`errata.access`,
/// a `JSONLogHandler`) into this worker's buffer.
///
/// Confined to its worker's queue. Lines are buffered and written with one `write(2)` when
/// 16 KiB have gathered or at the worker's next tick (≤ 100 ms later), so logging costs
/// a fraction of a syscall per request. `fd` is not owned (stdout, stderr, or a file the
/// server opened); -1 turns logging off.
final class AccessLog: DeadlineTarget, LogLineSink, @unchecked Sendable {
    private var fd: Int32
    private let worker: Worker
    private var buffer: [UInt8] = []
    private(set) var deadline: UInt64 = 0
    private var logger: Logger!

    init(fd: Int32, worker: Worker) {
        self.fd = fd
        self.worker = worker
        buffer.reserveCapacity(fd >= 0 ? 20_000 : 0)
        logger = Logger(label: "errata.access") { [unowned self] _ in
            JSONLogHandler(sink: self, level: .info, keyOrder: AccessLogEntry.keyOrder, accessLine: true)
        }
    }

    var isEnabled: Bool { fd >= 0 }

    func record(_ e: AccessLogEntry) {
        guard fd >= 0 else { return }
        logger.info("request", metadata: e.metadata)
    }

    /// Flushes what is buffered to the old descriptor, then writes to `fd` (-1: nowhere).
    /// The old one is not closed here: the server's owner closes it once every worker moved.
    func redirect(to fd: Int32) {
        worker.assertOnQueue()
        flush()
        self.fd = fd
    }

    /// Called by the handler, on this worker's queue (the exchange that logged is on it).
    func write(line: UnsafeRawBufferPointer) {
        worker.assertOnQueue()
        buffer.append(contentsOf: line)
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
}
