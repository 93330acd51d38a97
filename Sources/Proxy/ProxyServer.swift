import Dispatch
import EventLoop
import Logging
import ProxyConfig
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why the server could not start.
public struct ProxyStartError: Error, CustomStringConvertible {
    public var description: String
}

/// The running proxy: workers, their listening sockets (one `SO_REUSEPORT` socket per listener
/// per worker) and their contexts.
///
/// `start`, `reload`, `drain` and `stop` are called from one control thread (the executable's
/// main queue, or a test); everything per connection happens on the workers.
public final class ProxyServer: Sendable {
    private let group: WorkerGroup
    private let contexts: [WorkerContext]
    private let acceptors = Mutex<[Acceptor]>([])
    private let connections = ConnectionCounter()
    private let maxConnections: Int
    private let current: Mutex<RuntimeConfig>
    /// The addresses actually bound, in `listeners` order (a port 0 resolved to the real one).
    public let boundAddresses: Mutex<[SocketAddress]> = Mutex([])
    /// Every worker's series, and the process-wide ones; `/metrics` writes them out.
    public let metrics: ProxyMetrics
    private let admin = Mutex<AdminServer?>(nil)
    private let draining = Atomic<Bool>(false)

    /// `accessLogFD`: where JSON access-log lines go (-1: nowhere); not closed by the server.
    /// `log`: lifecycle lines (upstream servers marked down and up); by default none.
    public init(config: RuntimeConfig, accessLogFD: Int32 = 1, metrics: ProxyMetrics = ProxyMetrics(),
                log: Logger = Logger(label: "errata", factory: { _ in SwiftLogNoOpLogHandler() })) {
        let count = config.snapshot.workers ?? WorkerGroup.defaultCount
        group = WorkerGroup(count: count)
        maxConnections = config.snapshot.limits.maxConnections
        current = Mutex(config)
        self.metrics = metrics
        let counter = connections
        var contexts: [WorkerContext] = []
        for worker in group.workers {
            contexts.append(WorkerContext(worker: worker, config: config, accessLogFD: accessLogFD, metrics: metrics,
                                          log: log, onClientClosed: { counter.value.subtract(1, ordering: .relaxed) }))
        }
        self.contexts = contexts
    }

    public var workerCount: Int { group.workers.count }

    /// Open client connections across all workers.
    public var openConnectionCount: Int { connections.value.load(ordering: .relaxed) }

    /// The `/metrics` text as of now. It first waits for each worker to finish the event it is
    /// in, so every response a client has received is counted. Call it off the workers.
    public func metricsText() -> String { String(decoding: metricsExposition(), as: UTF8.self) }

    private func metricsExposition() -> [UInt8] {
        for context in contexts { context.worker.queue.sync {} }
        return metrics.exposition(openConnections: openConnectionCount)
    }

    /// Whether a drain has begun (`/readyz` answers 503 from then on).
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// The admin listener's address, when one is configured and bound.
    public var adminAddress: SocketAddress? { admin.withLock { $0?.boundAddress } }

    /// The port the first listener is bound to (tests bind port 0).
    public var firstPort: Int { boundAddresses.withLock { $0.first?.port ?? 0 } }

    /// Binds every listener on every worker and starts accepting. Throws when an address cannot
    /// be bound (nothing is left listening then).
    public func start() throws(ProxyStartError) {
        Sockets.ignoreSIGPIPE()
        let config = current.withLock { $0 }
        var fds: [(fd: Int32, worker: Int)] = []
        var bound: [SocketAddress] = []
        func unwind() { for entry in fds { Sockets.close(entry.fd) } }
        for listener in config.snapshot.listeners {
            if listener.tls != nil {
                unwind()
                throw ProxyStartError(description: "listener \(listener.address): TLS listeners are not implemented in this build")
            }
            guard case .success(let resolved) = Resolver.resolve(host: listener.address.host, port: listener.address.port),
                  var address = resolved.first else {
                unwind()
                throw ProxyStartError(description: "listener \(listener.address): the address does not resolve")
            }
            for worker in group.workers {
                switch Sockets.listen(on: address, backlog: 1024, reusePort: true) {
                case .success(let fd):
                    if address.port == 0, let local = Sockets.localAddress(fd) { address = local }
                    fds.append((fd, worker.index))
                case .failure(let error):
                    unwind()
                    throw ProxyStartError(description: "listener \(listener.address): \(error)")
                }
            }
            bound.append(address)
        }
        do {
            try applyAdmin(config.snapshot.admin)
        } catch {
            unwind()
            throw error
        }
        boundAddresses.withLock { $0 = bound }
        for (fd, index) in fds {
            let context = contexts[index]
            let acceptor = Acceptor(fd: fd, worker: context.worker) { [self] client, peer in
                accepted(client, peer: peer, context: context)
            }
            acceptors.withLock { $0.append(acceptor) }
            context.worker.queue.async { acceptor.start() }
        }
        for context in contexts {
            context.worker.queue.async { context.start() }
        }
    }

    private func accepted(_ fd: Int32, peer: SocketAddress?, context: WorkerContext) {
        if connections.value.add(1, ordering: .relaxed).newValue > maxConnections || context.draining {
            connections.value.subtract(1, ordering: .relaxed)
            Sockets.close(fd)
            return
        }
        Sockets.setNoDelay(fd)
        context.accept(fd: fd, peer: peer?.host ?? "-")
    }

    /// Requests that start after this call use `config`; requests in flight finish on theirs.
    public func reload(_ config: RuntimeConfig) {
        current.withLock { $0 = config }
        for context in contexts {
            context.worker.queue.async { context.apply(config) }
        }
    }

    /// Binds the admin listener at `address` (nil: none), replacing a running one whose address
    /// differs; an unchanged address keeps its socket. Throws when the new address cannot be bound
    /// (the old admin listener, if any, keeps running then).
    public func applyAdmin(_ address: HostPort?) throws(ProxyStartError) {
        let running = admin.withLock { $0 }
        guard let address else {
            running?.stop()
            admin.withLock { $0 = nil }
            return
        }
        if let running, running.configured == address { return }
        guard case .success(let resolved) = Resolver.resolve(host: address.host, port: address.port),
              let socketAddress = resolved.first else {
            throw ProxyStartError(description: "admin.address \(address): the address does not resolve")
        }
        let server = try AdminServer(address: socketAddress, configured: address,
                                     metrics: { [weak self] in self?.metricsExposition() ?? [] },
                                     isDraining: { [weak self] in self?.isDraining ?? true })
        running?.stop()
        server.start()
        admin.withLock { $0 = server }
    }

    /// Every worker flushes its access log and writes to `fd` from then on (-1: nowhere) — a
    /// SIGHUP's reopened file, or a changed `access_log.to`. `completion` runs on a global queue
    /// once no worker writes to the previous descriptor, which the caller may then close.
    public func redirectAccessLog(to fd: Int32, completion: @escaping @Sendable () -> Void) {
        let done = DispatchGroup()
        for context in contexts {
            done.enter()
            context.worker.queue.async {
                context.accessLog.redirect(to: fd)
                done.leave()
            }
        }
        done.notify(queue: .global(), execute: completion)
    }

    /// Stops accepting, lets in-flight requests finish for up to `timeout`, then closes what is
    /// left; `completion` runs on a global queue once every connection is closed.
    public func drain(timeout: Duration, completion: @escaping @Sendable () -> Void) {
        draining.store(true, ordering: .relaxed)
        stopAccepting()
        for context in contexts {
            context.worker.queue.async { context.beginDrain() }
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, timeout.components.seconds)) * 1_000_000_000
            + UInt64(max(0, timeout.components.attoseconds / 1_000_000_000))
        @Sendable func poll() {
            if openConnectionCount == 0 || DispatchTime.now().uptimeNanoseconds >= deadline {
                stop()
                completion()
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20)) { poll() }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20)) { poll() }
    }

    /// Closes every listener and connection now and stops the workers.
    public func stop() {
        stopAccepting()
        let done = DispatchGroup()
        for context in contexts {
            done.enter()
            context.worker.queue.async {
                context.closeAll()
                done.leave()
            }
        }
        done.wait()
        group.stop()
        admin.withLock { server in
            server?.stop()
            server = nil
        }
    }

    private func stopAccepting() {
        let list = acceptors.withLock { all in
            defer { all = [] }
            return all
        }
        for acceptor in list {
            acceptor.worker.queue.async { acceptor.stop() }
        }
    }
}

/// Open client connections across workers.
final class ConnectionCounter: Sendable {
    let value = Atomic<Int>(0)
}
