import CSystemShims
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Accepts connections on one listening socket for one worker (each worker has its own
/// `SO_REUSEPORT` socket, so the kernel spreads connections and no accept is shared).
///
/// Confined to `worker.queue`. Out of descriptors (`EMFILE`, `ENFILE`) or memory, it stops
/// accepting for `backoff` and tries again, instead of spinning on a readable listener.
public final class Acceptor: PollTarget, @unchecked Sendable {
    public let fd: Int32
    public let worker: Worker
    public let backoff: DispatchTimeInterval
    /// Called for each accepted socket (non-blocking, close-on-exec) with the peer's address.
    private let onAccept: (Int32, SocketAddress?) -> Void
    private var registration: Poller.Registration?
    private var suspended = false
    private var pausedByOwner = false
    private var backingOff = false
    private var cancelled = false

    public private(set) var backoffCount = 0

    public init(fd: Int32, worker: Worker, backoff: DispatchTimeInterval = .milliseconds(100),
                onAccept: @escaping (Int32, SocketAddress?) -> Void) {
        self.fd = fd
        self.worker = worker
        self.backoff = backoff
        self.onAccept = onAccept
    }

    public func start() {
        worker.assertOnQueue()
        guard registration == nil, !cancelled else { return }
        if case .success(let r) = worker.poller.register(fd, interest: suspended ? [] : .read, target: self) {
            registration = r
        }
    }

    public func pollReady(_ events: PollEvents) {
        guard !cancelled, !suspended else { return }
        acceptAll()
    }

    private func acceptAll() {
        // Bounded per event so one busy listener cannot starve the worker's connections.
        for _ in 0..<64 {
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    errata_accept4(fd, $0, &len, errata_sock_nonblock_cloexec())
                }
            }
            if client >= 0 {
                onAccept(client, SocketAddress(storage: storage, length: len))
                if cancelled || pausedByOwner { return }
                continue
            }
            let e = errno
            switch e {
            case EAGAIN, EWOULDBLOCK:
                return
            case EINTR, ECONNABORTED, EPROTO:
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                startBackoff()
                return
            default:
                return
            }
        }
    }

    private func startBackoff() {
        guard !backingOff else { return }
        backingOff = true
        backoffCount += 1
        suspendSource()
        worker.queue.asyncAfter(deadline: .now() + backoff) { [self] in
            backingOff = false
            if !pausedByOwner { resumeSource() }
        }
    }

    /// Stops accepting (the backlog keeps waiting connections) until `resume`.
    public func pause() {
        worker.assertOnQueue()
        pausedByOwner = true
        suspendSource()
    }

    public func resume() {
        worker.assertOnQueue()
        pausedByOwner = false
        if !backingOff { resumeSource() }
    }

    private func suspendSource() {
        guard !suspended, !cancelled else { return }
        suspended = true
        if let registration { worker.poller.update(registration, interest: []) }
    }

    private func resumeSource() {
        guard suspended, !cancelled else { return }
        suspended = false
        if let registration { worker.poller.update(registration, interest: .read) }
    }

    /// Stops accepting for good. `closeSocket` false keeps the listening fd open for a successor.
    public func stop(closeSocket: Bool = true) {
        worker.assertOnQueue()
        guard !cancelled else { return }
        cancelled = true
        if let registration {
            worker.poller.deregister(registration)
            self.registration = nil
        }
        if closeSocket { Sockets.close(fd) }
    }
}
