import EventLoop
import Logging
import ProxyConfig
import ProxyModel

/// One worker's connections to one upstream: keep-alive reuse, the connection limit, round
/// robin over servers, and passive health.
///
/// Confined to the worker's queue. Health is per worker (each worker learns of a down server
/// from its own failures, which keeps the hot path lock-free); with N workers a dead server
/// costs at most N × `failures` failed connects per `cooldown`.
final class UpstreamPool {
    struct Server {
        let address: HostPort
        let resolved: [SocketAddress]
        var consecutiveFailures = 0
        /// Uptime nanoseconds until which the server is skipped; 0: up.
        var downUntil: UInt64 = 0
        /// Marked down and not yet answered since (the "back up" line is logged once).
        var markedDown = false
        var idle: [UpstreamConnection] = []
    }

    enum Acquired {
        /// A connection ready for a request (pooled, or connected at once).
        case ready(UpstreamConnection)
        /// A new connection whose connect is in flight; the exchange hears `channelConnected`.
        case connecting(UpstreamConnection)
        case failed(ProxyError)
    }

    let config: UpstreamConfig
    unowned let worker: Worker
    private(set) var servers: [Server]
    private var nextServer = 0
    /// Open connections, busy and idle.
    private(set) var openCount = 0
    /// A retired pool (its upstream changed or vanished in a reload) keeps no idle connection.
    private(set) var retired = false

    /// Lifecycle lines: a server marked down, and back up.
    private let log: Logger

    init(config: UpstreamConfig, addresses: [HostPort: [SocketAddress]], worker: Worker, log: Logger) {
        self.config = config
        self.worker = worker
        self.log = log
        servers = config.servers.map { Server(address: $0, resolved: addresses[$0] ?? []) }
    }

    var idleCount: Int { servers.reduce(0) { $0 + $1.idle.count } }

    /// The next server in round-robin order that is up and not in `tried`. `.allDown` when every
    /// server is marked down; `.exhausted` when the rest were tried already.
    enum Pick: Equatable { case server(Int), allDown, exhausted }

    func pickServer(excluding tried: Set<Int>, now: UInt64) -> Pick {
        var anyUntried = false
        for step in 0..<servers.count {
            let i = (nextServer + step) % servers.count
            if tried.contains(i) { continue }
            anyUntried = true
            if servers[i].downUntil > now { continue }
            nextServer = (i + 1) % servers.count
            return .server(i)
        }
        return anyUntried && tried.isEmpty ? .allDown : .exhausted
    }

    /// A connection to server `index`: the most recently idled one unless `fresh`, else a new
    /// connect. Fails with 503 at the connection limit, 502 when the name did not resolve or the
    /// connect fails at once.
    func acquire(server index: Int, fresh: Bool) -> Acquired {
        worker.assertOnQueue()
        if !fresh, let conn = servers[index].idle.popLast() {
            conn.leaveIdle()
            return .ready(conn)
        }
        if openCount >= config.maxConnections {
            // An idle connection to another server can make room.
            if let victim = servers.indices.first(where: { !servers[$0].idle.isEmpty }) {
                servers[victim].idle.removeFirst().close()
            } else {
                return .failed(ProxyError(.upstreamUnavailable(connectionLimit: true),
                                          message: "The upstream '\(config.name)' has reached its connection limit."))
            }
        }
        guard let address = servers[index].resolved.first else {
            return .failed(ProxyError(.upstreamConnectFailed(.nameNotResolved),
                                      message: "The upstream '\(config.name)' could not be reached.",
                                      details: "name did not resolve", retryable: true))
        }
        switch Sockets.connect(to: address) {
        case .failure(let error):
            return .failed(ProxyError(.upstreamConnectFailed(.refused),
                                      message: "The upstream '\(config.name)' could not be reached.",
                                      details: error.description, retryable: true))
        case .success(let (fd, connected)):
            Sockets.setNoDelay(fd)
            openCount += 1
            let channel = SocketChannel(fd: fd, worker: worker, connecting: !connected)
            let conn = UpstreamConnection(pool: self, serverIndex: index, transport: channel, connecting: !connected)
            return connected ? .ready(conn) : .connecting(conn)
        }
    }

    /// Hands a connection back after its exchange: kept idle when `reusable` and there is room.
    func release(_ conn: UpstreamConnection, reusable: Bool) {
        guard reusable, !retired, !conn.isClosed, idleCount < config.maxIdleConnections else {
            conn.close()
            return
        }
        conn.enterIdle(until: Worker.now() + UInt64(config.timeouts.idle.nanoseconds))
        servers[conn.serverIndex].idle.append(conn)
    }

    /// Called once by every connection of this pool when it closes.
    func connectionClosed(_ conn: UpstreamConnection) {
        openCount -= 1
        if let i = servers[conn.serverIndex].idle.firstIndex(where: { $0 === conn }) {
            servers[conn.serverIndex].idle.remove(at: i)
        }
    }

    func recordSuccess(server index: Int) {
        servers[index].consecutiveFailures = 0
        servers[index].downUntil = 0
        if servers[index].markedDown {
            servers[index].markedDown = false
            log.notice("upstream server back up", metadata: ["upstream": .string(config.name),
                                                             "server": .string(servers[index].address.description)])
        }
    }

    /// A connect failure or timeout: after `passive_health.failures` in a row the server is
    /// skipped for `cooldown`.
    func recordFailure(server index: Int, now: UInt64) {
        servers[index].consecutiveFailures += 1
        if servers[index].consecutiveFailures >= config.passiveHealth.failures {
            servers[index].downUntil = now + UInt64(config.passiveHealth.cooldown.nanoseconds)
            servers[index].consecutiveFailures = 0
            servers[index].markedDown = true
            log.warning("upstream server marked down", metadata: [
                "upstream": .string(config.name), "server": .string(servers[index].address.description),
                "failures": .stringConvertible(config.passiveHealth.failures),
                "cooldown": .string(humanDuration(config.passiveHealth.cooldown))])
        }
    }

    /// Closes idle connections and keeps none from now on (busy ones close when released).
    func retire() {
        retired = true
        for i in servers.indices {
            let idle = servers[i].idle
            servers[i].idle = []
            for conn in idle { conn.close() }
        }
    }
}

extension Duration {
    /// Whole nanoseconds (negative durations count as 0).
    var nanoseconds: Int64 {
        let (s, atto) = components
        return max(0, s * 1_000_000_000 + atto / 1_000_000_000)
    }
}
