import CSSL
import RateLimit

/// The server-side check: one Lua script per request takes a token from each of the route's
/// buckets atomically, as GCRA (the token bucket expressed as one "theoretical arrival time"
/// per key, in microseconds of Redis's own clock).
///
/// Why GCRA and Redis `TIME`: one number per key, and the clock that matters is the Redis
/// server's, so instances need no clock agreement. Each key expires (`PX`) when its bucket
/// would be full again, so an idle client costs Redis nothing and Redis memory is bounded by
/// the clients active within one refill window.
///
/// Semantics match the local table (CONFIG.md): policies in the route's order; the first
/// empty bucket denies and the ones after it are not consulted; tokens taken by earlier
/// policies stay taken.
public enum RedisRateLimitScript {
    /// KEYS: one bucket per policy. ARGV: per key, the emission interval (µs per token) and
    /// the tolerance (burst × interval). Returns 4 integers per policy consulted: allowed
    /// (1/0), whole tokens left, µs until a token is back (denied), µs until full.
    public static let source = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local out = {}
        for i, key in ipairs(KEYS) do
          local interval = tonumber(ARGV[2 * i - 1])
          local tolerance = tonumber(ARGV[2 * i])
          local tat = tonumber(redis.call('GET', key)) or now
          if tat < now then tat = now end
          local newTat = tat + interval
          local allowAt = newTat - tolerance
          if now < allowAt then
            out[#out + 1] = 0
            out[#out + 1] = 0
            out[#out + 1] = math.ceil(allowAt - now)
            out[#out + 1] = math.ceil(tat - now)
            return out
          end
          redis.call('SET', key, string.format('%.17g', newTat), 'PX', math.max(1, math.ceil((newTat - now) / 1000)))
          out[#out + 1] = 1
          out[#out + 1] = math.floor((tolerance - (newTat - now)) / interval + 0.000001)
          out[#out + 1] = 0
          out[#out + 1] = math.ceil(newTat - now)
        end
        return out
        """

    /// The script's SHA-1 in hex, as `EVALSHA` names it.
    public static let sha1: String = {
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        let bytes = Array(source.utf8)
        _ = SHA1(bytes, bytes.count, &digest)
        return hex(digest)
    }()

    /// Prefix of every key errata writes.
    public static let keyPrefix = "errata:rl:"

    /// The Redis key of one bucket: the prefix and the SHA-256 of the policy name and the key
    /// text, so a raw header value (an `Authorization` token) never reaches Redis.
    public static func key(policy: String, keyText: String) -> [UInt8] {
        var input = Array(policy.utf8)
        input.append(0)
        input.append(contentsOf: keyText.utf8)
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = SHA256(input, input.count, &digest)
        var key = Array(keyPrefix.utf8)
        appendHex(digest, to: &key)
        return key
    }

    /// The two ARGV values of `policy`: interval and tolerance in microseconds.
    static func arguments(_ policy: RateLimitPolicy) -> [[UInt8]] {
        let (s, atto) = policy.per.components
        let perMicroseconds = Double(s) * 1_000_000 + Double(atto) / 1_000_000_000_000
        let interval = max(perMicroseconds, 0.001) / Double(max(1, policy.rate))
        return [Array(interval.description.utf8), Array((interval * Double(max(1, policy.burst))).description.utf8)]
    }

    /// `EVALSHA` (or, with `inline`, `EVAL` with the source, which also loads it) for `keys`
    /// with `policyArguments` (each policy's `arguments`, same order, same count as `keys`).
    static func command(keys: [[UInt8]], policyArguments: [[UInt8]], inline: Bool) -> [[UInt8]] {
        var args: [[UInt8]] = [Array((inline ? "EVAL" : "EVALSHA").utf8), Array((inline ? source : sha1).utf8),
                               Array(String(keys.count).utf8)]
        args.reserveCapacity(3 + keys.count + policyArguments.count)
        args.append(contentsOf: keys)
        args.append(contentsOf: policyArguments)
        return args
    }

    /// The decisions in a script reply; nil when the reply is not the script's shape.
    static func decisions(_ reply: RedisReply) -> [TokenBucket.Decision]? {
        guard case .array(let items) = reply, !items.isEmpty, items.count % 4 == 0 else { return nil }
        var out: [TokenBucket.Decision] = []
        var i = 0
        while i < items.count {
            guard case .integer(let allowed) = items[i], case .integer(let left) = items[i + 1],
                  case .integer(let wait) = items[i + 2], case .integer(let full) = items[i + 3] else { return nil }
            let untilFull = Duration.microseconds(max(0, full))
            out.append(allowed == 1 ? .allowed(remaining: Int(max(0, left)), untilFull: untilFull)
                                    : .denied(retryAfter: .microseconds(max(1, wait)), untilFull: untilFull))
            i += 4
        }
        return out
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        appendHex(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        out.reserveCapacity(out.count + bytes.count * 2)
        digits.withUTF8Buffer { d in
            for b in bytes {
                out.append(d[Int(b >> 4)])
                out.append(d[Int(b & 15)])
            }
        }
    }
}
