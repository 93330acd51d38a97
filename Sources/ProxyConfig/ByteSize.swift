/// The size syntax of config.json, given as a string: a non-negative decimal integer followed,
/// with no space, by a unit. Binary units `B`, `KiB`, `MiB`, `GiB` (powers of 1024, as CONFIG.md
/// writes them: `"64KiB"`) and decimal units `KB`/`kB`, `MB`, `GB` (powers of 1000, as SI defines
/// them). A size may also be a JSON integer, in bytes; that form is read by the config reader.
public enum ByteSize {
    /// The size in bytes; nil when `text` is not in the syntax above or the value overflows `Int`.
    public static func parse(_ text: String) -> Int? {
        let utf8 = Array(text.utf8)
        let digits = utf8.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        guard !digits.isEmpty, digits.count <= 18,
              let value = Int(String(decoding: digits, as: UTF8.self)) else { return nil }
        let factor: Int
        switch String(decoding: utf8[digits.count...], as: UTF8.self) {
        case "B": factor = 1
        case "KiB": factor = 1 << 10
        case "MiB": factor = 1 << 20
        case "GiB": factor = 1 << 30
        case "KB", "kB": factor = 1000
        case "MB": factor = 1_000_000
        case "GB": factor = 1_000_000_000
        default: return nil
        }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: factor)
        return overflow ? nil : bytes
    }
}
