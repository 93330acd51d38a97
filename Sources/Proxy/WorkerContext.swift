import EventLoop
import Logging
import ProxyConfig
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
    private var clients: [ObjectIdentifier: HTTP1ClientConnection] = [:]
    private var recentlyClosed: [HTTP1ClientConnection] = []
    let accessLog: AccessLog
    private var requestIDs = RequestIDGenerator()
    private(set) var draining = false
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
        let conn = HTTP1ClientConnection(context: self, fd: fd, peer: peer)
        clients[ObjectIdentifier(conn)] = conn
    }

    /// Forgets a closed connection. It is kept alive until the current event has returned,
    /// since the exchange that closed it may still be on the stack.
    func clientClosed(_ conn: HTTP1ClientConnection) {
        guard let closed = clients.removeValue(forKey: ObjectIdentifier(conn)) else { return }
        onClientClosed()
        recentlyClosed.append(closed)
        if recentlyClosed.count == 1 {
            worker.queue.async { [self] in recentlyClosed.removeAll() }
        }
    }

    /// The pool for `upstream` under `config`; a pool built from an older, different definition
    /// of the upstream is retired (its busy connections finish, idle ones close).
    func pool(for upstream: UpstreamConfig, config: RuntimeConfig) -> UpstreamPool {
        if let pool = pools[upstream.name], pool.config == upstream { return pool }
        pools[upstream.name]?.retire()
        let pool = UpstreamPool(config: upstream, addresses: config.addresses, worker: worker, log: log)
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
        for conn in Array(clients.values) { conn.channel.close() }
        for pool in pools.values { pool.retire() }
        rateLimitClient?.client.close()
        rateLimitClient = nil
        accessLog.flush()
    }
}
