import ProxyModel

/// The head a parse call completed.
enum HTTP1CompletedHead: Sendable {
    case request(RequestHead)
    case response(ResponseHead)
}

/// The role-neutral event of `HTTP1MessageParser`.
enum HTTP1CoreEvent: Sendable {
    case head(HTTP1CompletedHead)
    case body(Range<Int>)
    case end
}

/// The incremental HTTP/1.1 message parser shared by the request and response parsers.
///
/// Heads are not consumed until complete: the caller passes the same head bytes again with more
/// appended, and scanning resumes where it stopped (`scan`), each line parsed once. Chunk
/// framing and trailers are consumed as they are read, byte by byte, so nothing is rescanned.
struct HTTP1MessageParser: Sendable {
    enum Role: Sendable { case request, response }

    private enum Phase: Sendable {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case endPending
    }

    private enum ChunkSizeState: Sendable { case digits, whitespace, extensions, lineFeed, done }
    private enum TrailerState: Sendable { case lineStart, name, value, lineFeed(emptyLine: Bool) }

    /// The longest chunk extension accepted (they are ignored).
    static let maxChunkExtensionBytes = 4096

    let role: Role
    let limits: HTTP1Limits

    private var phase: Phase = .head

    // Head scanning, positions relative to the first byte of the head.
    private var scan = 0
    private var lineStart = 0
    private var lineNumber = 0
    private var firstSpace = -1
    private var secondSpace = -1

    // The head being read.
    private var method = ""
    private var target = ""
    private var status = 0
    private var reason = ""
    private var version = HTTPVersion.http1_1
    private var fields = HTTPFields()
    private var contentLength: Int?
    private var sawTransferEncoding = false
    private var codings: [String] = []
    private var hostCount = 0
    private var connectionClose = false
    private var connectionKeepAlive = false
    private var expectContinue = false

    // Chunked body.
    private var chunkSizeState = ChunkSizeState.digits
    private var chunkSize = 0
    private var chunkDigits = 0
    private var chunkExtensionBytes = 0
    private var sawChunkCR = false
    private var trailerState = TrailerState.lineStart
    private var trailerBytes = 0

    // Response context.
    /// The response being read answers a HEAD request.
    var answersHead = false
    private var interim = false

    // Description of the current message, valid after its head.
    private(set) var framing = BodyFraming.none
    private(set) var keepAlive = true
    private(set) var expectsContinue = false

    init(role: Role, limits: HTTP1Limits) {
        self.role = role
        self.limits = limits
    }

    /// The upstream closed: true (and the message is complete) when the body was
    /// close-delimited, or already complete with only `.end` left to deliver.
    mutating func finishAtClose() -> Bool {
        switch phase {
        case .untilClose, .endPending:
            finishMessage()
            return true
        default:
            return false
        }
    }

    private func error(_ kind: ProxyError.Kind, _ reason: String) -> HTTP1Error {
        HTTP1Error(kind: role == .request ? kind : .upstreamProtocolError, reason: reason)
    }

    private func malformed(_ reason: String) -> HTTP1Error { error(.malformedRequest, reason) }

    mutating func parse(_ buffer: UnsafeRawBufferPointer) throws(HTTP1Error) -> (consumed: Int, event: HTTP1CoreEvent?) {
        switch phase {
        case .head:
            return try parseHead(buffer)
        case .fixedBody(let remaining):
            let available = min(remaining, buffer.count)
            if available == 0 { return (0, nil) }
            phase = available == remaining ? .endPending : .fixedBody(remaining: remaining - available)
            return (available, .body(0..<available))
        case .untilClose:
            if buffer.isEmpty { return (0, nil) }
            return (buffer.count, .body(0..<buffer.count))
        case .endPending:
            finishMessage()
            return (0, .end)
        case .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            return try parseChunked(buffer)
        }
    }

    // MARK: Head

    private mutating func parseHead(_ buffer: UnsafeRawBufferPointer) throws(HTTP1Error) -> (consumed: Int, event: HTTP1CoreEvent?) {
        var base = 0
        if scan == 0 && role == .request {
            // RFC 9112 §2.2: empty lines before a request line are ignored.
            while base + 1 < buffer.count && buffer[base] == cr && buffer[base + 1] == lf { base += 2 }
        }
        let head = UnsafeRawBufferPointer(rebasing: buffer[base...])
        let n = head.count
        var i = scan
        while i < n {
            let b = head[i]
            if b == cr {
                if i + 1 == n { break }
                guard head[i + 1] == lf else { throw malformed("bare CR in the head") }
                if i == lineStart {
                    guard lineNumber > 0 else { throw malformed("empty start line") }
                    let total = i + 2
                    if total > limits.headerBytes {
                        throw error(.headerFieldsTooLarge, "head of \(total) bytes exceeds \(limits.headerBytes)")
                    }
                    let completed = try finishHead()
                    return (base + total, .head(completed))
                }
                if lineNumber == 0 {
                    try parseStartLine(head, lineStart..<i)
                } else {
                    try parseFieldLine(head, lineStart..<i)
                }
                lineNumber += 1
                i += 2
                lineStart = i
                continue
            }
            if b == lf { throw malformed("bare LF in the head") }
            if b == sp && lineNumber == 0 {
                if firstSpace < 0 { firstSpace = i } else if secondSpace < 0 { secondSpace = i }
            }
            i += 1
        }
        scan = i
        if role == .request && lineNumber == 0 && firstSpace >= 0 && secondSpace < 0
            && scan - firstSpace - 1 > limits.uriBytes {
            throw error(.uriTooLong, "request target exceeds \(limits.uriBytes) bytes")
        }
        if n > limits.headerBytes {
            throw error(.headerFieldsTooLarge, "head exceeds \(limits.headerBytes) bytes")
        }
        return (base, nil)
    }

    private mutating func parseStartLine(_ head: UnsafeRawBufferPointer, _ line: Range<Int>) throws(HTTP1Error) {
        switch role {
        case .request: try parseRequestLine(head, line)
        case .response: try parseStatusLine(head, line)
        }
    }

    private mutating func parseRequestLine(_ head: UnsafeRawBufferPointer, _ line: Range<Int>) throws(HTTP1Error) {
        guard firstSpace >= 0 else { throw malformed("request line without spaces") }
        let targetEnd = secondSpace >= 0 ? secondSpace : line.upperBound
        if targetEnd - firstSpace - 1 > limits.uriBytes {
            throw error(.uriTooLong, "request target exceeds \(limits.uriBytes) bytes")
        }
        guard secondSpace >= 0 else { throw malformed("request line without a version") }
        guard firstSpace > line.lowerBound else { throw malformed("empty method") }
        for j in line.lowerBound..<firstSpace where !isTokenByte(head[j]) {
            throw malformed("method is not a token")
        }
        guard targetEnd > firstSpace + 1 else { throw malformed("empty request target") }
        for j in (firstSpace + 1)..<targetEnd {
            let b = head[j]
            if b <= sp || b == del { throw malformed("control byte in the request target") }
        }
        method = string(head, line.lowerBound..<firstSpace)
        target = string(head, (firstSpace + 1)..<targetEnd)
        version = try parseVersion(head, (secondSpace + 1)..<line.upperBound)
    }

    private mutating func parseStatusLine(_ head: UnsafeRawBufferPointer, _ line: Range<Int>) throws(HTTP1Error) {
        let start = line.lowerBound
        guard line.count >= 12, head[start + 8] == sp else { throw malformed("invalid status line") }
        version = try parseVersion(head, start..<(start + 8))
        var code = 0
        for j in (start + 9)..<(start + 12) {
            let b = head[j]
            guard b >= zero && b <= nine else { throw malformed("invalid status code") }
            code = code * 10 + Int(b - zero)
        }
        guard code >= 100 && code <= 599 else { throw malformed("status code \(code) out of range") }
        status = code
        reason = ""
        if line.count > 12 {
            guard head[start + 12] == sp else { throw malformed("invalid status line") }
            for j in (start + 13)..<line.upperBound {
                let b = head[j]
                if (b < sp && b != ht) || b == del { throw malformed("control byte in the reason phrase") }
            }
            reason = string(head, (start + 13)..<line.upperBound)
        }
    }

    /// `HTTP/1.0` and `HTTP/1.1`; other well-formed versions are 505, anything else 400.
    private func parseVersion(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) throws(HTTP1Error) -> HTTPVersion {
        let s = range.lowerBound
        let prefix: [UInt8] = [0x48, 0x54, 0x54, 0x50, 0x2F]  // "HTTP/"
        guard range.count == 8 || range.count == 6 else { throw malformed("invalid HTTP version") }
        for k in 0..<5 where head[s + k] != prefix[k] { throw malformed("invalid HTTP version") }
        let major = head[s + 5]
        guard major >= zero && major <= nine else { throw malformed("invalid HTTP version") }
        if range.count == 6 {
            guard major != one else { throw malformed("invalid HTTP version") }
            throw error(.versionNotSupported, "HTTP/\(major - zero) is not supported over HTTP/1.1")
        }
        let minor = head[s + 7]
        guard head[s + 6] == dot, minor >= zero && minor <= nine else { throw malformed("invalid HTTP version") }
        guard major == one && minor <= one else {
            throw error(.versionNotSupported, "HTTP/\(major - zero).\(minor - zero) is not supported")
        }
        return minor == one ? .http1_1 : .http1_0
    }

    private mutating func parseFieldLine(_ head: UnsafeRawBufferPointer, _ line: Range<Int>) throws(HTTP1Error) {
        let first = head[line.lowerBound]
        if first == sp || first == ht { throw malformed("obsolete line folding") }
        var colon = line.lowerBound
        while colon < line.upperBound && isTokenByte(head[colon]) { colon += 1 }
        guard colon < line.upperBound, head[colon] == colonByte else {
            if colon < line.upperBound && (head[colon] == sp || head[colon] == ht) {
                throw malformed("whitespace before the colon of a field")
            }
            throw malformed("field name is not a token")
        }
        guard colon > line.lowerBound else { throw malformed("empty field name") }
        var valueStart = colon + 1
        var valueEnd = line.upperBound
        while valueStart < valueEnd && (head[valueStart] == sp || head[valueStart] == ht) { valueStart += 1 }
        while valueEnd > valueStart && (head[valueEnd - 1] == sp || head[valueEnd - 1] == ht) { valueEnd -= 1 }
        for j in valueStart..<valueEnd {
            let b = head[j]
            if (b < sp && b != ht) || b == del { throw malformed("control byte in a field value") }
        }
        let nameRange = line.lowerBound..<colon
        let value = string(head, valueStart..<valueEnd)
        switch knownField(head, nameRange) {
        case .contentLength: try noteContentLength(head, valueStart..<valueEnd)
        case .transferEncoding:
            sawTransferEncoding = true
            for member in HTTPFields.listMembers(value) { codings.append(member.lowercased()) }
        case .host: hostCount += 1
        case .connection:
            for member in HTTPFields.listMembers(value) {
                let m = String(member)
                if HTTPFields.equalsIgnoringCase(m, "close") { connectionClose = true }
                if HTTPFields.equalsIgnoringCase(m, "keep-alive") { connectionKeepAlive = true }
            }
        case .expect:
            if HTTPFields.equalsIgnoringCase(value, "100-continue") { expectContinue = true }
        case nil: break
        }
        // One allocation per head instead of the 1, 2, 4, 8… growth of appending.
        if fields.entries.isEmpty { fields.entries.reserveCapacity(16) }
        fields.append(string(head, nameRange), value)
    }

    /// A comma-separated list of identical decimal lengths (`5, 5` is 5).
    private mutating func noteContentLength(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) throws(HTTP1Error) {
        var j = range.lowerBound
        var members = 0
        while j < range.upperBound {
            while j < range.upperBound && (head[j] == sp || head[j] == ht) { j += 1 }
            if j < range.upperBound && head[j] == comma { j += 1; continue }
            var value = 0
            var digits = 0
            while j < range.upperBound, head[j] >= zero && head[j] <= nine {
                digits += 1
                guard digits <= 18 else { throw malformed("Content-Length too large") }
                value = value * 10 + Int(head[j] - zero)
                j += 1
            }
            guard digits > 0 else { throw malformed("malformed Content-Length") }
            while j < range.upperBound && (head[j] == sp || head[j] == ht) { j += 1 }
            guard j == range.upperBound || head[j] == comma else { throw malformed("malformed Content-Length") }
            if let previous = contentLength, previous != value { throw malformed("differing Content-Length values") }
            contentLength = value
            members += 1
        }
        guard members > 0 else { throw malformed("empty Content-Length") }
    }

    /// Decides framing and persistence, then resets the head state for the next message.
    private mutating func finishHead() throws(HTTP1Error) -> HTTP1CompletedHead {
        if role == .request {
            if version == .http1_1 && hostCount == 0 { throw malformed("HTTP/1.1 request without Host") }
            if hostCount > 1 { throw malformed("more than one Host field") }
        }
        if sawTransferEncoding {
            if role == .request && version == .http1_0 { throw malformed("Transfer-Encoding in an HTTP/1.0 request") }
            if contentLength != nil { throw malformed("both Content-Length and Transfer-Encoding") }
            guard let last = codings.last, last == "chunked" else {
                throw malformed("Transfer-Encoding does not end with chunked")
            }
            if codings.count(where: { $0 == "chunked" }) > 1 { throw malformed("chunked applied twice") }
            if codings.count > 1 {
                throw error(.notImplemented, "transfer coding \(codings.dropLast().joined(separator: ", ")) not implemented")
            }
            framing = .chunked
        } else if let contentLength {
            framing = .contentLength(contentLength)
        } else {
            framing = role == .request ? .none : .untilClose
        }
        keepAlive = version == .http1_1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        expectsContinue = expectContinue

        let completed: HTTP1CompletedHead
        switch role {
        case .request:
            completed = .request(RequestHead(method: method, target: target, version: version, fields: fields))
        case .response:
            interim = status < 200
            if interim || status == 204 || status == 304 || answersHead { framing = .none }
            if framing == .untilClose { keepAlive = false }
            completed = .response(ResponseHead(status: status, reason: reason, version: version, fields: fields))
        }
        switch framing {
        case .none, .contentLength(0): phase = .endPending
        case .contentLength(let n): phase = .fixedBody(remaining: n)
        case .chunked:
            phase = .chunkSize
            resetChunkSize()
        case .untilClose: phase = .untilClose
        }
        resetHeadState()
        return completed
    }

    private mutating func resetHeadState() {
        scan = 0
        lineStart = 0
        lineNumber = 0
        firstSpace = -1
        secondSpace = -1
        method = ""
        target = ""
        reason = ""
        fields = HTTPFields()
        contentLength = nil
        sawTransferEncoding = false
        codings = []
        hostCount = 0
        connectionClose = false
        connectionKeepAlive = false
        expectContinue = false
    }

    private mutating func finishMessage() {
        phase = .head
        if role == .response && !interim { answersHead = false }
        interim = false
    }

    // MARK: Chunked

    private mutating func resetChunkSize() {
        chunkSizeState = .digits
        chunkSize = 0
        chunkDigits = 0
        chunkExtensionBytes = 0
    }

    private mutating func parseChunked(_ buffer: UnsafeRawBufferPointer) throws(HTTP1Error) -> (consumed: Int, event: HTTP1CoreEvent?) {
        let n = buffer.count
        var i = 0
        while true {
            switch phase {
            case .chunkSize:
                while i < n {
                    let b = buffer[i]
                    i += 1
                    if try chunkSizeByte(b) { break }
                }
                guard chunkSizeState == .done else { return (i, nil) }
                if chunkSize == 0 {
                    phase = .trailers
                    trailerState = .lineStart
                    trailerBytes = 0
                } else {
                    phase = .chunkData(remaining: chunkSize)
                }
            case .chunkData(let remaining):
                if i == n { return (i, nil) }
                let available = min(remaining, n - i)
                if available == remaining {
                    phase = .chunkDataEnd
                    sawChunkCR = false
                } else {
                    phase = .chunkData(remaining: remaining - available)
                }
                return (i + available, .body(i..<(i + available)))
            case .chunkDataEnd:
                while i < n {
                    let b = buffer[i]
                    i += 1
                    if !sawChunkCR {
                        guard b == cr else { throw malformed("chunk data not followed by CRLF") }
                        sawChunkCR = true
                    } else {
                        guard b == lf else { throw malformed("chunk data not followed by CRLF") }
                        phase = .chunkSize
                        resetChunkSize()
                        break
                    }
                }
                if case .chunkDataEnd = phase { return (i, nil) }
            case .trailers:
                while i < n {
                    let b = buffer[i]
                    i += 1
                    if try trailerByte(b) {
                        finishMessage()
                        return (i, .end)
                    }
                }
                return (i, nil)
            default:
                return (i, nil)
            }
        }
    }

    /// Feeds one byte of a chunk-size line; true when the line ended (state is `.done`).
    private mutating func chunkSizeByte(_ b: UInt8) throws(HTTP1Error) -> Bool {
        switch chunkSizeState {
        case .digits:
            if let v = hexValue(b) {
                chunkDigits += 1
                guard chunkDigits <= 15 else { throw malformed("chunk size too large") }
                chunkSize = chunkSize << 4 | v
                return false
            }
            guard chunkDigits > 0 else { throw malformed("invalid chunk size") }
            switch b {
            case semicolon: chunkSizeState = .extensions
            case sp, ht: chunkSizeState = .whitespace
            case cr: chunkSizeState = .lineFeed
            default: throw malformed("invalid chunk size")
            }
        case .whitespace:
            try countExtensionByte()
            switch b {
            case sp, ht: break
            case semicolon: chunkSizeState = .extensions
            default: throw malformed("invalid chunk size line")
            }
        case .extensions:
            if b == cr {
                chunkSizeState = .lineFeed
                return false
            }
            try countExtensionByte()
            if (b < sp && b != ht) || b == del { throw malformed("control byte in a chunk extension") }
        case .lineFeed:
            guard b == lf else { throw malformed("chunk size line not ended by CRLF") }
            chunkSizeState = .done
            return true
        case .done:
            break
        }
        return false
    }

    private mutating func countExtensionByte() throws(HTTP1Error) {
        chunkExtensionBytes += 1
        if chunkExtensionBytes > HTTP1MessageParser.maxChunkExtensionBytes {
            throw malformed("chunk extension too long")
        }
    }

    /// Feeds one byte of the trailer section; true when its final empty line ended.
    private mutating func trailerByte(_ b: UInt8) throws(HTTP1Error) -> Bool {
        trailerBytes += 1
        if trailerBytes > limits.headerBytes {
            throw error(.headerFieldsTooLarge, "trailers exceed \(limits.headerBytes) bytes")
        }
        switch trailerState {
        case .lineStart:
            if b == cr { trailerState = .lineFeed(emptyLine: true) } else if isTokenByte(b) { trailerState = .name } else {
                throw malformed("invalid trailer field")
            }
        case .name:
            if b == colonByte { trailerState = .value } else if !isTokenByte(b) { throw malformed("invalid trailer field name") }
        case .value:
            if b == cr { trailerState = .lineFeed(emptyLine: false) } else if (b < sp && b != ht) || b == del {
                throw malformed("control byte in a trailer field")
            }
        case .lineFeed(let emptyLine):
            guard b == lf else { throw malformed("bare CR in the trailers") }
            if emptyLine { return true }
            trailerState = .lineStart
        }
        return false
    }

    // MARK: Bytes

    private enum KnownField { case contentLength, transferEncoding, host, connection, expect }

    private func knownField(_ head: UnsafeRawBufferPointer, _ name: Range<Int>) -> KnownField? {
        switch name.count {
        case 4: return equalsLowercase(head, name, "host") ? .host : nil
        case 6: return equalsLowercase(head, name, "expect") ? .expect : nil
        case 10: return equalsLowercase(head, name, "connection") ? .connection : nil
        case 14: return equalsLowercase(head, name, "content-length") ? .contentLength : nil
        case 17: return equalsLowercase(head, name, "transfer-encoding") ? .transferEncoding : nil
        default: return nil
        }
    }

    /// Whether the bytes in `range` (as long as `name`) spell the lower-case ASCII `name`,
    /// ignoring the case of letters.
    private func equalsLowercase(_ head: UnsafeRawBufferPointer, _ range: Range<Int>, _ name: StaticString) -> Bool {
        let p = name.utf8Start
        var k = 0
        for j in range {
            let expected = p[k]
            let b = head[j]
            if b != expected && (b | 0x20 != expected || expected < 0x61 || expected > 0x7A) { return false }
            k += 1
        }
        return true
    }

    private func string(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: head[range]), as: UTF8.self)
    }
}

let cr: UInt8 = 0x0D
let lf: UInt8 = 0x0A
let sp: UInt8 = 0x20
let ht: UInt8 = 0x09
let del: UInt8 = 0x7F
let zero: UInt8 = 0x30
let one: UInt8 = 0x31
let nine: UInt8 = 0x39
let dot: UInt8 = 0x2E
let comma: UInt8 = 0x2C
let colonByte: UInt8 = 0x3A
let semicolon: UInt8 = 0x3B

/// RFC 9110 tchar: `!#$%&'*+-.^_`|~`, digits, letters.
@inline(__always)
func isTokenByte(_ b: UInt8) -> Bool {
    switch b {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
    case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
    default: return false
    }
}

@inline(__always)
func hexValue(_ b: UInt8) -> Int? {
    switch b {
    case 0x30...0x39: return Int(b - 0x30)
    case 0x41...0x46: return Int(b - 0x41 + 10)
    case 0x61...0x66: return Int(b - 0x61 + 10)
    default: return nil
    }
}
