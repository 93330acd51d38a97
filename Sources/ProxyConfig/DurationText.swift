/// The duration syntax of config.json: a non-negative decimal integer followed, with no space,
/// by a unit: `ms`, `s`, `m` (minutes) or `h` (`"250ms"`, `"30s"`, `"5m"`, `"1h"`).
/// Fractions (`"1.5s"`) and a bare number are not durations.
public enum DurationText {
    /// nil when `text` is not in the syntax above or does not fit in 64-bit milliseconds.
    public static func parse(_ text: String) -> Duration? {
        let utf8 = Array(text.utf8)
        let digits = utf8.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        guard !digits.isEmpty, digits.count <= 18,
              let value = Int64(String(decoding: digits, as: UTF8.self)) else { return nil }
        let factor: Int64
        switch String(decoding: utf8[digits.count...], as: UTF8.self) {
        case "ms": factor = 1
        case "s": factor = 1000
        case "m": factor = 60_000
        case "h": factor = 3_600_000
        default: return nil
        }
        let (ms, overflow) = value.multipliedReportingOverflow(by: factor)
        return overflow ? nil : .milliseconds(ms)
    }
}
