/// Formats a duration for messages a person reads ("30 s", "250 ms", "2 min").
public func humanDuration(milliseconds ms: Int) -> String {
    if ms % 60_000 == 0 && ms >= 60_000 { return "\(ms / 60_000) min" }
    if ms % 1000 == 0 { return "\(ms / 1000) s" }
    return "\(ms) ms"
}
