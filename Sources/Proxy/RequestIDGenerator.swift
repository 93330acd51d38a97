/// Request ids for requests that arrive without `X-Request-Id`: a random per-worker prefix and
/// a counter, so generating one costs no syscall and no lock (32 hex digits, unique per process
/// run with overwhelming probability across workers and restarts).
///
/// Confined to one worker's queue.
struct RequestIDGenerator {
    private let prefix: String
    private var counter: UInt64 = 0

    init() {
        var rng = SystemRandomNumberGenerator()
        prefix = RequestIDGenerator.hex(rng.next(), width: 16)
        counter = rng.next() >> 16
    }

    mutating func next() -> String {
        counter &+= 1
        return prefix + RequestIDGenerator.hex(counter, width: 16)
    }

    private static func hex(_ value: UInt64, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Whether a client-sent id is safe to keep and log: 1–200 visible ASCII bytes, no quotes or backslashes.
    static func isAcceptable(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard !utf8.isEmpty, utf8.count <= 200 else { return false }
        return utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && $0 != 0x22 && $0 != 0x5c }
    }
}
