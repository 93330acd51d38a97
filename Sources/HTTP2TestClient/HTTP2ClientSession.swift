import CNGHTTP2
#if canImport(Glibc)
import Glibc
#endif

/// A response as an HTTP/2 test client saw it.
public struct HTTP2Response: Sendable {
    public var status = 0
    public var headers: [(String, String)] = []
    public var body: [UInt8] = []
    /// END_STREAM was received.
    public var complete = false
    /// The RST_STREAM code, when the stream was reset (by either side).
    public var resetCode: UInt32?
    /// The stream is closed (complete or reset).
    public var closed = false

    public func header(_ name: String) -> String? {
        headers.first { $0.0 == name.lowercased() }?.1
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// libnghttp2's CLIENT session driven with bytes alone (a library only the tests use, written
/// apart from the server under test). `output()` gives what to send, `receive` takes what came back.
/// Used from one test thread.
public final class HTTP2ClientSession {
    private var session: OpaquePointer!
    public private(set) var responses: [Int32: HTTP2Response] = [:]
    /// The last GOAWAY received.
    public private(set) var goaway: (errorCode: UInt32, lastStreamID: Int32)?
    /// GOAWAY frames received, in order.
    public private(set) var goawayCount = 0
    /// SETTINGS the server sent, by id.
    public private(set) var serverSettings: [Int32: UInt32] = [:]
    /// The first fatal error `receive` met (a nghttp2 error code).
    public private(set) var receiveError: Int?
    /// Request bodies still to send, by stream (read by the data provider).
    private var bodies: [Int32: (bytes: [UInt8], offset: Int)] = [:]
    private let autoWindowUpdate: Bool

    /// `settings`: the client's SETTINGS (id, value). `autoWindowUpdate` false: the client never
    /// opens its receive windows (a zero-window client when `settings` sets INITIAL_WINDOW_SIZE 0).
    /// `maxSendHeaderBlock`: the largest header list (uncompressed estimate) the client sends
    /// (libnghttp2 refuses above 64 KB by default; an HPACK bomb needs more).
    public init(settings: [(Int32, UInt32)] = [], autoWindowUpdate: Bool = true, maxSendHeaderBlock: Int? = nil) {
        self.autoWindowUpdate = autoWindowUpdate
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, clientOnHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, clientOnFrameRecv)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, clientOnData)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, clientOnStreamClose)
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        if !autoWindowUpdate { nghttp2_option_set_no_auto_window_update(option, 1) }
        if let maxSendHeaderBlock { nghttp2_option_set_max_send_header_block_length(option, maxSendHeaderBlock) }
        var created: OpaquePointer?
        nghttp2_session_client_new2(&created, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        nghttp2_option_del(option)
        nghttp2_session_callbacks_del(callbacks)
        session = created
        var entries = settings.map { nghttp2_settings_entry(settings_id: $0.0, value: $0.1) }
        nghttp2_submit_settings(session, 0, &entries, entries.count)
    }

    deinit { nghttp2_session_del(session) }

    /// Submits a request; `body` nil sends END_STREAM with the headers. Returns the stream id.
    @discardableResult
    public func submitRequest(method: String = "GET", path: String, authority: String = "localhost",
                              scheme: String = "http", headers: [(String, String)] = [], body: [UInt8]? = nil) -> Int32 {
        let fields = [(":method", method), (":scheme", scheme), (":authority", authority), (":path", path)]
            + headers.map { ($0.0.lowercased(), $0.1) }
        // Every name and value in one buffer, alive for the submit call (which copies them).
        var bytes: [UInt8] = []
        for (name, value) in fields { bytes += Array(name.utf8) + Array(value.utf8) }
        let id: Int32 = bytes.withUnsafeMutableBufferPointer { buffer in
            var nva: [nghttp2_nv] = []
            var next = buffer.baseAddress!
            for (name, value) in fields {
                let nameLength = name.utf8.count, valueLength = value.utf8.count
                nva.append(nghttp2_nv(name: next, value: next + nameLength, namelen: nameLength,
                                      valuelen: valueLength, flags: 0))
                next += nameLength + valueLength
            }
            if body == nil {
                return nghttp2_submit_request(session, nil, &nva, nva.count, nil, nil)
            }
            var provider = nghttp2_data_provider()
            provider.read_callback = clientReadBody
            return nghttp2_submit_request(session, nil, &nva, nva.count, &provider, nil)
        }
        precondition(id > 0, "nghttp2_submit_request failed: \(id)")
        if let body { bodies[id] = (body, 0) }
        responses[id] = HTTP2Response()
        return id
    }

    /// Sends RST_STREAM for `streamID`.
    public func resetStream(_ streamID: Int32, code: UInt32 = 0x8) {
        nghttp2_submit_rst_stream(session, 0, streamID, code)
    }

    /// Sends a PING.
    public func ping() { nghttp2_submit_ping(session, 0, nil) }

    /// Everything the session has to send now.
    public func output() -> [UInt8] {
        var out: [UInt8] = []
        while true {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            if n <= 0 { break }
            out.append(contentsOf: UnsafeBufferPointer(start: data, count: n))
        }
        return out
    }

    /// Feeds bytes from the server; false after a fatal error.
    @discardableResult
    public func receive(_ bytes: [UInt8]) -> Bool {
        guard receiveError == nil else { return false }
        let n = bytes.withUnsafeBufferPointer { nghttp2_session_mem_recv(session, $0.baseAddress, $0.count) }
        if n < 0 { receiveError = n; return false }
        return true
    }

    /// Opens the receive window of `streamID` (and the connection's) by `count` bytes (only when
    /// `autoWindowUpdate` is off).
    public func consume(streamID: Int32, count: Int) {
        nghttp2_session_consume(session, streamID, count)
    }

    /// Whether nghttp2 still has something to send.
    public var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }

    public func response(_ streamID: Int32) -> HTTP2Response? { responses[streamID] }

    // MARK: callbacks

    fileprivate func header(_ frame: UnsafePointer<nghttp2_frame>, _ name: String, _ value: String) {
        let id = frame.pointee.hd.stream_id
        if name == ":status" {
            let status = Int(value) ?? 0
            if status >= 200 { responses[id, default: HTTP2Response()].status = status }
            return
        }
        responses[id, default: HTTP2Response()].headers.append((name, value))
    }

    fileprivate func frame(_ frame: UnsafePointer<nghttp2_frame>) {
        let hd = frame.pointee.hd
        switch UInt32(hd.type) {
        case NGHTTP2_GOAWAY.rawValue:
            goaway = (frame.pointee.goaway.error_code, frame.pointee.goaway.last_stream_id)
            goawayCount += 1
        case NGHTTP2_SETTINGS.rawValue where hd.flags & 1 == 0:
            let settings = frame.pointee.settings
            for i in 0..<settings.niv { serverSettings[settings.iv[i].settings_id] = settings.iv[i].value }
        case NGHTTP2_HEADERS.rawValue, NGHTTP2_DATA.rawValue:
            if hd.flags & 1 != 0 { responses[hd.stream_id]?.complete = true }
        case NGHTTP2_RST_STREAM.rawValue:
            responses[hd.stream_id]?.resetCode = frame.pointee.rst_stream.error_code
        default:
            break
        }
    }

    fileprivate func data(_ streamID: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
        responses[streamID, default: HTTP2Response()].body.append(contentsOf: bytes)
    }

    fileprivate func closed(_ streamID: Int32, code: UInt32) {
        responses[streamID, default: HTTP2Response()].closed = true
        if code != 0 && responses[streamID]?.resetCode == nil { responses[streamID]?.resetCode = code }
        bodies[streamID] = nil
    }

    fileprivate func readBody(_ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ length: Int,
                              _ flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let entry = bodies[streamID] else { flags.pointee |= 1; return 0 }
        let n = min(length, entry.bytes.count - entry.offset)
        entry.bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + entry.offset, count: n) }
        bodies[streamID]!.offset += n
        if entry.offset + n == entry.bytes.count { flags.pointee |= 1 }
        return n
    }
}

private func client(_ userData: UnsafeMutableRawPointer?) -> HTTP2ClientSession {
    Unmanaged<HTTP2ClientSession>.fromOpaque(userData!).takeUnretainedValue()
}

private let clientOnHeader: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
    client(userData).header(frame!, String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self),
                            String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self))
    return 0
}

private let clientOnFrameRecv: nghttp2_on_frame_recv_callback = { _, frame, userData in
    client(userData).frame(frame!)
    return 0
}

private let clientOnData: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
    client(userData).data(streamID, UnsafeBufferPointer(start: data, count: length))
    return 0
}

private let clientOnStreamClose: nghttp2_on_stream_close_callback = { _, streamID, code, userData in
    client(userData).closed(streamID, code: code)
    return 0
}

private let clientReadBody: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, userData in
    client(userData).readBody(streamID, buffer!, length, flags!)
}
