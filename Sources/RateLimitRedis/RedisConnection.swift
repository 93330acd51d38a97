import CHiredis
import Dispatch
import EventLoop

/// A Redis reply, copied out of hiredis's reply tree (which hiredis frees after the callback).
public indirect enum RedisReply: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case error(String)
    case array([RedisReply])
    case null

    init(_ r: UnsafePointer<redisReply>) {
        let reply = r.pointee
        func text() -> [UInt8] {
            guard let str = reply.str, reply.len > 0 else { return [] }
            return str.withMemoryRebound(to: UInt8.self, capacity: reply.len) { Array(UnsafeBufferPointer(start: $0, count: reply.len)) }
        }
        switch reply.type {
        case REDIS_REPLY_STRING: self = .string(text())
        case REDIS_REPLY_STATUS: self = .status(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: self = .integer(Int64(reply.integer))
        case REDIS_REPLY_ERROR: self = .error(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(reply.elements)
            for i in 0..<reply.elements {
                if let e = reply.element[i] { items.append(RedisReply(e)) } else { items.append(.null) }
            }
            self = .array(items)
        default: self = .null
        }
    }
}

/// Why a command got no reply.
public enum RedisFailure: String, Error, Sendable, Equatable {
    /// Not connected (connecting, refused, or the connection dropped before the reply).
    case unavailable
    /// No reply within the timeout (the reply, if it ever comes, is dropped).
    case timeout
}

/// One hiredis 0.14.1 async connection driven by a worker's event loop.
///
/// Confined to `worker.queue`: every method, and every hiredis callback, runs there (the
/// socket is watched by the worker's `Poller`; hiredis's adapter hooks addRead/delRead/
/// addWrite/delWrite/cleanup change that registration). Commands are pipelined: each is
/// appended to hiredis's output buffer and written with whatever else is queued when the
/// socket is writable; replies come back in order.
///
/// hiredis 0.14.1 has no async timeouts: each command carries a deadline checked by the
/// worker's deadline tick (`Worker.tickInterval`, 50 ms), so a timeout fires up to one tick
/// late; a timeout also drops the connection (see `deadlineExpired`). The connection connects
/// lazily on the first command and, once lost, reconnects on the next command after a back-off
/// (100 ms doubling to 2 s; reset by a successful connect); commands issued while disconnected
/// or backing off fail at once with `.unavailable`.
public final class RedisConnection: PollTarget, DeadlineTarget {
    public let worker: Worker
    public let host: String
    public let port: Int
    /// How long a command may wait for its reply.
    public let timeout: Duration

    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private var registration: Poller.Registration?
    private var interest: Poller.Interest = []
    private var connected = false
    private var closed = false

    /// Commands waiting for a reply, oldest first (`completion` nil once it timed out).
    private var pending: [Pending] = []
    private var pendingHead = 0
    private final class Pending {
        let deadline: UInt64
        var completion: ((Result<RedisReply, RedisFailure>) -> Void)?
        init(deadline: UInt64, completion: @escaping (Result<RedisReply, RedisFailure>) -> Void) {
            self.deadline = deadline
            self.completion = completion
        }
    }

    private static let minBackoff: UInt64 = 100_000_000
    private static let maxBackoff: UInt64 = 2_000_000_000
    private var backoff: UInt64 = RedisConnection.minBackoff
    /// No connect attempt before this (monotonic ns).
    private var nextAttempt: UInt64 = 0

    /// `host`: a numeric address (hiredis resolves names with a blocking getaddrinfo; resolve
    /// them off the worker first). Call on the worker's queue.
    public init(worker: Worker, host: String, port: Int, timeout: Duration) {
        self.worker = worker
        self.host = host
        self.port = port
        self.timeout = timeout
        worker.assertOnQueue()
        worker.register(self)
    }

    /// Whether the connection is established now.
    public var isConnected: Bool { connected }

    /// Sends one command (`arguments`, binary-safe) and calls `completion` exactly once on the
    /// worker's queue: with the reply (an error reply is a `.error` value), or with a failure.
    /// The completion may run before `send` returns (not connected).
    public func send(_ arguments: [[UInt8]], completion: @escaping (Result<RedisReply, RedisFailure>) -> Void) {
        worker.assertOnQueue()
        guard !closed, let context = connectIfDue() else { return completion(.failure(.unavailable)) }
        let argc = arguments.count
        let lengths = arguments.map { $0.count }
        let status: Int32 = withPointers(arguments) { argv in
            lengths.withUnsafeBufferPointer { lens in
                redisAsyncCommandArgv(context, { ac, reply, _ in
                    guard let ac, let data = ac.pointee.ev.data else { return }
                    let conn = Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
                    conn.replied(reply?.assumingMemoryBound(to: redisReply.self))
                }, nil, Int32(argc), argv, lens.baseAddress)
            }
        }
        guard status == REDIS_OK else { return completion(.failure(.unavailable)) }
        if pendingHead > 64 && pendingHead * 2 > pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
        pending.append(Pending(deadline: Worker.now() + UInt64(timeout.nanosecondsClamped), completion: completion))
    }

    /// Closes the connection for good (a reload replaced it): pending commands fail with
    /// `.unavailable`.
    public func close() {
        worker.assertOnQueue()
        guard !closed else { return }
        closed = true
        worker.unregister(self)
        if let context {
            // Frees the context: pending callbacks run with a nil reply, then cleanup.
            redisAsyncFree(context)
        }
        failAllPending()
    }

    // MARK: connecting

    /// The live context, starting a connection when there is none and the back-off allows.
    private func connectIfDue() -> UnsafeMutablePointer<redisAsyncContext>? {
        if let context { return context }
        let now = Worker.now()
        guard now >= nextAttempt else { return nil }
        nextAttempt = now + backoff
        backoff = min(backoff * 2, RedisConnection.maxBackoff)
        guard let ac = redisAsyncConnect(host, Int32(port)) else { return nil }
        if ac.pointee.err != 0 {
            redisAsyncFree(ac)
            return nil
        }
        context = ac
        ac.pointee.ev.data = Unmanaged.passUnretained(self).toOpaque()
        ac.pointee.ev.addRead = { data in RedisConnection.from(data)?.want(.read, true) }
        ac.pointee.ev.delRead = { data in RedisConnection.from(data)?.want(.read, false) }
        ac.pointee.ev.addWrite = { data in RedisConnection.from(data)?.want(.write, true) }
        ac.pointee.ev.delWrite = { data in RedisConnection.from(data)?.want(.write, false) }
        ac.pointee.ev.cleanup = { data in RedisConnection.from(data)?.contextCleanedUp() }
        // Sets the write interest that detects the connect (hiredis 0.14.1 does it here).
        _ = redisAsyncSetConnectCallback(ac) { ac, status in
            guard let ac, let data = ac.pointee.ev.data else { return }
            RedisConnection.from(data)?.connectFinished(ok: status == REDIS_OK)
        }
        _ = redisAsyncSetDisconnectCallback(ac) { ac, _ in
            guard let ac, let data = ac.pointee.ev.data else { return }
            RedisConnection.from(data)?.contextCleanedUp()
        }
        return ac
    }

    private static func from(_ data: UnsafeMutableRawPointer?) -> RedisConnection? {
        data.map { Unmanaged<RedisConnection>.fromOpaque($0).takeUnretainedValue() }
    }

    private func connectFinished(ok: Bool) {
        connected = ok
        if ok { backoff = RedisConnection.minBackoff }
    }

    /// The context is being freed (by hiredis after an error, or by `close`): stop watching
    /// its descriptor; the next command reconnects once the back-off allows.
    private func contextCleanedUp() {
        if let registration {
            worker.poller.deregister(registration)
            self.registration = nil
        }
        interest = []
        context = nil
        connected = false
    }

    /// An adapter hook: start or stop waiting for `what` on the context's descriptor.
    private func want(_ what: Poller.Interest, _ on: Bool) {
        guard let context else { return }
        let updated = on ? interest.union(what) : interest.subtracting(what)
        guard updated != interest || registration == nil else { return }
        interest = updated
        if let registration {
            worker.poller.update(registration, interest: updated)
        } else if case .success(let r) = worker.poller.register(context.pointee.c.fd, interest: updated, target: self) {
            registration = r
        }
    }

    public func pollReady(_ events: PollEvents) {
        if let context, events.contains(.readable) || events.contains(.failure) { redisAsyncHandleRead(context) }
        // The read may have freed the context (the peer closed).
        if let context, events.contains(.writable) || (events.contains(.failure) && !connected) {
            redisAsyncHandleWrite(context)
        }
    }

    // MARK: replies and timeouts

    /// hiredis calls back once per command, in order; a nil reply means the context is being
    /// freed (every command still pending gets one).
    private func replied(_ reply: UnsafeMutablePointer<redisReply>?) {
        if reply == nil {
            // No command may be issued on a context being freed.
            context = nil
            connected = false
        }
        guard pendingHead < pending.count else { return }
        let entry = pending[pendingHead]
        pendingHead += 1
        guard let completion = entry.completion else { return }
        entry.completion = nil
        if let reply {
            completion(.success(RedisReply(reply)))
        } else {
            completion(.failure(.unavailable))
        }
    }

    private func failAllPending() {
        let waiting = pending[pendingHead...]
        pending = []
        pendingHead = 0
        for entry in waiting {
            if let completion = entry.completion {
                entry.completion = nil
                completion(.failure(.unavailable))
            }
        }
    }

    /// The oldest deadline of a command still waiting (0: none).
    public var deadline: UInt64 {
        var i = pendingHead
        while i < pending.count {
            if pending[i].completion != nil { return pending[i].deadline }
            i += 1
        }
        return 0
    }

    /// Fails every command whose deadline passed with `.timeout`, then drops the connection:
    /// a Redis that does not answer in time is treated as down (the commands still waiting fail
    /// as `.unavailable`, the next command reconnects after the back-off). Waiting on it instead
    /// would queue every request's command in memory for as long as the stall lasts.
    public func deadlineExpired(now: UInt64) {
        var i = pendingHead
        var expired = false
        while i < pending.count && pending[i].deadline <= now {
            if let completion = pending[i].completion {
                pending[i].completion = nil
                expired = true
                completion(.failure(.timeout))
            }
            i += 1
        }
        guard expired, let context else { return }
        nextAttempt = now + backoff
        backoff = min(backoff * 2, RedisConnection.maxBackoff)
        // Not inside a hiredis callback (the worker's tick): freeing is allowed here.
        redisAsyncFree(context)
        failAllPending()
    }
}

/// Calls `body` with an argv of C pointers into one contiguous copy of `arguments` (hiredis
/// copies every argument into its output buffer during the call).
private func withPointers<R>(_ arguments: [[UInt8]], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var joined: [CChar] = []
    joined.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
    var offsets: [Int] = []
    for a in arguments {
        offsets.append(joined.count)
        for byte in a { joined.append(CChar(bitPattern: byte)) }
    }
    joined.append(0)
    let argv = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: max(1, arguments.count))
    defer { argv.deallocate() }
    return joined.withUnsafeBufferPointer { buffer in
        for (i, offset) in offsets.enumerated() { argv[i] = buffer.baseAddress! + offset }
        return body(argv)
    }
}

extension Duration {
    var nanosecondsClamped: Int64 {
        let (s, atto) = components
        return s.multipliedReportingOverflow(by: 1_000_000_000).overflow ? .max : s * 1_000_000_000 + atto / 1_000_000_000
    }
}
