import Dispatch
import EventLoop
import Foundation
import ProxyModel
import RateLimit
import RateLimitRedis
import RedisTestServer
import XCTest

/// The shared store against a real redis-server: hiredis driven by real workers' event loops.
final class RedisRateLimitClientTests: XCTestCase {
    private final class Box<T>: @unchecked Sendable { var value: T?; }

    /// One worker with its client, as one errata instance would have.
    private final class Instance: @unchecked Sendable {
        let worker = Worker(index: 0)
        var client: RedisRateLimitClient!

        init(port: Int, timeout: Duration = .milliseconds(200)) {
            worker.start()
            worker.queue.sync { client = RedisRateLimitClient(worker: worker, host: "127.0.0.1", port: port, timeout: timeout) }
        }

        deinit { worker.queue.sync { client.close() }; worker.stop() }

        /// One check, waited for (the worker's queue does the work; the test thread blocks).
        func take(_ check: RateLimitCheck, headers: HTTPFields = HTTPFields(), peer: String = "192.0.2.1")
            -> Result<[TokenBucket.Decision], RateLimitStoreFailure> {
            let done = DispatchSemaphore(value: 0)
            let box = Box<Result<[TokenBucket.Decision], RateLimitStoreFailure>>()
            // Captures the client, not the instance, so the instance is released on the test's thread.
            let held = Box<RedisRateLimitClient>()
            held.value = client
            worker.queue.async {
                held.value!.take(check, peer: IPAddress(peer), headers: headers, route: "r", trustedProxies: []) { result in
                    box.value = result
                    done.signal()
                }
            }
            XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "no completion within 10 s")
            return box.value ?? .failure(.unavailable)
        }

        /// Takes until the store answers (the first take after a (re)start connects, after a back-off).
        func takeUntilAnswered(_ check: RateLimitCheck, seconds: Double = 10) -> [TokenBucket.Decision]? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if case .success(let d) = take(check) { return d }
                usleep(50_000)
            }
            return nil
        }
    }

    private func check(_ policies: RateLimitPolicy...) -> RateLimitCheck {
        RateLimiter(policies: Dictionary(uniqueKeysWithValues: policies.map { ($0.name, $0) }))
            .check(for: policies.map(\.name))
    }

    func testTwoInstancesDrawFromOneBucket() throws {
        let redis = try RedisTestServer()
        let a = Instance(port: redis.port), b = Instance(port: redis.port)
        let c = check(RateLimitPolicy(name: "g", key: .global, rate: 1, per: .seconds(60), burst: 4))
        XCTAssertEqual(a.takeUntilAnswered(c), [.allowed(remaining: 3, untilFull: .seconds(60))])
        XCTAssertNotNil(b.takeUntilAnswered(c))
        _ = try a.take(c).get()
        let last = try b.take(c).get()
        guard case .allowed(0, _) = last[0] else { return XCTFail("4th take: \(last)") }
        let denied = try a.take(c).get()
        guard case .denied(let wait, let full) = denied[0] else { return XCTFail("5th take: \(denied)") }
        XCTAssertGreaterThan(wait, .seconds(59))
        XCTAssertLessThanOrEqual(wait, .seconds(60))
        XCTAssertGreaterThan(full, .seconds(239))
        XCTAssertEqual(c.outcome(denied).retryAfterSeconds, 60)
    }

    func testTheFirstEmptyPolicyDeniesAndLaterOnesAreNotConsulted() throws {
        let redis = try RedisTestServer()
        let a = Instance(port: redis.port)
        let c = check(RateLimitPolicy(name: "one", key: .global, rate: 1, per: .seconds(60), burst: 1),
                      RateLimitPolicy(name: "two", key: .global, rate: 1, per: .seconds(60), burst: 5))
        XCTAssertEqual(a.takeUntilAnswered(c)?.count, 2)
        let denied = try a.take(c).get()
        XCTAssertEqual(denied.count, 1)
        XCTAssertFalse(denied[0].isAllowed)
        // "two" was taken from once (its key lives 60 s, one token), not twice (120 s).
        let two = String(decoding: RedisRateLimitScript.key(policy: "two", keyText: "g"), as: UTF8.self)
        guard case .integer(let ms) = try redis.command(["PTTL", two]) else { return XCTFail("no TTL on \(two)") }
        XCTAssertGreaterThan(ms, 50_000)
        XCTAssertLessThanOrEqual(ms, 60_000)
    }

    func testKeysAreHashedAndExpireWhenFull() throws {
        let redis = try RedisTestServer()
        let a = Instance(port: redis.port)
        let c = check(RateLimitPolicy(name: "per_key", key: .header("Authorization"), rate: 10, per: .seconds(1), burst: 10))
        var headers = HTTPFields()
        headers.append("Authorization", "Bearer sk_live_secret_4242")
        XCTAssertNotNil(a.takeUntilAnswered(c))
        _ = try a.take(c, headers: headers).get()
        let keys = try redis.keys()
        XCTAssertEqual(keys.count, 2, "one bucket for no header, one for the token: \(keys)")
        for key in keys {
            XCTAssertTrue(key.hasPrefix("errata:rl:"), key)
            XCTAssertEqual(key.count, "errata:rl:".count + 64, key)
            XCTAssertFalse(key.contains("secret") || key.contains("Bearer") || key.contains("4242"), key)
            guard case .bulk(let value?) = try redis.command(["GET", key]) else { return XCTFail("no value at \(key)") }
            XCTAssertFalse(value.contains("secret"), value)
            // A bucket one token short of full is full again 100 ms later: the key expires then.
            guard case .integer(let ttl) = try redis.command(["PTTL", key]) else { return XCTFail("PTTL") }
            XCTAssertGreaterThan(ttl, 0)
            XCTAssertLessThanOrEqual(ttl, 100)
        }
        XCTAssertTrue(waitFor(2) { (try? redis.keys())?.isEmpty == true }, "keys outlive a full bucket")
    }

    /// Redis memory is bounded by the clients active within one refill window, not by every
    /// client ever seen: 20,000 distinct keys (a bucket of 1, refilled in 1 ms) leave almost
    /// nothing behind. (The local table's bound, 200,000 keys, is RateLimitTableTests'.)
    func testManyDistinctKeysLeaveRedisNearlyEmpty() throws {
        let redis = try RedisTestServer()
        let a = Instance(port: redis.port, timeout: .seconds(5))
        let c = check(RateLimitPolicy(name: "k", key: .header("Authorization"), rate: 1000, per: .seconds(1), burst: 1))
        XCTAssertNotNil(a.takeUntilAnswered(c))
        let total = 20_000
        let done = DispatchSemaphore(value: 0)
        let answered = Box<Int>()
        answered.value = 0
        let held = Box<RedisRateLimitClient>()
        held.value = a.client
        a.worker.queue.async {
            var next = 0
            func issue() {
                guard next < total else { return }
                var headers = HTTPFields()
                headers.append("Authorization", "Bearer key-\(next)")
                next += 1
                held.value!.take(c, peer: nil, headers: headers, route: "r", trustedProxies: []) { result in
                    if case .success = result { answered.value! += 1 }
                    if next == total && answered.value! >= total - 100 { done.signal() }
                    issue()
                }
            }
            for _ in 0..<64 { issue() }
        }
        // Under a minute even on a loaded machine with a debug build.
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success, "answered \(a.worker.queue.sync { answered.value! })")
        XCTAssertTrue(waitFor(10) {
            if case .integer(let n) = try? redis.command(["DBSIZE"]) { return n < 100 }
            return false
        }, "keys outlive their buckets")
    }

    func testAFlushedScriptCacheIsReloaded() throws {
        let redis = try RedisTestServer()
        let a = Instance(port: redis.port)
        let c = check(RateLimitPolicy(name: "g", key: .global, rate: 100, per: .seconds(1), burst: 100))
        XCTAssertNotNil(a.takeUntilAnswered(c))
        XCTAssertEqual(try redis.command(["SCRIPT", "FLUSH"]), .status("OK"))
        XCTAssertEqual(try redis.command(["SCRIPT", "EXISTS", RedisRateLimitScript.sha1]), .array([.integer(0)]))
        XCTAssertNoThrow(try a.take(c).get())
        XCTAssertEqual(try redis.command(["SCRIPT", "EXISTS", RedisRateLimitScript.sha1]), .array([.integer(1)]))
    }

    func testAPausedRedisTimesOutAndAKilledOneIsUnavailableUntilItIsBack() throws {
        let redis = try RedisTestServer()
        let a = Instance(port: redis.port, timeout: .milliseconds(100))
        let c = check(RateLimitPolicy(name: "g", key: .global, rate: 100, per: .seconds(1), burst: 100))
        XCTAssertNotNil(a.takeUntilAnswered(c))
        redis.pause()
        XCTAssertEqual(a.take(c), .failure(.timeout))
        redis.resume()
        XCTAssertNotNil(a.takeUntilAnswered(c))
        redis.kill()
        XCTAssertEqual(a.take(c), .failure(.unavailable))
        XCTAssertEqual(a.take(c), .failure(.unavailable))
        try redis.start()
        XCTAssertNotNil(a.takeUntilAnswered(c), "no reconnect after Redis came back")
    }

    func testNoRedisListeningFailsFastAsUnavailable() {
        let a = Instance(port: RedisTestServer.freePort())
        let c = check(RateLimitPolicy(name: "g", key: .global, rate: 1, per: .seconds(1), burst: 1))
        XCTAssertEqual(a.take(c), .failure(.unavailable))
        XCTAssertEqual(a.take(c), .failure(.unavailable))
    }

    private func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
