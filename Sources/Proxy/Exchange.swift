#if canImport(Glibc)
import Glibc
#endif
import ErrorNormalizer
import EventLoop
import HTTP1
import Logging
import ProxyConfig
import ProxyModel
import RateLimit
import RateLimitRedis
import Router

/// One request and its response, through named phases (Pingora's lifecycle):
///
/// 1. `requestFilter` — target normalization, routing (404), body limit (413);
/// 2. `rateLimitFilter` — the route's token buckets (429), local or in the shared store (the
///    exchange then waits for Redis's answer without blocking the worker; 503 under `deny`);
/// 3. `connectToUpstream` — pool, round robin, passive health, retries (502/503/504);
/// 4. `sendRequest` — the rewritten head, then the body streamed with backpressure;
/// 5. `responseFilter` — the upstream head, hop-by-hop removal, then the body streamed; an
///    error response is held instead, its body collected (bounded), decoded and normalized;
/// 6. `logging` — one access-log line.
///
/// Every failure goes through `failToProxy`, the only place that turns a `ProxyError` into a
/// response (or, once the head has gone out, into a truncated one).
///
/// Confined to the worker's queue. The downstream owns the exchange; the exchange owns its
/// upstream connection until it releases it to the pool.
final class Exchange: UpstreamConnectionDelegate {
    enum Phase { case routing, connecting, sending, awaitingResponse, relaying, done }

    unowned let context: WorkerContext
    unowned let downstream: any ExchangeDownstream
    let config: RuntimeConfig
    let request: RequestHead
    let requestBody: RequestBodyLength
    let expectsContinue: Bool
    let client: String
    let scheme: String
    let startedAt: UInt64
    private(set) var requestID: String
    private(set) var phase: Phase = .routing

    private var route: Route?
    private var pool: UpstreamPool?
    private var upstream: UpstreamConnection?
    private var serverIndex = 0
    private var triedServers: Set<Int> = []
    private var freshRetryUsed = false
    private var upstreamHead: [UInt8] = []
    /// Request body bytes (framed for the upstream) not yet written because no connection is ready.
    private var pendingBody: [UInt8] = []
    /// Everything written to the upstream, kept for one retry while it stays small; nil after.
    private var replayBody: [UInt8]? = []
    private static let replayLimit = 64 * 1024
    private var bodyBytesReceived = 0
    private var requestComplete = false
    private var upstreamChunked = false
    private var continueSent = false
    private var responseStarted = false
    private var responseStatus = 0
    private var upstreamStatus: Int?
    private var errorCode: String?
    private var bytesSent = 0
    /// When the request head went to the upstream (0: not yet), for the upstream response time.
    private var upstreamSentAt: UInt64 = 0
    private var lastFailure: ProxyError?
    /// Fields errata adds to whatever response goes out (the RateLimit fields of a limited route).
    private var addedResponseFields = HTTPFields()
    /// An upstream error response being collected for normalization (nil: streaming as is).
    private var heldError: HeldError?

    /// The head and body bytes of an upstream error response, held until its body ends.
    private struct HeldError {
        var head: ResponseHead
        var dialect: Dialect
        var body: [UInt8] = []
    }

    init(context: WorkerContext, downstream: any ExchangeDownstream, request: RequestHead, body: RequestBodyLength,
         expectsContinue: Bool, client: String, scheme: String) {
        self.context = context
        self.downstream = downstream
        self.config = context.config
        self.request = request
        self.requestBody = body
        self.expectsContinue = expectsContinue
        self.client = client
        self.scheme = scheme
        self.startedAt = Worker.now()
        if let id = request.fields.first("X-Request-Id"), RequestIDGenerator.isAcceptable(id) {
            requestID = id
        } else {
            requestID = context.nextRequestID()
        }
        if case .none = body { requestComplete = true }
    }

    var isDone: Bool { phase == .done }

    // MARK: 1. request filter

    func start() {
        guard let target = RequestTarget(request.target) else {
            return failToProxy(ProxyError(.malformedRequest, message: "The request target is not a valid path."))
        }
        let host = request.fields.first("Host") ?? ""
        guard let route = config.snapshot.routes.match(host: host, path: target.path, method: request.method) else {
            return failToProxy(ProxyError(.routeNotFound))
        }
        self.route = route
        if case .length(let n) = requestBody, n > config.snapshot.limits.requestBodyBytes {
            return failToProxy(ProxyError(.payloadTooLarge))
        }
        guard rateLimitFilter(route, target: target) else { return }
        forward(route, target: target)
    }

    /// The rest of the request filter once the rate limits let the request through.
    private func forward(_ route: Route, target: RequestTarget) {
        guard let upstreamConfig = config.snapshot.upstreams[route.upstream] else {
            return failToProxy(ProxyError(.routeNotFound))
        }
        pool = context.pool(for: upstreamConfig, config: config)
        upstreamHead = RequestForwarding.upstreamHead(
            for: request, target: target.origin(path: route.forwardedPath(target.path)), body: requestBody,
            client: client, scheme: scheme, requestID: requestID, snapshot: config.snapshot)
        if case .streamed = requestBody { upstreamChunked = true }
        phase = .connecting
        connectToUpstream(fresh: false)
    }

    // MARK: 2. rate limits

    /// Takes a token from each of the route's buckets in order; the first empty one answers 429
    /// with `Retry-After`. Allowed responses of a limited route carry the RateLimit fields too.
    /// Tokens are not refunded when the upstream request later fails: a failing upstream is
    /// protected by the limit as much as a healthy one. Returns true when the request goes on at
    /// once (unlimited route, local buckets); false when it was answered or waits for Redis, which
    /// then calls `forward` itself — only that path allocates a continuation.
    private func rateLimitFilter(_ route: Route, target: RequestTarget) -> Bool {
        guard let check = config.rateLimitChecks[route.name] else { return true }
        let peer = IPAddress(client)
        guard let store = config.rateLimitStore else { return apply(localCheck(check, peer: peer, route: route)) }
        let proceed = { [self] in forward(route, target: target) }
        guard let host = store.host else {
            storeFailed(.unavailable, store, check, peer, route, proceed)
            return false
        }
        context.rateLimitClient(for: store, host: host).take(
            check, peer: peer, headers: request.fields, route: route.name,
            trustedProxies: config.snapshot.trustedProxies
        ) { [self] result in
            // The client may have gone while Redis was answering.
            guard phase != .done else { return }
            switch result {
            case .success(let decisions):
                context.metrics.recordRateLimitStore(result: "ok")
                if store.markAnswered(workerDown: &context.rateLimitStoreDown) {
                    context.log.notice("rate_limit_store: Redis answers again; limits are shared again")
                }
                if apply(check.outcome(decisions)) { proceed() }
            case .failure(let failure):
                storeFailed(failure, store, check, peer, route, proceed)
            }
        }
        return false
    }

    private func localCheck(_ check: RateLimitCheck, peer: IPAddress?, route: Route) -> RateLimitOutcome {
        // The exchange's start time: no second clock read for the limit.
        check.check(peer: peer, headers: request.fields, route: route.name,
                    trustedProxies: config.snapshot.trustedProxies, now: startedAt)
    }

    /// The shared store gave no decision: `on_failure` decides (`local`: this instance's own
    /// buckets; `allow`: no limit; `deny`: 503). An outage is logged once per process (when the
    /// first worker sees it), and its end once (when the last worker is answered again).
    private func storeFailed(_ failure: RateLimitStoreFailure, _ store: SharedRateLimitStore, _ check: RateLimitCheck,
                             _ peer: IPAddress?, _ route: Route, _ proceed: () -> Void) {
        context.metrics.recordRateLimitStore(result: failure.rawValue)
        let onFailure = store.config.onFailure
        if store.markFailed(workerDown: &context.rateLimitStoreDown) {
            context.log.warning("rate_limit_store: Redis gives no answer; on_failure applies until it does",
                                metadata: ["reason": "\(failure.rawValue)", "on_failure": "\(onFailure.rawValue)"])
        }
        switch onFailure {
        case .local: if apply(localCheck(check, peer: peer, route: route)) { proceed() }
        case .allow: proceed()
        case .deny: failToProxy(ProxyError(.rateLimitUnavailable, details: "rate limit store \(failure.rawValue)"))
        }
    }

    /// Renders `outcome` (RateLimit fields; 429 when denied); returns whether the request goes on.
    private func apply(_ outcome: RateLimitOutcome) -> Bool {
        if let policy = outcome.policyField, let limit = outcome.limitField {
            addedResponseFields.append("RateLimit-Policy", policy)
            addedResponseFields.append("RateLimit", limit)
        }
        context.metrics.recordRateLimit(policy: outcome.decidingPolicy, allowed: outcome.isAllowed)
        guard let retryAfter = outcome.retryAfterSeconds else { return true }
        addedResponseFields.append("Retry-After", String(retryAfter))
        failToProxy(ProxyError(.rateLimited, message: outcome.message ?? "Rate limit exceeded."))
        return false
    }

    // MARK: 3. connect

    private func connectToUpstream(fresh: Bool) {
        guard let pool else { return }
        let now = Worker.now()
        switch pool.pickServer(excluding: triedServers, now: now) {
        case .allDown:
            return failToProxy(ProxyError(.upstreamUnavailable(connectionLimit: false),
                                          message: "Every server of the upstream '\(pool.config.name)' is marked down."))
        case .exhausted:
            return failToProxy(lastFailure ?? ProxyError(.upstreamConnectFailed(.refused)))
        case .server(let index):
            serverIndex = index
            triedServers.insert(index)
            switch pool.acquire(server: index, fresh: fresh) {
            case .failed(let error):
                lastFailure = error
                if error.retryable {
                    pool.recordFailure(server: index, now: now)
                    return connectToUpstream(fresh: fresh)
                }
                return failToProxy(error)
            case .connecting(let conn):
                upstream = conn
                conn.begin(method: request.method, delegate: self)
            case .ready(let conn):
                upstream = conn
                conn.begin(method: request.method, delegate: self)
                sendRequest()
            }
        }
    }

    func upstreamConnected(_ conn: UpstreamConnection) {
        guard conn === upstream else { return }
        sendRequest()
    }

    func upstreamConnectFailed(_ conn: UpstreamConnection, _ failure: ProxyError.ConnectFailure, details: String) {
        guard conn === upstream, let pool else { return }
        upstream = nil
        pool.recordFailure(server: serverIndex, now: Worker.now())
        lastFailure = ProxyError(.upstreamConnectFailed(failure),
                                 message: "The upstream '\(pool.config.name)' could not be reached.",
                                 details: details, retryable: true)
        connectToUpstream(fresh: false)
    }

    // MARK: 4. send

    private func sendRequest() {
        guard let upstream else { return }
        phase = .sending
        upstreamSentAt = Worker.now()
        var out = upstreamHead
        out.append(contentsOf: pendingBody)
        pendingBody = []
        upstream.write(out)
        if requestComplete { requestFullyWritten() }
        if expectsContinue && !requestComplete && !continueSent && bodyBytesReceived == 0 {
            continueSent = true
            downstream.sendContinue()
        }
        downstream.setRequestBodyFlowing(upstream.isWritable)
    }

    private func requestFullyWritten() {
        if phase == .sending { phase = .awaitingResponse }
        upstream?.requestWritten()
    }

    /// Request body bytes from the client (valid only during the call).
    func receiveRequestBody(_ bytes: UnsafeRawBufferPointer) {
        guard phase != .done, !bytes.isEmpty else { return }
        bodyBytesReceived += bytes.count
        if bodyBytesReceived > config.snapshot.limits.requestBodyBytes {
            return abortUpstream(ProxyError(.payloadTooLarge))
        }
        var framed: [UInt8] = []
        if upstreamChunked {
            HTTP1Serializer.appendChunk(bytes, to: &framed)
        } else {
            framed.append(contentsOf: bytes)
        }
        forwardBody(framed)
    }

    /// The client sent the whole body.
    func receiveRequestEnd() {
        guard !requestComplete else { return }
        requestComplete = true
        guard phase != .done else { return }
        if upstreamChunked {
            var last: [UInt8] = []
            HTTP1Serializer.appendLastChunk(to: &last)
            forwardBody(last)
        }
        if upstream != nil && (phase == .sending || phase == .relaying) { requestFullyWritten() }
    }

    private func forwardBody(_ framed: [UInt8]) {
        if let upstream, phase == .sending || phase == .awaitingResponse || phase == .relaying {
            upstream.write(framed)
            if !upstream.isWritable { downstream.setRequestBodyFlowing(false) }
        } else {
            pendingBody.append(contentsOf: framed)
            if pendingBody.count >= 64 * 1024 { downstream.setRequestBodyFlowing(false) }
        }
        if replayBody != nil {
            if replayBody!.count + framed.count <= Exchange.replayLimit {
                replayBody!.append(contentsOf: framed)
            } else {
                replayBody = nil
            }
        }
    }

    func upstreamWritable(_ conn: UpstreamConnection) {
        guard conn === upstream, !requestComplete else { return }
        downstream.setRequestBodyFlowing(true)
    }

    // MARK: 5. response

    func upstreamResponseHead(_ conn: UpstreamConnection, _ head: ResponseHead, framing: BodyFraming) {
        guard conn === upstream, let pool else { return }
        pool.recordSuccess(server: serverIndex)
        context.metrics.recordUpstreamResponse(upstream: pool.config.name, nanoseconds: Worker.now() - upstreamSentAt)
        phase = .relaying
        upstreamStatus = head.status
        responseStatus = head.status
        var fields = head.fields
        HopByHop.remove(from: &fields)
        if let route, request.method != "HEAD", head.status >= 400 || config.dialectsInspectSuccess {
            let dialect = config.snapshot.dialect(route: route, upstream: pool.config)
            if holdsForNormalization(head, framing: framing, dialect: dialect) {
                heldError = HeldError(head: ResponseHead(status: head.status, reason: head.reason, fields: fields),
                                      dialect: dialect)
                return
            }
        }
        if head.status >= 400 { recordUpstreamError(.passedThrough) }
        fields.remove("Content-Length")
        addProxyFields(to: &fields)
        let length: ResponseBodyLength
        switch framing {
        case .none:
            length = .none
            if let cl = head.fields.first("Content-Length") { fields.append("Content-Length", cl) }
        case .contentLength(let n): length = .length(n)
        case .chunked, .untilClose: length = .streamed
        }
        responseStarted = true
        downstream.sendResponseHead(ResponseHead(status: head.status, reason: head.reason, fields: fields), body: length)
    }

    func upstreamResponseBody(_ conn: UpstreamConnection, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard conn === upstream else { return true }
        if heldError != nil {
            if heldError!.body.count + bytes.count > config.snapshot.limits.errorBodyBytes {
                // Over the limit: the body is not read (the connection cannot be reused
                // without reading it to the end, so it is dropped) and the error comes from status.
                self.upstream = nil
                conn.delegate = nil
                conn.close()
                sendNormalized(oversized: true)
                return true
            }
            heldError!.body.append(contentsOf: bytes)
            return true
        }
        bytesSent += bytes.count
        downstream.sendResponseBody(bytes)
        return downstream.canSendResponseBody
    }

    func upstreamReadBatchDone(_ conn: UpstreamConnection) {
        guard conn === upstream, heldError == nil else { return }
        downstream.flushResponse()
    }

    /// The client can take more response bytes.
    func downstreamWritable() {
        upstream?.resumeResponse()
    }

    func upstreamResponseEnd(_ conn: UpstreamConnection, reusable: Bool) {
        guard conn === upstream, let pool else { return }
        upstream = nil
        // A connection whose request body was not all sent cannot carry another request.
        pool.release(conn, reusable: reusable && requestComplete && pendingBody.isEmpty)
        if heldError != nil { return sendNormalized(oversized: false) }
        downstream.sendResponseEnd()
        finish()
    }

    /// What errata adds to every upstream response it forwards: the request id (unless the
    /// upstream echoed one) and the route's RateLimit fields.
    private func addProxyFields(to fields: inout HTTPFields) {
        if !fields.contains("X-Request-Id") { fields.append("X-Request-Id", requestID) }
        for field in addedResponseFields { fields.append(field.name, field.value) }
    }

    /// Whether this upstream response is collected and normalized rather than streamed:
    /// 400–599 (not gRPC), or a success the dialect's `error_when` may catch — only JSON with a
    /// `Content-Length` within `limits.error_body_bytes` (chunked or larger ones stream untouched).
    private func holdsForNormalization(_ head: ResponseHead, framing: BodyFraming, dialect: Dialect) -> Bool {
        let contentType = head.fields.first("Content-Type")
        guard ErrorNormalizer.mayRewrite(status: head.status), !MediaType.isGRPC(contentType) else { return false }
        if head.status >= 400 { return true }
        guard dialect.inspectsSuccess(status: head.status), MediaType.isJSON(contentType),
              case .contentLength(let n) = framing, n <= config.snapshot.limits.errorBodyBytes else { return false }
        return true
    }

    /// `dialect`: the one already chosen for a held response; looked up otherwise.
    private func recordUpstreamError(_ outcome: UpstreamErrorOutcome, dialect: Dialect? = nil) {
        guard let route, let pool else { return }
        let name = (dialect ?? config.snapshot.dialect(route: route, upstream: pool.config)).name
        context.metrics.recordUpstreamError(upstream: pool.config.name, dialect: name, outcome: outcome)
    }

    /// The upstream fields that describe the body or its handling, which a rewritten error replaces.
    private static let fieldsReplacedByRewrite = ["Content-Type", "Content-Length", "Content-Encoding",
                                                  "Transfer-Encoding", "ETag", "Proxy-Status"]

    /// Sends the held response normalized (or, when the dialect lets it pass, as it came).
    private func sendNormalized(oversized: Bool) {
        guard let held = heldError.take() else { return }
        let status = held.head.status
        let contentType = held.head.fields.first("Content-Type")
        let result: NormalizationResult
        if oversized {
            result = ErrorNormalizer.normalizeUnreadable(status: status, contentType: contentType)
        } else {
            let limit = config.snapshot.limits.errorBodyBytes
            switch ErrorBodyDecoder.decode(held.body, contentEncoding: held.head.fields.first("Content-Encoding"), limit: limit) {
            case .decoded(let body):
                result = ErrorNormalizer.normalize(status: status, contentType: contentType, body: body, dialect: held.dialect)
            case .unreadable, .tooLarge:
                result = ErrorNormalizer.normalizeUnreadable(status: status, contentType: contentType)
            }
        }
        var fields = held.head.fields
        switch result {
        case .passThrough:
            if status >= 400 { recordUpstreamError(.passedThrough, dialect: held.dialect) }
            fields.remove("Content-Length")
            addProxyFields(to: &fields)
            responseStarted = true
            downstream.sendResponseHead(ResponseHead(status: status, reason: held.head.reason, fields: fields),
                                        body: held.body.isEmpty ? .none : .length(held.body.count))
            bytesSent += held.body.count
            held.body.withUnsafeBytes { downstream.sendResponseBody($0) }
        case .rewrite(let newStatus, let error, let outcome):
            switch outcome {
            case .rewritten: recordUpstreamError(.rewritten, dialect: held.dialect)
            case .unreadable: recordUpstreamError(.unreadable, dialect: held.dialect)
            }
            fields.remove(anyOf: Self.fieldsReplacedByRewrite)
            let rendered = error.render(status: newStatus, options: config.snapshot.errors.render,
                                        accept: request.fields.first("Accept"))
            fields.append("Content-Type", rendered.contentType)
            fields.append("Proxy-Status", "errata; received-status=\(status)")
            addProxyFields(to: &fields)
            responseStatus = newStatus
            responseStarted = true
            downstream.sendResponseHead(ResponseHead(status: newStatus, fields: fields), body: .length(rendered.body.count))
            bytesSent += rendered.body.count
            rendered.body.withUnsafeBytes { downstream.sendResponseBody($0) }
        }
        downstream.sendResponseEnd()
        finish()
    }

    func upstreamFailed(_ conn: UpstreamConnection, _ failure: UpstreamConnection.Failure) {
        guard conn === upstream, let pool else { return }
        upstream = nil
        let name = pool.config.name
        switch failure {
        case .closed:
            // The keep-alive race: a pooled connection closed as the request went out.
            if conn.isReused && !conn.responseBytesSeen && !responseStarted && !freshRetryUsed,
               let replay = replayBody, isIdempotent || !requestComplete || replay.isEmpty {
                freshRetryUsed = true
                pendingBody = replay + pendingBody
                replayBody = replay
                triedServers.remove(serverIndex)
                phase = .connecting
                return connectToUpstream(fresh: true)
            }
            failToProxy(ProxyError(.upstreamClosed,
                                   message: "The upstream '\(name)' closed the connection before it answered."))
        case .protocolError(let reason):
            failToProxy(ProxyError(.upstreamProtocolError,
                                   message: "The upstream '\(name)' answered with a response that is not valid HTTP.",
                                   details: reason))
        case .timeout(.connect):
            pool.recordFailure(server: serverIndex, now: Worker.now())
            lastFailure = ProxyError(.upstreamTimeout(.connect),
                                     message: "The upstream '\(name)' could not be reached within \(humanDuration(pool.config.timeouts.connect)).")
            connectToUpstream(fresh: false)
        case .timeout(.responseHead):
            pool.recordFailure(server: serverIndex, now: Worker.now())
            failToProxy(ProxyError(.upstreamTimeout(.responseHead),
                                   message: "The upstream '\(name)' did not answer within \(humanDuration(pool.config.timeouts.responseHead))."))
        }
    }

    private var isIdempotent: Bool {
        switch request.method {
        case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE": return true
        default: return false
        }
    }

    // MARK: failures

    /// The request cannot go on (413 mid-body, a broken body from the client): drops the
    /// upstream connection and answers with `error` when nothing was sent yet.
    func abortUpstream(_ error: ProxyError) {
        if let upstream {
            self.upstream = nil
            upstream.delegate = nil
            upstream.close()
        }
        failToProxy(error)
    }

    /// The only place a failure becomes a response: the canonical error with `Proxy-Status`
    /// when no response byte has gone out, else a truncated response.
    func failToProxy(_ error: ProxyError) {
        guard phase != .done else { return }
        errorCode = error.code
        if let upstream {
            self.upstream = nil
            upstream.delegate = nil
            upstream.close()
        }
        if responseStarted {
            downstream.abortResponse()
            finish()
            return
        }
        responseStatus = error.status
        context.metrics.recordSynthesized(code: error.code)
        var response = ErrorResponse.make(error, requestID: requestID, accept: request.fields.first("Accept"),
                                          options: config.snapshot.errors.render)
        for field in addedResponseFields { response.head.fields.append(field.name, field.value) }
        responseStarted = true
        downstream.sendResponseHead(response.head, body: request.method == "HEAD" ? .none : .length(response.body.count))
        if request.method != "HEAD" {
            bytesSent += response.body.count
            response.body.withUnsafeBytes { downstream.sendResponseBody($0) }
        }
        downstream.sendResponseEnd()
        finish()
    }

    /// The client went away: the upstream connection is dropped mid-exchange (it cannot be reused).
    func downstreamClosed() {
        guard phase != .done else { return }
        if let upstream {
            self.upstream = nil
            upstream.delegate = nil
            upstream.close()
        }
        if errorCode == nil { errorCode = "client_closed" }
        finish(notify: false)
    }

    // MARK: 6. logging

    private func finish(notify: Bool = true) {
        phase = .done
        let duration = Worker.now() - startedAt
        // The metrics' `protocol` label and the access log's `protocol`: "h2" for HTTP/2 streams.
        let protocolName = request.version.protocolName
        context.metrics.recordRequest(route: route?.name, status: responseStatus, protocolName: protocolName,
                                      durationNanoseconds: duration)
        context.accessLog.record(AccessLogEntry(
            requestID: requestID, client: client, method: request.method, path: request.target,
            protocolVersion: protocolName, status: responseStatus, route: route?.name,
            upstream: pool?.config.name, upstreamStatus: upstreamStatus, error: errorCode,
            durationNanoseconds: duration, bytesSent: bytesSent))
        if notify { downstream.exchangeDidFinish(self) }
    }
}

func humanDuration(_ d: Duration) -> String {
    humanDuration(milliseconds: Int(d.nanoseconds / 1_000_000))
}
