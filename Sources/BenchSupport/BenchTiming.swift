// Timing and allocation counting shared by the release-mode benchmark executables.
import CMallocCounter
#if canImport(Glibc)
import Glibc
#endif

/// CPU time of the calling thread in nanoseconds, not wall time: on a machine shared with other
/// builds the time the benchmark waits for a core is not counted (it was most of a wall-clock figure there).
public func nanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Median ns per call over `runs` runs, each of enough calls to last ~20 ms.
public func timePerCall(runs: Int, _ body: () -> Void) -> Double {
    let samples = timeSamples(runs: runs, body)
    return samples[samples.count / 2]
}

/// ns per call of each of `runs` runs (each of enough calls to last ~20 ms), sorted: on a
/// shared machine the first (fastest) is the closest to the code's own cost.
public func timeSamples(runs: Int, _ body: () -> Void) -> [Double] {
    for _ in 0..<1_000 { body() }
    var iterations = 1_000
    while true {
        let t0 = nanoseconds()
        for _ in 0..<iterations { body() }
        let elapsed = nanoseconds() - t0
        if elapsed > 20_000_000 || iterations >= 1 << 24 { break }
        iterations *= 2
    }
    var samples: [Double] = []
    for _ in 0..<max(1, runs) {
        let t0 = nanoseconds()
        for _ in 0..<iterations { body() }
        samples.append(Double(nanoseconds() - t0) / Double(iterations))
    }
    return samples.sorted()
}

/// Allocations and bytes asked for, per call, over 1,000 calls.
public func allocationsPerCall(_ body: () -> Void) -> (calls: Double, bytes: Double) {
    body()
    let calls = 1_000
    let a0 = malloc_counter_allocations(), b0 = malloc_counter_bytes()
    for _ in 0..<calls { body() }
    return (Double(malloc_counter_allocations() - a0) / Double(calls), Double(malloc_counter_bytes() - b0) / Double(calls))
}

/// Stops with a message unless the malloc interposer counts the Swift runtime's allocations
/// (a Swift array is allocated by libswiftCore: swift_slowAlloc → malloc).
public func requireMallocCounter() {
    let before = malloc_counter_allocations()
    let probe = [Int](repeating: 1, count: Int(nanoseconds() & 1) + 100)
    guard malloc_counter_active() != 0, malloc_counter_allocations() > before, probe.count >= 100 else {
        fatalError("the malloc interposer is not in effect; allocation counts would be 0")
    }
}
