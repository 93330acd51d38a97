#if canImport(Glibc)
import Glibc
#endif

/// Outbound bytes of one socket, with partial-write accounting.
///
/// The fast path writes straight from the caller's buffer and copies nothing; only the part the
/// kernel did not take is kept, in one contiguous buffer, so later writes coalesce into one
/// syscall. Not thread-safe: owned by one `SocketChannel`, on its worker's queue.
public struct WriteQueue {
    /// The result of a write or flush.
    public enum Progress: Equatable, Sendable {
        /// Everything queued reached the kernel.
        case drained
        /// Bytes remain queued: arm the write source.
        case pending
        case failed(errno: Int32)
    }

    private var pending: [UInt8] = []
    private var offset = 0

    public init() {}

    /// Bytes queued but not yet written.
    public var count: Int { pending.count - offset }
    public var isEmpty: Bool { offset == pending.count }

    /// Writes `bytes` to `fd` and queues what the kernel does not accept now.
    ///
    /// When bytes are already queued the kernel's buffer was full a moment ago and the write
    /// source is armed, so `bytes` are only appended (no syscall that would likely fail with
    /// `EAGAIN`); the next `flush` sends everything in one call. Returns `.pending` then.
    public mutating func write(_ bytes: UnsafeRawBufferPointer, fd: Int32, io: some SocketIO) -> Progress {
        if !isEmpty {
            pending.append(contentsOf: bytes)
            return .pending
        }
        var written = 0
        while written < bytes.count {
            var iov = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress! + written),
                            iov_len: bytes.count - written)
            let result = withUnsafePointer(to: &iov) { io.writev(fd, UnsafeBufferPointer(start: $0, count: 1)) }
            switch result {
            case .processed(let n):
                written += n
            case .wouldBlock:
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[written...]))
                offset = 0
                return .pending
            case .failed(let e):
                return .failed(errno: e)
            case .eof:
                return .failed(errno: EPIPE)
            }
        }
        return .drained
    }

    /// Writes as much of the queue as the kernel takes.
    public mutating func flush(fd: Int32, io: some SocketIO) -> Progress {
        while offset < pending.count {
            let result: IOResult = pending.withUnsafeMutableBytes { raw in
                var iov = iovec(iov_base: raw.baseAddress! + offset, iov_len: raw.count - offset)
                return withUnsafePointer(to: &iov) { io.writev(fd, UnsafeBufferPointer(start: $0, count: 1)) }
            }
            switch result {
            case .processed(let n):
                offset += n
            case .wouldBlock:
                compact()
                return .pending
            case .failed(let e):
                return .failed(errno: e)
            case .eof:
                return .failed(errno: EPIPE)
            }
        }
        pending.removeAll(keepingCapacity: pending.capacity <= 64 * 1024)
        offset = 0
        return .drained
    }

    /// Drops everything queued (the connection is closing).
    public mutating func discard() {
        pending = []
        offset = 0
    }

    private mutating func compact() {
        if offset > 0 && offset >= pending.count / 2 {
            pending.removeSubrange(0..<offset)
            offset = 0
        }
    }
}
