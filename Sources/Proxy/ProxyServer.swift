import Dispatch
import EventLoop
import Logging
import ProxyConfig
import Synchronization
import TLS
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
/// main queue, or a test), never at the same time; everything per connection happens on the workers.
public final class ProxyServer: Sendable {
    private let group: WorkerGroup
    private let contexts: [WorkerContext]
    /// The listeners accepting now, in `listeners` order (empty once stopping). Internal for tests.
    let listening = Mutex<[Listening]>([])
    private let stopping = Atomic<Bool>(false)
    private let connections = ConnectionCounter()
    private let maxConnections: Int
    private let current: Mutex<RuntimeConfig>
    /// The addresses actually bound, in `listeners` order (a port 0 resolved to the real one).
    public let boundAddresses: Mutex<[SocketAddress]> = Mutex([])
    /// Every worker's series, and the process-wide ones; `/metrics` writes them out.
    public let metrics: ProxyMetrics
    private let admin = Mutex<AdminServer?>(nil)
    private let draining = Atomic<Bool>(false)
    /// Numbers each bound listener (`Listening.id`) for the workers' TLS-context maps.
    private let nextListenerID = Atomic<Int>(0)

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

    /// The config new requests start on: the last one `reload` accepted (or the first).
    public var config: RuntimeConfig { current.withLock { $0 } }

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
        let tls: TLSContextSet
        switch config.tls {
        case .success(let set): tls = set
        case .failure(let errors): throw ProxyStartError(description: errors.description)
        }
        var bound: [Listening] = []
        for (index, listener) in config.snapshot.listeners.enumerated() {
            switch bind(listener, index: index) {
            case .success(let new): bound.append(new)
            case .failure(let errors):
                for new in bound { new.closeUnstarted() }
                throw ProxyStartError(description: errors.description)
            }
        }
        do {
            try applyAdmin(config.snapshot.admin)
        } catch {
            for new in bound { new.closeUnstarted() }
            throw error
        }
        listening.withLock { $0 = bound }
        boundAddresses.withLock { $0 = bound.map(\.address) }
        let listenerTLS = Self.listenerTLS(bound, tls)
        for (index, context) in contexts.enumerated() {
            let acceptors = bound.map { $0.acceptors[index] }
            context.worker.queue.async {
                context.listenerTLS = listenerTLS
                for acceptor in acceptors { acceptor.start() }
                context.start()
            }
        }
    }

    /// Binds `listener` (`listeners[index]`) once per worker with `SO_REUSEPORT`, each socket
    /// with an acceptor for its worker that is not started yet. On failure nothing stays open,
    /// and the problem names the listener's JSON path.
    private func bind(_ listener: ListenerConfig, index: Int) -> Result<Listening, ConfigErrors> {
        let path = "listeners[\(index)]"
        guard var address = Self.resolve(listener) else {
            return .failure(ConfigErrors(problems: [.init(path: path + ".address",
                                                          message: "\(listener.address) does not resolve")]))
        }
        var fds: [Int32] = []
        for _ in group.workers {
            switch Sockets.listen(on: address, backlog: 1024, reusePort: true) {
            case .success(let fd):
                if address.port == 0, let local = Sockets.localAddress(fd) { address = local }
                fds.append(fd)
            case .failure(let error):
                for fd in fds { Sockets.close(fd) }
                return .failure(ConfigErrors(problems: [.init(path: path + ".address",
                                                              message: "cannot listen on \(address): \(error)")]))
            }
        }
        let id = nextListenerID.add(1, ordering: .relaxed).newValue
        let acceptors = zip(fds, contexts).map { fd, context in
            Acceptor(fd: fd, worker: context.worker) { [self] client, peer in
                accepted(client, peer: peer, context: context, listener: id)
            }
        }
        return .success(Listening(id: id, config: listener, address: address, acceptors: acceptors))
    }

    /// The address `listener` binds: its host's first resolved address. Blocks on names.
    private static func resolve(_ listener: ListenerConfig) -> SocketAddress? {
        guard case .success(let resolved) = Resolver.resolve(host: listener.address.host, port: listener.address.port)
        else { return nil }
        return resolved.first
    }

    /// Each listener's server context by `Listening.id` (plain listeners absent).
    private static func listenerTLS(_ listening: [Listening], _ tls: TLSContextSet) -> [Int: TLSContext] {
        var map: [Int: TLSContext] = [:]
        for (listener, context) in zip(listening, tls.listeners) { map[listener.id] = context }
        return map
    }

    private func accepted(_ fd: Int32, peer: SocketAddress?, context: WorkerContext, listener: Int) {
        if connections.value.add(1, ordering: .relaxed).newValue > maxConnections || context.draining {
            connections.value.subtract(1, ordering: .relaxed)
            Sockets.close(fd)
            return
        }
        Sockets.setNoDelay(fd)
        if let tls = context.listenerTLS[listener] {
            context.accept(fd: fd, peer: peer?.host ?? "-", tls: tls)
        } else {
            context.accept(fd: fd, peer: peer?.host ?? "-")
        }
    }

    /// Swaps to `config`: requests that start after this call use it, requests in flight finish
    /// on theirs, and no open connection is closed.
    ///
    /// Listeners are matched by address (the resolved address, or for port 0 the configured
    /// text): a listener whose address is unchanged keeps its sockets and acceptors untouched,
    /// so nothing waiting in its backlog is lost. New addresses are bound on every worker and
    /// accept from this call on; removed ones stop accepting and close (connections accepted on
    /// them go on). `boundAddresses` reflects the new set.
    ///
    /// The admin listener moves when `admin.address` changed (or starts, or stops).
    ///
    /// A TLS listener kept at its address serves new connections with the new config's
    /// certificates (the snapshot's contexts); open connections keep theirs.
    ///
    /// Throws, having changed nothing (the old config and listeners stay), when the config's TLS
    /// contexts could not be built (bad certificate or key: `config.tls`), a new listener
    /// or admin address cannot be bound or the server is already stopping; each problem names the listener's JSON
    /// path (`listeners[1].address`). Listener host names are resolved here (blocking): call it
    /// off the workers.
    public func reload(_ config: RuntimeConfig) throws(ConfigErrors) {
        guard !stopping.load(ordering: .acquiring) else {
            throw ConfigErrors(problems: [.init(path: "", message: "the server is stopping")])
        }
        let tls: TLSContextSet
        switch config.tls {
        case .success(let set): tls = set
        case .failure(let errors): throw errors
        }
        let running = listening.withLock { $0 }
        var kept = Set<Int>()
        var next: [Listening] = []
        var added: [Listening] = []
        var problems: [ConfigErrors.Problem] = []
        for (index, listener) in config.snapshot.listeners.enumerated() {
            if let match = Self.match(listener, in: running, excluding: kept) {
                kept.insert(match)
                next.append(running[match])
                continue
            }
            switch bind(listener, index: index) {
            case .success(let new):
                added.append(new)
                next.append(new)
            case .failure(let errors):
                problems += errors.problems
            }
        }
        if problems.isEmpty {
            do {
                try applyAdmin(config.snapshot.admin)
            } catch {
                problems.append(.init(path: "admin.address", message: error.description))
            }
        }
        guard problems.isEmpty else {
            for new in added { new.closeUnstarted() }
            throw ConfigErrors(problems: problems)
        }
        let removed = running.indices.filter { !kept.contains($0) }.map { running[$0] }
        current.withLock { $0 = config }
        listening.withLock { $0 = next }
        boundAddresses.withLock { $0 = next.map(\.address) }
        let listenerTLS = Self.listenerTLS(next, tls)
        for (index, context) in contexts.enumerated() {
            let starting = added.map { $0.acceptors[index] }
            let closing = removed.map { $0.acceptors[index] }
            context.worker.queue.async {
                context.apply(config)
                context.listenerTLS = listenerTLS
                for acceptor in starting { acceptor.start() }
                for acceptor in closing { acceptor.stop() }
            }
        }
    }

    /// The running listener (an index into `running`, not in `excluding`) that `listener` is:
    /// the same bound address, or for port 0 the same configured address.
    private static func match(_ listener: ListenerConfig, in running: [Listening], excluding: Set<Int>) -> Int? {
        let candidates = running.indices.filter { !excluding.contains($0) }
        if listener.address.port == 0 {
            return candidates.first { running[$0].config.address == listener.address }
        }
        guard let address = resolve(listener) else { return nil }
        return candidates.first { running[$0].address == address }
    }

    /// Runs `completion` on `queue` once every worker's queue has run a block queued by this call.
    /// A worker stuck in a handler never answers, so neither does `completion`.
    public func pingWorkers(queue: DispatchQueue, completion: @escaping @Sendable () -> Void) {
        let answered = DispatchGroup()
        for context in contexts {
            answered.enter()
            context.worker.queue.async { answered.leave() }
        }
        answered.notify(queue: queue, execute: completion)
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
        stopping.store(true, ordering: .releasing)
        let list = listening.withLock { all in
            defer { all = [] }
            return all
        }
        for acceptor in list.flatMap(\.acceptors) {
            acceptor.worker.queue.async { acceptor.stop() }
        }
    }
}

/// One configured listener, bound on every worker.
struct Listening: Sendable {
    /// Unique in this server: what the workers' TLS-context maps are keyed by.
    let id: Int
    let config: ListenerConfig
    /// The bound address (a port 0 resolved to the real one).
    let address: SocketAddress
    /// One per worker, in worker order.
    let acceptors: [Acceptor]

    /// Closes the sockets of acceptors that were never started (a bind that is unwound).
    func closeUnstarted() {
        for acceptor in acceptors { Sockets.close(acceptor.fd) }
    }
}

/// Open client connections across workers.
final class ConnectionCounter: Sendable {
    let value = Atomic<Int>(0)
}
