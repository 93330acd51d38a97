import EventLoop
import ProxyModel
import RateLimit

/// Why the shared store gave no decision (a metrics label: `errata_rate_limit_store_total`).
public enum RateLimitStoreFailure: String, Error, Sendable, Equatable {
    /// Not connected, or the connection dropped before the answer.
    case unavailable
    /// No answer within `rate_limit_store.timeout`.
    case timeout
    /// Redis answered with an error or with something that is not the script's answer.
    case error
}

/// One worker's client of the shared rate-limit store: routes' checks run as one pipelined
/// `EVALSHA` each on the worker's `RedisConnection`.
///
/// Confined to its worker's queue. `EVALSHA` answered `NOSCRIPT` (a fresh or flushed Redis)
/// is sent again once as `EVAL`, which loads the script for every later `EVALSHA`.
public final class RedisRateLimitClient {
    public let connection: RedisConnection

    /// Call on `worker`'s queue. `host`: numeric (see `RedisConnection`).
    public init(worker: Worker, host: String, port: Int, timeout: Duration) {
        connection = RedisConnection(worker: worker, host: host, port: port, timeout: timeout)
    }

    /// Takes one token from each of `check`'s buckets in Redis; `completion` runs once on the
    /// worker's queue with one decision per policy consulted (render them with
    /// `check.outcome(_:)`), or the failure. It may run before this returns.
    public func take(_ check: RateLimitCheck, peer: IPAddress?, headers: HTTPFields, route: String,
                     trustedProxies: [AddressRange],
                     completion: @escaping (Result<[TokenBucket.Decision], RateLimitStoreFailure>) -> Void) {
        let policies = check.policies
        var keys: [[UInt8]] = []
        var policyArguments: [[UInt8]] = []
        keys.reserveCapacity(policies.count)
        policyArguments.reserveCapacity(policies.count * 2)
        for p in policies {
            keys.append(RedisRateLimitScript.key(policy: p.name, keyText: RateLimitKey.sharedText(
                policy: p.key, peer: peer, headers: headers, route: route, trustedProxies: trustedProxies)))
            policyArguments.append(contentsOf: arguments(p))
        }
        run(RedisRateLimitScript.command(keys: keys, policyArguments: policyArguments, inline: false),
            completion: completion) { [self] in
            run(RedisRateLimitScript.command(keys: keys, policyArguments: policyArguments, inline: true),
                completion: completion, onNoScript: nil)
        }
    }

    /// Each policy's script arguments, rendered once (by name; a reload that redefines the
    /// name renders them again).
    private var argumentCache: [String: (policy: RateLimitPolicy, arguments: [[UInt8]])] = [:]

    private func arguments(_ policy: RateLimitPolicy) -> [[UInt8]] {
        if let cached = argumentCache[policy.name], cached.policy == policy { return cached.arguments }
        let rendered = RedisRateLimitScript.arguments(policy)
        argumentCache[policy.name] = (policy, rendered)
        return rendered
    }

    private func run(_ command: [[UInt8]], completion: @escaping (Result<[TokenBucket.Decision], RateLimitStoreFailure>) -> Void,
                     onNoScript: (() -> Void)?) {
        connection.send(command) { result in
            switch result {
            case .failure(let failure):
                completion(.failure(failure == .timeout ? .timeout : .unavailable))
            case .success(.error(let message)) where message.hasPrefix("NOSCRIPT") && onNoScript != nil:
                onNoScript!()
            case .success(let reply):
                if let decisions = RedisRateLimitScript.decisions(reply) {
                    completion(.success(decisions))
                } else {
                    completion(.failure(.error))
                }
            }
        }
    }

    /// Closes the connection (the store's config changed or the worker stops).
    public func close() { connection.close() }
}
