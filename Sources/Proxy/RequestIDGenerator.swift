/// Request ids for requests that arrive without `X-Request-Id`: a random per-worker prefix and
/// a counter, so generating one costs no syscall and no lock (32 hex digits, unique per process
/// run with overwhelming probability across workers and restarts).
///
/// Confined to one worker's queue.
struct RequestIDGenerator {
    private let prefix: UInt64
    private var counter: UInt64 = 0

    init() {
        var rng = SystemRandomNumberGenerator()
        prefix = rng.next()
        counter = rng.next() >> 16
    }

    mutating func next() -> String {
        counter &+= 1
        // Written in place: one allocation, no intermediate strings (this runs for every request).
        return String(unsafeUninitializedCapacity: 32) { out in
            RequestIDGenerator.writeHex(prefix, to: out, at: 0)
            RequestIDGenerator.writeHex(counter, to: out, at: 16)
            return 32
        }
    }

    /// `value` as 16 lower-case hex digits, zero-padded, at `out[offset..<offset + 16]`.
    private static func writeHex(_ value: UInt64, to out: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        for i in 0..<16 {
            let nibble = UInt8(truncatingIfNeeded: value >> (60 - 4 * UInt64(i))) & 0xf
            out[offset + i] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
        }
    }

    /// Whether a client-sent id is safe to keep and log: 1–200 visible ASCII bytes, no quotes or backslashes.
    static func isAcceptable(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard !utf8.isEmpty, utf8.count <= 200 else { return false }
        return utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && $0 != 0x22 && $0 != 0x5c }
    }
}
