#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Where `JSONLogHandler` puts finished lines.
public protocol LogLineSink: Sendable {
    /// One complete line, `\n` included; valid only during the call. Called on the thread that
    /// logged.
    func write(line: UnsafeRawBufferPointer)
}

/// A swift-log handler writing one JSON object per line, for journald, files and log shippers:
/// `{"time":"2026-12-04T21:00:00.123Z","level":"info","message":"…",<metadata>}`.
///
/// Metadata keys named in `keyOrder` come first in that order, then the others sorted (the
/// logger's own metadata, then the record's, which wins on a clash). A `.stringConvertible`
/// value that is an integer, a floating-point number, a `Bool` or `JSONLiteral` is written as
/// that JSON value; every other value as a string (dictionaries and arrays as JSON).
/// With `accessLine`, `level` and `message` are left out: the access log's lines are records,
/// not messages.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let sink: any LogLineSink
    private let keyOrder: [String]
    private let accessLine: Bool

    public init(sink: any LogLineSink, level: Logger.Level = .info, keyOrder: [String] = [], accessLine: Bool = false) {
        self.sink = sink
        self.logLevel = level
        self.keyOrder = keyOrder
        self.accessLine = accessLine
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let own = event.metadata { all.merge(own) { $1 } }
        var line = JSONLine()
        line.raw("{\"time\":\"")
        line.raw(JSONLogHandler.timestamp())
        line.raw("\"")
        if !accessLine {
            line.raw(",\"level\":\"")
            line.raw(event.level.rawValue)
            line.raw("\",\"message\":")
            line.string(event.message.description)
        }
        for key in keyOrder {
            guard let value = all.removeValue(forKey: key) else { continue }
            line.field(key, value)
        }
        for key in all.keys.sorted() { line.field(key, all[key]!) }
        line.raw("}\n")
        line.bytes.withUnsafeBytes { sink.write(line: $0) }
    }

    /// Now in UTC with milliseconds (RFC 3339).
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(parts.tm_year + 1900)-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))."
            + "\(pad(Int(ts.tv_nsec) / 1_000_000, 3))Z"
    }
}

/// A metadata value written into the JSON as is (a number, `null`): the caller vouches that
/// `json` is valid JSON.
public struct JSONLiteral: CustomStringConvertible, Sendable {
    public let json: String
    public init(json: String) { self.json = json }
    public static let null = JSONLiteral(json: "null")
    public var description: String { json }
}

/// The bytes of one JSON line being built.
private struct JSONLine {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(384) }

    mutating func raw(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func field(_ key: String, _ value: Logger.Metadata.Value) {
        bytes.append(UInt8(ascii: ","))
        string(key)
        bytes.append(UInt8(ascii: ":"))
        self.value(value)
    }

    mutating func value(_ value: Logger.Metadata.Value) {
        switch value {
        case .string(let s):
            string(s)
        case .stringConvertible(let v):
            switch v {
            case let literal as JSONLiteral: raw(literal.json)
            case let b as Bool: raw(b ? "true" : "false")
            case let n as any BinaryInteger: raw(n.description)
            case let d as Double where d.isFinite: raw(d.description)
            default: string(v.description)
            }
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                self.value(item)
            }
            bytes.append(UInt8(ascii: "]"))
        case .dictionary(let dict):
            bytes.append(UInt8(ascii: "{"))
            for (i, key) in dict.keys.sorted().enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                string(key)
                bytes.append(UInt8(ascii: ":"))
                self.value(dict[key]!)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// A JSON string: `"` and `\` escaped, control bytes as `\u00XX`; other bytes as they are
    /// (Swift strings are valid UTF-8).
    mutating func string(_ s: String) {
        bytes.append(0x22)
        for byte in s.utf8 {
            switch byte {
            case 0x22: bytes += [0x5c, 0x22]
            case 0x5c: bytes += [0x5c, 0x5c]
            case 0x00..<0x20, 0x7f:
                let hex = Array("0123456789abcdef".utf8)
                bytes += [0x5c, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(0x22)
    }
}

/// Lines straight to a file descriptor (stderr for the lifecycle log), one `write(2)` each, so
/// lines from different threads never interleave (a pipe write up to 4 KiB is atomic).
public struct FileDescriptorSink: LogLineSink {
    public let fd: Int32
    public init(fd: Int32) { self.fd = fd }

    public func write(line: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < line.count {
            let n = Glibc.write(fd, line.baseAddress! + offset, line.count - offset)
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}
