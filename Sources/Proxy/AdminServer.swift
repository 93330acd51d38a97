import EventLoop
import HTTP1
import ProxyConfig
import ProxyModel

/// The admin listener (`admin.address`): plain HTTP/1.1 with three resources —
/// `GET /metrics` (Prometheus text format), `GET /healthz` (200 while the process serves) and
/// `GET /readyz` (200, or 503 once a drain has begun so a load balancer stops sending).
/// Anything else is a canonical 404, a method other than GET or HEAD a canonical 405.
///
/// It runs on a worker of its own, apart from the proxy's, so a scrape never delays a proxied
/// request. It only exists when configured: the proxy's listeners never answer these paths.
/// `start` and `stop` are called from the control thread.
public final class AdminServer: Sendable {
    private let worker = Worker(index: -1)
    private let acceptor: Acceptor
    /// The address actually bound (port 0 resolved).
    public let boundAddress: SocketAddress
    /// `admin.address` as configured (a reload compares it to keep the socket).
    public let configured: HostPort

    /// Binds `address` now; throws when it cannot (the caller reports it like any listener).
    /// `metrics` renders the `/metrics` body and `isDraining` answers `/readyz`; both are called
    /// on the admin worker, per request.
    public init(address: SocketAddress, configured: HostPort, metrics: @escaping @Sendable () -> [UInt8],
                isDraining: @escaping @Sendable () -> Bool) throws(ProxyStartError) {
        self.configured = configured
        let fd: Int32
        switch Sockets.listen(on: address, backlog: 64, reusePort: false) {
        case .success(let listening): fd = listening
        case .failure(let error): throw ProxyStartError(description: "admin \(address): \(error)")
        }
        boundAddress = Sockets.localAddress(fd) ?? address
        let worker = worker
        acceptor = Acceptor(fd: fd, worker: worker) { client, _ in
            AdminConnection(fd: client, worker: worker, metrics: metrics, isDraining: isDraining).start()
        }
    }

    public func start() {
        worker.start()
        let acceptor = acceptor
        worker.queue.async { acceptor.start() }
    }

    public func stop() {
        let acceptor = acceptor
        worker.queue.async { acceptor.stop() }
        worker.stop()
    }
}

/// One admin client connection. Confined to the admin worker's queue; it keeps itself alive
/// through its channel (the channel's handler) until the channel closes.
private final class AdminConnection: SocketChannelHandler, DeadlineTarget {
    private let worker: Worker
    private let metrics: @Sendable () -> [UInt8]
    private let isDraining: @Sendable () -> Bool
    private var channel: SocketChannel?
    private var parser = HTTP1RequestParser()
    private var head: RequestHead?
    private(set) var deadline: UInt64 = 0
    /// An admin connection with nothing to say for this long is closed.
    private static let idleNanoseconds: UInt64 = 30_000_000_000

    init(fd: Int32, worker: Worker, metrics: @escaping @Sendable () -> [UInt8], isDraining: @escaping @Sendable () -> Bool) {
        self.worker = worker
        self.metrics = metrics
        self.isDraining = isDraining
        channel = SocketChannel(fd: fd, worker: worker, handler: self)
    }

    func start() {
        worker.assertOnQueue()
        worker.register(self)
        deadline = Worker.now() + Self.idleNanoseconds
        channel?.start()
    }

    func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        // An event can come with nothing left to consume (the end of a body-less request).
        while !channel.isClosed {
            let result: (consumed: Int, event: HTTP1Event<RequestHead>?)
            do {
                result = try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            } catch {
                respond(ProxyError(error.kind), keepAlive: false)
                return bytes.count
            }
            offset += result.consumed
            guard let event = result.event else { return offset }
            switch event {
            case .head(let h): head = h
            case .body: break
            case .end:
                if let head { answer(head) }
                head = nil
            }
        }
        return bytes.count
    }

    func channelReadEOF(_ channel: SocketChannel) { channel.close() }

    func channelClosed(_ channel: SocketChannel) {
        worker.unregister(self)
        self.channel = nil
    }

    func deadlineExpired(now: UInt64) {
        deadline = 0
        channel?.close()
    }

    private func answer(_ request: RequestHead) {
        deadline = Worker.now() + Self.idleNanoseconds
        let keepAlive = parser.keepAlive
        guard request.method == "GET" || request.method == "HEAD" else {
            let error = CanonicalError(type: .invalidRequest, code: "method_not_allowed",
                                       message: "The admin listener answers GET and HEAD only.")
            var fields = HTTPFields()
            fields.append("Allow", "GET, HEAD")
            return send(status: 405, fields: fields, error: error, request: request, keepAlive: keepAlive)
        }
        let path = request.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.target
        switch path {
        case "/metrics":
            let body = metrics()
            send(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: body,
                 request: request, keepAlive: keepAlive)
        case "/healthz":
            send(status: 200, contentType: "text/plain; charset=utf-8", body: Array("ok\n".utf8),
                 request: request, keepAlive: keepAlive)
        case "/readyz":
            if isDraining() {
                let error = CanonicalError(type: .api, code: "draining",
                                           message: "errata is draining and takes no new requests.")
                send(status: 503, fields: HTTPFields(), error: error, request: request, keepAlive: keepAlive)
            } else {
                send(status: 200, contentType: "text/plain; charset=utf-8", body: Array("ready\n".utf8),
                     request: request, keepAlive: keepAlive)
            }
        default:
            let error = CanonicalError(type: .invalidRequest, code: "route_not_found",
                                       message: "The admin listener serves /metrics, /healthz and /readyz.")
            send(status: 404, fields: HTTPFields(), error: error, request: request, keepAlive: keepAlive)
        }
    }

    private func respond(_ error: ProxyError, keepAlive: Bool) {
        let response = ErrorResponse.make(error, requestID: nil, accept: nil, options: ErrorRenderOptions())
        write(ResponseHead(status: response.head.status, fields: response.head.fields), body: response.body,
              includeBody: true, keepAlive: keepAlive)
    }

    private func send(status: Int, fields: HTTPFields, error: CanonicalError, request: RequestHead, keepAlive: Bool) {
        let rendered = error.render(status: status, options: ErrorRenderOptions(), accept: request.fields.first("Accept"))
        var fields = fields
        fields.append("Content-Type", rendered.contentType)
        write(ResponseHead(status: status, fields: fields), body: rendered.body,
              includeBody: request.method != "HEAD", keepAlive: keepAlive)
    }

    private func send(status: Int, contentType: String, body: [UInt8], request: RequestHead, keepAlive: Bool) {
        var fields = HTTPFields()
        fields.append("Content-Type", contentType)
        fields.append("Cache-Control", "no-store")
        write(ResponseHead(status: status, fields: fields), body: body, includeBody: request.method != "HEAD",
              keepAlive: keepAlive)
    }

    private func write(_ head: ResponseHead, body: [UInt8], includeBody: Bool, keepAlive: Bool) {
        guard let channel else { return }
        var head = head
        head.fields.append("Content-Length", String(body.count))
        head.fields.append("Connection", keepAlive ? "keep-alive" : "close")
        var out: [UInt8] = []
        HTTP1Serializer.appendResponseHead(head, to: &out)
        if includeBody { out.append(contentsOf: body) }
        channel.write(out)
        if !keepAlive { channel.closeAfterFlush() }
    }
}
