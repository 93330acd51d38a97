// RateLimitBench: the cost of rate limiting. Usage, from the repository root:
//   swift run -c release RateLimitBench [RUNS]
//     ns and allocations per local check (RateLimitCheck.check, what Exchange calls), for a
//     `global` policy and a `header:Authorization` one, on a 9-field request head; median of
//     RUNS (default 9) runs of ~20 ms. Uncontended: one thread. The clock read is included.
//   swift run -c release RateLimitBench redis PORT [SECONDS] [WORKERS] [IN_FLIGHT]
//     shared-store checks per second against redis-server on 127.0.0.1:PORT: WORKERS event-loop
//     workers (default 1), each with its own connection and IN_FLIGHT checks outstanding
//     (default 64, pipelined), header-keyed over 10,000 distinct keys, for SECONDS (default 3).
import BenchSupport
import Dispatch
import EventLoop
import Foundation
import ProxyModel
import RateLimit
import RateLimitRedis

nonisolated(unsafe) var sink = 0

func requestHead(authorization: String) -> HTTPFields {
    var fields = HTTPFields()
    for (name, value) in [("Host", "api.example.com"), ("User-Agent", "curl/8.5.0"), ("Accept", "application/json"),
                          ("Accept-Encoding", "gzip, br"), ("Content-Type", "application/json"),
                          ("X-Request-Id", "7b1f0c2a9d4e4b8f"), ("Authorization", authorization),
                          ("Content-Length", "42"), ("Connection", "keep-alive")] {
        fields.append(name, value)
    }
    return fields
}

func unlimited(_ name: String, key: RateLimitPolicy.Key) -> RateLimitCheck {
    // A limit never hit: the bench measures the check, not 429s.
    let policy = RateLimitPolicy(name: name, key: key, rate: 1_000_000_000, per: .seconds(1), burst: 1_000_000_000)
    return RateLimiter(policies: [name: policy]).check(for: [name])
}

func localBench(runs: Int) {
    requireMallocCounter()
    let headers = requestHead(authorization: "Bearer sk_live_51HcQ2eKz8vX4pLmN0qR7tYw")
    let peer = IPAddress("192.0.2.7")
    print("Local rate-limit check (RateLimitCheck.check): median of \(runs) runs of ~20 ms; allocations over 1,000 calls")
    print("| policy key | ns/check (median) | fastest run | allocs/check | with a clock read ns (median) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for (label, check) in [("global", unlimited("g", key: .global)),
                           ("header:Authorization", unlimited("k", key: .header("Authorization")))] {
        // Exchange passes its start time (read once per request anyway): 1 µs later each call.
        var now = DispatchTime.now().uptimeNanoseconds
        let body = {
            now &+= 1_000
            let outcome = check.check(peer: peer, headers: headers, route: "r", trustedProxies: [], now: now)
            if outcome.isAllowed { sink &+= 1 }
        }
        let clocked = {
            let outcome = check.check(peer: peer, headers: headers, route: "r", trustedProxies: [],
                                      now: DispatchTime.now().uptimeNanoseconds)
            if outcome.isAllowed { sink &+= 1 }
        }
        let samples = timeSamples(runs: runs, body)
        let allocs = allocationsPerCall(body)
        let clockedNS = timePerCall(runs: runs, clocked)
        print("| \(label) | \(Int(samples[samples.count / 2].rounded())) | \(Int(samples[0].rounded())) | \(String(format: "%.1f", allocs.calls)) | \(Int(clockedNS.rounded())) |")
    }
}

/// Counts completions across workers (each worker counts on its own queue; read at the end).
final class Counter: @unchecked Sendable {
    var answered = 0
    var failed = 0
}

func redisBench(port: Int, seconds: Double, workers: Int, inFlight: Int) {
    let check = unlimited("k", key: .header("Authorization"))
    let heads = (0..<10_000).map { requestHead(authorization: "Bearer key-\($0)") }
    let peer = IPAddress("192.0.2.7")
    let group = WorkerGroup(count: workers)
    let counters = group.workers.map { _ in Counter() }
    let clients = group.workers.map { w in w.queue.sync { RedisRateLimitClient(worker: w, host: "127.0.0.1", port: port, timeout: .seconds(2)) } }
    nonisolated(unsafe) var running = true
    nonisolated(unsafe) let clientsRef = clients
    for (i, w) in group.workers.enumerated() {
        let counter = counters[i]
        w.queue.async {
            var next = i * 7919
            func issue() {
                guard running else { return }
                next &+= 1
                clientsRef[i].take(check, peer: peer, headers: heads[next % heads.count], route: "r", trustedProxies: []) { result in
                    if case .success = result { counter.answered += 1 } else { counter.failed += 1 }
                    issue()
                }
            }
            for _ in 0..<inFlight { issue() }
        }
    }
    // Warm-up (connect, script load), then the timed window.
    Thread.sleep(forTimeInterval: 0.5)
    let start0 = group.workers.enumerated().map { i, w in w.queue.sync { counters[i].answered } }
    let t0 = Worker.now()  // wall time: the window is slept through
    Thread.sleep(forTimeInterval: seconds)
    let end = group.workers.enumerated().map { i, w in w.queue.sync { (counters[i].answered, counters[i].failed) } }
    let elapsed = Double(Worker.now() - t0) / 1e9
    for w in group.workers { w.queue.sync { running = false } }
    let answered = zip(end, start0).reduce(0) { $0 + $1.0.0 - $1.1 }
    let failed = end.reduce(0) { $0 + $1.1 }
    print(String(format: "redis store: %d workers × %d in flight: %.0f checks/s (%d answered in %.2f s, %d failed)",
                 workers, inFlight, Double(answered) / elapsed, answered, elapsed, failed))
    for (i, w) in group.workers.enumerated() { w.queue.sync { clients[i].close() } }
}

let args = CommandLine.arguments
if args.count > 2 && args[1] == "redis" {
    redisBench(port: Int(args[2]) ?? 6379, seconds: args.count > 3 ? Double(args[3]) ?? 3 : 3,
               workers: args.count > 4 ? Int(args[4]) ?? 1 : 1, inFlight: args.count > 5 ? Int(args[5]) ?? 64 : 64)
} else {
    localBench(runs: args.count > 1 ? max(1, Int(args[1]) ?? 9) : 9)
}
if sink == 42 { print("") }
