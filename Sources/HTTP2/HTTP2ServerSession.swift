import CNGHTTP2
import ProxyModel
#if canImport(Glibc)
import Glibc
#endif

/// HTTP/2 error codes (RFC 9113 §7) the proxy sends or expects.
public enum HTTP2ErrorCode {
    public static let noError: UInt32 = 0x0
    public static let protocolError: UInt32 = 0x1
    public static let internalError: UInt32 = 0x2
    public static let flowControlError: UInt32 = 0x3
    public static let frameSizeError: UInt32 = 0x6
    public static let refusedStream: UInt32 = 0x7
    public static let cancel: UInt32 = 0x8
    public static let compressionError: UInt32 = 0x9
    public static let enhanceYourCalm: UInt32 = 0xb
}

/// The limits one server session enforces; what libnghttp2 offers is passed to it, the rest
/// the session counts itself.
public struct HTTP2SessionLimits: Sendable, Equatable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS, advertised and enforced (REFUSED_STREAM above it).
    public var maxConcurrentStreams: Int
    /// Decoded header bytes per request (names + values + 32 per field, RFC 9113's size);
    /// advertised as SETTINGS_MAX_HEADER_LIST_SIZE. A larger block is reported as
    /// `headersTooLarge` and its fields dropped, so an HPACK bomb costs no memory.
    public var maxHeaderListBytes: Int
    /// SETTINGS_INITIAL_WINDOW_SIZE: request body bytes a stream may have unconsumed.
    public var streamWindowBytes: Int
    /// The connection's receive window: request body bytes all streams may have unconsumed.
    public var connectionWindowBytes: Int
    /// Rapid reset: RST_STREAM frames a client may send in a burst, and per second after it.
    public var resetBurst: Int
    public var resetsPerSecond: Int
    /// CONTINUATION frames after one HEADERS frame.
    public var maxContinuations: Int
    /// SETTINGS and PING ACKs queued unsent before the client is deemed flooding.
    public var maxOutboundAcks: Int
    /// Entries in one SETTINGS frame.
    public var maxSettingsEntries: Int
    /// Stream-level errors the client causes (invalid frames, oversized header blocks) before the
    /// connection is closed with ENHANCE_YOUR_CALM.
    public var maxStreamErrors: Int

    public init(maxConcurrentStreams: Int = 128, maxHeaderListBytes: Int = 64 * 1024,
                streamWindowBytes: Int = 256 * 1024, connectionWindowBytes: Int = 4 * 1024 * 1024,
                resetBurst: Int = 1000, resetsPerSecond: Int = 33, maxContinuations: Int = 8,
                maxOutboundAcks: Int = 1000, maxSettingsEntries: Int = 32, maxStreamErrors: Int = 64) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxHeaderListBytes = maxHeaderListBytes
        self.streamWindowBytes = streamWindowBytes
        self.connectionWindowBytes = connectionWindowBytes
        self.resetBurst = resetBurst
        self.resetsPerSecond = resetsPerSecond
        self.maxContinuations = maxContinuations
        self.maxOutboundAcks = maxOutboundAcks
        self.maxSettingsEntries = maxSettingsEntries
        self.maxStreamErrors = maxStreamErrors
    }
}

/// A request's pseudo-header fields and its regular fields, as the client sent them.
public struct HTTP2RequestHead: Sendable, Equatable {
    public var method: String
    public var scheme: String
    public var authority: String?
    public var path: String
    /// Regular fields, names lowercase, in order (`cookie` crumbs joined with "; ").
    public var fields: HTTPFields
    /// The declared `content-length`, if any.
    public var contentLength: Int?

    public init(method: String, scheme: String, authority: String?, path: String, fields: HTTPFields,
                contentLength: Int?) {
        self.method = method
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.fields = fields
        self.contentLength = contentLength
    }
}

/// What a session reports from the bytes it received (collected during `receive` and handed
/// out by `takeEvents`, so that the driver never calls into the session from a callback).
public enum HTTP2SessionEvent: Sendable, Equatable {
    /// A request head. `endStream`: the request has no body.
    case requestHead(streamID: Int32, HTTP2RequestHead, endStream: Bool)
    /// Request body bytes; call `consume` once they are passed on (flow control).
    case requestBody(streamID: Int32, [UInt8])
    case requestEnd(streamID: Int32)
    /// A request whose header block exceeded `maxHeaderListBytes` (its fields were dropped).
    case headersTooLarge(streamID: Int32, endStream: Bool)
    /// The stream closed: `errorCode` is the RST_STREAM code (from either side), 0 for a normal end.
    case streamClosed(streamID: Int32, errorCode: UInt32)
    /// The client sent GOAWAY.
    case goawayReceived(errorCode: UInt32)
}

/// The owner of one libnghttp2 server session: bytes in, events out; responses in, bytes out.
///
/// It knows nothing of routing, limits beyond HTTP/2's own, or error formats. Not thread-safe:
/// every call comes from the one queue that owns the connection. The C callbacks reach the
/// session through the `user_data` pointer (unretained: the session outlives its nghttp2 session).
///
/// Contracts:
/// - `receive` consumes every byte it is given (or reports a connection error after which only
///   `drainOutput` and `isFinished` make sense);
/// - `drainOutput` copies what `nghttp2_session_mem_send` returns at once, so the sink may keep it;
/// - response bodies are buffered per stream and sent as the peer's windows allow (deferred data
///   provider, resumed when bytes are appended); the caller bounds them with `bufferedResponseBytes`.
public final class HTTP2ServerSession {
    private var session: OpaquePointer!
    public let limits: HTTP2SessionLimits
    private var events: [HTTP2SessionEvent] = []
    private var streams: [Int32: StreamState] = [:]
    private var streamErrors = 0
    private var shutdownState = ShutdownState.running
    /// The code of the GOAWAY this side ended the connection with (nil while none was sent).
    public private(set) var terminationCode: UInt32?

    private enum ShutdownState { case running, noticeSent, finalSent }

    /// Per-stream state: the request head being decoded and the response body waiting for window.
    private final class StreamState {
        var method = "", scheme = "", authority: String?, path = ""
        var fields = HTTPFields()
        var cookies: [String] = []
        var contentLength: Int?
        var headerBytes = 0
        var headersTooLarge = false
        var requestHeadSeen = false
        var output: [UInt8] = []
        var outputRead = 0
        var outputEnded = false
        var deferred = false
        var responding = false
        var bufferedCount: Int { output.count - outputRead }
    }

    public init(limits: HTTP2SessionLimits) {
        self.limits = limits
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecv)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunkRecv)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks, onInvalidFrameRecv)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSend)
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_stream_reset_rate_limit(option, UInt64(limits.resetBurst), UInt64(limits.resetsPerSecond))
        nghttp2_option_set_max_continuations(option, limits.maxContinuations)
        nghttp2_option_set_max_outbound_ack(option, limits.maxOutboundAcks)
        nghttp2_option_set_max_settings(option, limits.maxSettingsEntries)
        nghttp2_option_set_no_closed_streams(option, 1)
        nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096)
        var created: OpaquePointer?
        nghttp2_session_server_new2(&created, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        nghttp2_option_del(option)
        nghttp2_session_callbacks_del(callbacks)
        session = created
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                   value: UInt32(limits.maxConcurrentStreams)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                   value: UInt32(limits.streamWindowBytes)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                                   value: UInt32(limits.maxHeaderListBytes)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_HEADER_TABLE_SIZE.rawValue), value: 4096),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0,
                                              Int32(limits.connectionWindowBytes))
    }

    deinit {
        nghttp2_session_del(session)
    }

    // MARK: bytes in

    /// Feeds bytes from the client. Returns nil, or the error code of the GOAWAY the connection
    /// is being closed with (drain the output, then close).
    public func receive(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        guard terminationCode == nil, !bytes.isEmpty else { return terminationCode }
        let result = nghttp2_session_mem_recv(session, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                              bytes.count)
        if result < 0 {
            terminate(code: HTTP2ServerSession.goawayCode(forReceiveError: Int32(result)))
        } else if streamErrors > limits.maxStreamErrors {
            terminate(code: HTTP2ErrorCode.enhanceYourCalm)
        }
        return terminationCode
    }

    /// The GOAWAY code for a fatal `nghttp2_session_mem_recv` result.
    static func goawayCode(forReceiveError error: Int32) -> UInt32 {
        switch error {
        case NGHTTP2_ERR_FLOODED.rawValue, NGHTTP2_ERR_TOO_MANY_CONTINUATIONS.rawValue:
            return HTTP2ErrorCode.enhanceYourCalm
        case NGHTTP2_ERR_HEADER_COMP.rawValue:
            return HTTP2ErrorCode.compressionError
        case NGHTTP2_ERR_FLOW_CONTROL.rawValue:
            return HTTP2ErrorCode.flowControlError
        case NGHTTP2_ERR_CALLBACK_FAILURE.rawValue, NGHTTP2_ERR_NOMEM.rawValue:
            return HTTP2ErrorCode.internalError
        default:
            return HTTP2ErrorCode.protocolError
        }
    }

    /// The events collected since the last call, in order. Call it after `drainOutput`: once the
    /// session has ended the connection (its own GOAWAY with an error, or one libnghttp2 sent,
    /// e.g. on a rapid-reset flood, while reading the rest of the input) it reports nothing more.
    public func takeEvents() -> [HTTP2SessionEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return terminationCode == nil ? events : []
    }

    /// Reopens `count` bytes of `streamID`'s (and the connection's) receive window: the request
    /// body bytes were passed on. Bytes of a stream that is gone reopen the connection's window only.
    public func consume(streamID: Int32, count: Int) {
        guard count > 0 else { return }
        nghttp2_session_consume(session, streamID, count) // the connection's window even when the stream is gone
    }

    // MARK: bytes out

    /// Hands everything nghttp2 has to send to `sink`, in pieces, while `sink` returns true
    /// (false: stop, the transport is full; call again when it drains). Each piece is valid
    /// only during the call.
    public func drainOutput(_ sink: (UnsafeRawBufferPointer) -> Bool) {
        while true {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            if n <= 0 { return }
            if !sink(UnsafeRawBufferPointer(start: data, count: n)) { return }
        }
    }

    /// Whether nghttp2 has frames to send (which `drainOutput` would produce).
    public var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }

    /// True once the session neither reads nor writes any more (after GOAWAY and the last
    /// stream, or a connection error): the connection can close after flushing.
    public var isFinished: Bool {
        nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
    }

    /// Streams open now (either direction).
    public var openStreamCount: Int { streams.count }

    // MARK: responses in

    /// Submits a response head. `fields` are regular fields (names are lowercased here);
    /// `hasBody` false ends the stream with the HEADERS frame. Returns false when the stream is gone.
    @discardableResult
    public func submitResponse(streamID: Int32, status: Int, fields: HTTPFields, hasBody: Bool) -> Bool {
        guard let stream = streams[streamID], !stream.responding else { return false }
        stream.responding = true
        var strings: [(name: [UInt8], value: [UInt8])] = [(Array(":status".utf8), Array(String(status).utf8))]
        for field in fields where !HTTP2ServerSession.isConnectionSpecific(field.name) {
            strings.append((Array(field.name.lowercased().utf8), Array(field.value.utf8)))
        }
        let result = HTTP2ServerSession.withHeaderList(strings) { nva in
            if !hasBody {
                return nghttp2_submit_response(session, streamID, nva.baseAddress, nva.count, nil)
            }
            var provider = nghttp2_data_provider()
            provider.source.ptr = nil
            provider.read_callback = readResponseBody
            return nghttp2_submit_response(session, streamID, nva.baseAddress, nva.count, &provider)
        }
        return result == 0
    }

    /// Builds `nghttp2_nv`s pointing into one buffer holding every name and value, valid while
    /// `body` runs (the submit call copies them). `strings` is never empty (`:status` leads).
    private static func withHeaderList<R>(_ strings: [(name: [UInt8], value: [UInt8])],
                                          _ body: (UnsafeBufferPointer<nghttp2_nv>) -> R) -> R {
        var bytes: [UInt8] = []
        for pair in strings { bytes += pair.name + pair.value }
        return bytes.withUnsafeMutableBufferPointer { buffer in
            var nva: [nghttp2_nv] = []
            nva.reserveCapacity(strings.count)
            var next = buffer.baseAddress!
            for pair in strings {
                let name = next
                let value = next + pair.name.count
                next = value + pair.value.count
                nva.append(nghttp2_nv(name: name, value: value, namelen: pair.name.count, valuelen: pair.value.count,
                                      flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
            }
            return nva.withUnsafeBufferPointer { body($0) }
        }
    }

    /// Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2).
    static func isConnectionSpecific(_ name: String) -> Bool {
        for forbidden in ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]
        where HTTPFields.equalsIgnoringCase(name, forbidden) {
            return true
        }
        return false
    }

    /// Queues response body bytes for `streamID` (sent as its window allows).
    public func appendResponseBody(streamID: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard let stream = streams[streamID], !stream.outputEnded, !bytes.isEmpty else { return }
        if stream.outputRead > 0 && stream.outputRead >= stream.output.count / 2 {
            stream.output.removeSubrange(0..<stream.outputRead)
            stream.outputRead = 0
        }
        stream.output.append(contentsOf: bytes)
        resumeIfDeferred(streamID, stream)
    }

    /// No more body for `streamID`: END_STREAM goes out after the buffered bytes.
    public func endResponse(streamID: Int32) {
        guard let stream = streams[streamID], !stream.outputEnded else { return }
        stream.outputEnded = true
        resumeIfDeferred(streamID, stream)
    }

    private func resumeIfDeferred(_ streamID: Int32, _ stream: StreamState) {
        guard stream.deferred else { return }
        stream.deferred = false
        nghttp2_session_resume_data(session, streamID)
    }

    /// Response body bytes of `streamID` not yet framed (0 for a stream that is gone).
    public func bufferedResponseBytes(streamID: Int32) -> Int { streams[streamID]?.bufferedCount ?? 0 }

    /// Sends RST_STREAM for `streamID` (the stream's buffered output is dropped).
    public func resetStream(streamID: Int32, code: UInt32) {
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, code)
    }

    /// Graceful shutdown, step one: a GOAWAY with the highest stream id (no new streams please)
    /// and a PING; when the PING's ACK comes back, the final GOAWAY names the last stream
    /// processed, which still finishes. Safe to call more than once.
    public func beginGracefulShutdown() {
        guard shutdownState == .running, terminationCode == nil else { return }
        shutdownState = .noticeSent
        nghttp2_submit_shutdown_notice(session)
        nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
    }

    /// The final GOAWAY of a graceful shutdown (the PING came back, or the caller stops waiting).
    public func sendFinalGoaway() {
        guard shutdownState != .finalSent, terminationCode == nil else { return }
        shutdownState = .finalSent
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue),
                              nghttp2_session_get_last_proc_stream_id(session), HTTP2ErrorCode.noError, nil, 0)
    }

    /// Ends the connection now: GOAWAY with `code`; open streams are abandoned.
    public func terminate(code: UInt32) {
        guard terminationCode == nil else { return }
        terminationCode = code
        nghttp2_session_terminate_session(session, code)
    }

    // MARK: callbacks (called inside nghttp2_session_mem_recv / mem_send)

    fileprivate func beginHeaders(_ frame: UnsafePointer<nghttp2_frame>) {
        let id = frame.pointee.hd.stream_id
        if frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST, streams[id] == nil {
            streams[id] = StreamState()
        }
    }

    fileprivate func header(_ frame: UnsafePointer<nghttp2_frame>, name: UnsafeBufferPointer<UInt8>,
                            value: UnsafeBufferPointer<UInt8>) {
        let id = frame.pointee.hd.stream_id
        guard let stream = streams[id], !stream.requestHeadSeen, !stream.headersTooLarge else { return }
        stream.headerBytes += name.count + value.count + 32
        if stream.headerBytes > limits.maxHeaderListBytes {
            stream.headersTooLarge = true
            stream.fields = HTTPFields()
            stream.cookies = []
            streamErrors += 1
            return
        }
        let nameString = String(decoding: name, as: UTF8.self)
        let valueString = String(decoding: value, as: UTF8.self)
        switch nameString {
        case ":method": stream.method = valueString
        case ":scheme": stream.scheme = valueString
        case ":authority": stream.authority = valueString
        case ":path": stream.path = valueString
        case "cookie": stream.cookies.append(valueString)
        default:
            if nameString == "content-length" { stream.contentLength = Int(valueString) }
            stream.fields.append(nameString, valueString)
        }
    }

    fileprivate func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) {
        let hd = frame.pointee.hd
        let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch Int(hd.type) {
        case Int(NGHTTP2_HEADERS.rawValue):
            guard let stream = streams[hd.stream_id] else { return }
            if !stream.requestHeadSeen {
                stream.requestHeadSeen = true
                if stream.headersTooLarge {
                    events.append(.headersTooLarge(streamID: hd.stream_id, endStream: endStream))
                    return
                }
                var fields = stream.fields
                if !stream.cookies.isEmpty { fields.append("cookie", stream.cookies.joined(separator: "; ")) }
                stream.fields = HTTPFields()
                let head = HTTP2RequestHead(method: stream.method, scheme: stream.scheme, authority: stream.authority,
                                            path: stream.path, fields: fields, contentLength: stream.contentLength)
                events.append(.requestHead(streamID: hd.stream_id, head, endStream: endStream))
            } else if endStream {
                events.append(.requestEnd(streamID: hd.stream_id)) // trailers: their fields are not forwarded
            }
        case Int(NGHTTP2_DATA.rawValue):
            if endStream, let stream = streams[hd.stream_id], stream.requestHeadSeen {
                events.append(.requestEnd(streamID: hd.stream_id))
            }
        case Int(NGHTTP2_PING.rawValue):
            if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 && shutdownState == .noticeSent { sendFinalGoaway() }
        case Int(NGHTTP2_GOAWAY.rawValue):
            events.append(.goawayReceived(errorCode: frame.pointee.goaway.error_code))
        default:
            break
        }
    }

    fileprivate func dataChunk(streamID: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
        guard let stream = streams[streamID], stream.requestHeadSeen, !stream.headersTooLarge else {
            // Nobody will take these bytes: the connection window reopens at once.
            nghttp2_session_consume_connection(session, bytes.count)
            return
        }
        events.append(.requestBody(streamID: streamID, Array(bytes)))
    }

    fileprivate func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        guard streams.removeValue(forKey: streamID) != nil else { return }
        events.append(.streamClosed(streamID: streamID, errorCode: errorCode))
    }

    fileprivate func frameSent(_ frame: UnsafePointer<nghttp2_frame>) {
        if Int(frame.pointee.hd.type) == Int(NGHTTP2_GOAWAY.rawValue), frame.pointee.goaway.error_code != 0,
           terminationCode == nil {
            terminationCode = frame.pointee.goaway.error_code
        }
    }

    fileprivate func invalidFrame() {
        streamErrors += 1
    }

    fileprivate func readBody(streamID: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                              flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stream = streams[streamID] else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        let n = min(stream.bufferedCount, length)
        if n > 0 {
            stream.output.withUnsafeBytes { source in
                buffer.update(from: source.baseAddress!.advanced(by: stream.outputRead)
                    .assumingMemoryBound(to: UInt8.self), count: n)
            }
            stream.outputRead += n
            if stream.outputRead == stream.output.count {
                stream.output.removeAll(keepingCapacity: stream.output.capacity <= 64 * 1024)
                stream.outputRead = 0
            }
        }
        if stream.bufferedCount == 0 {
            if stream.outputEnded {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            } else if n == 0 {
                stream.deferred = true
                return Int(NGHTTP2_ERR_DEFERRED.rawValue)
            }
        }
        return n
    }
}

// MARK: C trampolines: capture-free, the session from `user_data`.

private func owner(_ userData: UnsafeMutableRawPointer?) -> HTTP2ServerSession {
    Unmanaged<HTTP2ServerSession>.fromOpaque(userData!).takeUnretainedValue()
}

private let onBeginHeaders: nghttp2_on_begin_headers_callback = { _, frame, userData in
    owner(userData).beginHeaders(frame!)
    return 0
}

private let onHeader: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
    owner(userData).header(frame!, name: UnsafeBufferPointer(start: name, count: nameLength),
                           value: UnsafeBufferPointer(start: value, count: valueLength))
    return 0
}

private let onFrameRecv: nghttp2_on_frame_recv_callback = { _, frame, userData in
    owner(userData).frameReceived(frame!)
    return 0
}

private let onDataChunkRecv: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
    owner(userData).dataChunk(streamID: streamID, UnsafeBufferPointer(start: data, count: length))
    return 0
}

private let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
    owner(userData).streamClosed(streamID, errorCode: errorCode)
    return 0
}

private let onFrameSend: nghttp2_on_frame_send_callback = { _, frame, userData in
    owner(userData).frameSent(frame!)
    return 0
}

private let onInvalidFrameRecv: nghttp2_on_invalid_frame_recv_callback = { _, _, _, userData in
    owner(userData).invalidFrame()
    return 0
}

private let readResponseBody: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, userData in
    owner(userData).readBody(streamID: streamID, into: buffer!, length: length, flags: flags!)
}
