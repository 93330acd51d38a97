import Dispatch
import EventLoop
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

    /// `accessLogFD`: where JSON access-log lines go (-1: nowhere); not closed by the server.
    public init(config: RuntimeConfig, accessLogFD: Int32 = 1) {
        let count = config.snapshot.workers ?? WorkerGroup.defaultCount
        group = WorkerGroup(count: count)
        maxConnections = config.snapshot.limits.maxConnections
        current = Mutex(config)
        let counter = connections
        var contexts: [WorkerContext] = []
        for worker in group.workers {
            contexts.append(WorkerContext(worker: worker, config: config, accessLogFD: accessLogFD,
                                          onClientClosed: { counter.value.subtract(1, ordering: .relaxed) }))
        }
        self.contexts = contexts
    }

    public var workerCount: Int { group.workers.count }

    /// Open client connections across all workers.
    public var openConnectionCount: Int { connections.value.load(ordering: .relaxed) }

    /// Every worker's counters, summed. Waits for each worker's queue: call it off the workers.
    public func counters() -> ProxyCounters {
        var total = ProxyCounters()
        for context in contexts {
            total.add(context.worker.queue.sync { context.counters })
        }
        return total
    }

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

    /// Stops accepting, lets in-flight requests finish for up to `timeout`, then closes what is
    /// left; `completion` runs on a global queue once every connection is closed.
    public func drain(timeout: Duration, completion: @escaping @Sendable () -> Void) {
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
