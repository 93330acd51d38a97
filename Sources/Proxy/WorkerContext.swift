import EventLoop
import Logging
import ProxyConfig
import TLS
import RateLimitRedis

/// Everything one worker owns: its current config, its upstream pools, its client connections
/// and its access log.
///
/// Confined to `worker.queue`; `@unchecked Sendable` only so the server can create it on the
/// main thread and hand it to the worker before any connection exists.
final class WorkerContext: @unchecked Sendable {
    let worker: Worker
    private(set) var config: RuntimeConfig
    private var pools: [String: UpstreamPool] = [:]
    private var rateLimitClient: (store: SharedRateLimitStore, client: RedisRateLimitClient)?
    /// Whether this worker's last check with its store failed (`SharedRateLimitStore.markFailed`).
    var rateLimitStoreDown = false
    private var clients: [ObjectIdentifier: any ClientConnection] = [:]
    private var recentlyClosed: [any ClientConnection] = []
    let accessLog: AccessLog
    private var requestIDs = RequestIDGenerator()
    private(set) var draining = false
    /// The server context of each TLS listener by `Listening.id`, as of the last start or
    /// reload (new connections use it; open ones keep theirs).
    var listenerTLS: [Int: TLSContext] = [:]
    /// This worker's series in the server's metrics registry (worker queue only).
    let metrics: WorkerMetrics
    /// Lifecycle lines from this worker (with a `worker` metadata key).
    let log: Logger
    /// Called on the worker's queue when a connection closes (the server's process-wide count).
    let onClientClosed: @Sendable () -> Void

    init(worker: Worker, config: RuntimeConfig, accessLogFD: Int32, metrics: ProxyMetrics, log: Logger,
         onClientClosed: @escaping @Sendable () -> Void) {
        var log = log
        log[metadataKey: "worker"] = .stringConvertible(worker.index)
        self.log = log
        self.worker = worker
        self.config = config
        self.accessLog = AccessLog(fd: accessLogFD, worker: worker)
        self.metrics = WorkerMetrics(metrics: metrics, worker: worker.index)
        self.onClientClosed = onClientClosed
    }

    /// Registers the log's flush timer. On the worker's queue.
    func start() {
        worker.register(accessLog)
    }

    func nextRequestID() -> String { requestIDs.next() }

    var clientCount: Int { clients.count }

    func accept(fd: Int32, peer: String) {
        worker.assertOnQueue()
        let conn = PlaintextProtocolSniffer(context: self, transport: SocketChannel(fd: fd, worker: worker), peer: peer)
        clients[ObjectIdentifier(conn)] = conn
    }

    /// A connection on a TLS listener: the handshake first (`handshakeCompleted` follows).
    func accept(fd: Int32, peer: String, tls: TLSContext) {
        worker.assertOnQueue()
        let transport = TLSTransport(fd: fd, worker: worker, engine: TLSEngine(context: tls, role: .server))
        let conn = TLSAcceptingConnection(context: self, transport: transport, peer: peer)
        clients[ObjectIdentifier(conn)] = conn
    }

    /// The handshake of `accepting` completed: the driver ALPN chose takes its place in the registry.
    func handshakeCompleted(_ accepting: TLSAcceptingConnection) {
        guard clients[ObjectIdentifier(accepting)] != nil else { return }
        let transport = accepting.transport
        let conn = startProtocol(on: transport, alpn: transport.engine.negotiatedALPN, peer: accepting.peer, scheme: "https")
        // A transport that closed while the driver started was never the driver's registry entry.
        if transport.isClosed { clientClosed(accepting) } else { replaceClient(accepting, with: conn) }
    }

    /// Starts the protocol driver that `ProtocolSelector` picks for `transport` (not started yet,
    /// or a TLS transport whose handshake just completed with `alpn`).
    func startProtocol(on transport: any ByteTransport, alpn: String?, peer: String, scheme: String) -> any ClientConnection {
        switch ProtocolSelector.driver(alpn: alpn) {
        case .http1: return HTTP1ClientConnection(context: self, transport: transport, peer: peer, scheme: scheme)
        case .http2: return HTTP2ClientConnection(context: self, transport: transport, peer: peer, scheme: scheme)
        }
    }

    /// `old` handed its transport to `new` (a protocol was picked): the registry entry moves,
    /// the open-connection count stays.
    func replaceClient(_ old: any ClientConnection, with new: any ClientConnection) {
        guard clients.removeValue(forKey: ObjectIdentifier(old)) != nil else { return }
        clients[ObjectIdentifier(new)] = new
        keepUntilEventReturns(old)
    }

    private func keepUntilEventReturns(_ conn: any ClientConnection) {
        recentlyClosed.append(conn)
        if recentlyClosed.count == 1 {
            worker.queue.async { [self] in recentlyClosed.removeAll() }
        }
    }

    /// Forgets a closed connection. It is kept alive until the current event has returned,
    /// since the exchange that closed it may still be on the stack.
    func clientClosed(_ conn: any ClientConnection) {
        guard let closed = clients.removeValue(forKey: ObjectIdentifier(conn)) else { return }
        onClientClosed()
        keepUntilEventReturns(closed)
    }

    /// The pool for `upstream` under `config`; a pool built from an older, different definition
    /// of the upstream is retired (its busy connections finish, idle ones close).
    func pool(for upstream: UpstreamConfig, config: RuntimeConfig) -> UpstreamPool {
        // The snapshot's client context: a reload brings new ones (a changed CA), hence a new pool.
        let tls = upstream.tls == nil ? nil : try? config.tls.get().upstreams[upstream.name]
        if let pool = pools[upstream.name], pool.config == upstream, pool.tls === tls { return pool }
        pools[upstream.name]?.retire()
        let pool = UpstreamPool(config: upstream, addresses: config.addresses, tls: tls, worker: worker, log: log)
        pools[upstream.name] = pool
        return pool
    }

    /// This worker's connection to `store` (made on first use; one of an older store is closed).
    func rateLimitClient(for store: SharedRateLimitStore, host: String) -> RedisRateLimitClient {
        if let current = rateLimitClient, current.store === store { return current.client }
        rateLimitClient?.client.close()
        rateLimitStoreDown = false
        let client = RedisRateLimitClient(worker: worker, host: host, port: store.config.redis.port,
                                          timeout: store.config.timeout)
        rateLimitClient = (store, client)
        return client
    }

    /// Requests that start from now on use `config`; pools of upstreams that changed or vanished retire.
    func apply(_ config: RuntimeConfig) {
        worker.assertOnQueue()
        self.config = config
        for (name, pool) in pools where config.snapshot.upstreams[name] != pool.config {
            pool.retire()
            pools[name] = nil
        }
    }

    /// Stops taking new requests: idle connections close now, busy ones after their response.
    func beginDrain() {
        worker.assertOnQueue()
        draining = true
        for conn in Array(clients.values) { conn.closeIfIdle() }
        accessLog.flush()
    }

    /// Closes every connection at once (the second signal, or the end of the drain timeout).
    func closeAll() {
        worker.assertOnQueue()
        for conn in Array(clients.values) { conn.closeNow() }
        for pool in pools.values { pool.retire() }
        rateLimitClient?.client.close()
        rateLimitClient = nil
        accessLog.flush()
    }
}
