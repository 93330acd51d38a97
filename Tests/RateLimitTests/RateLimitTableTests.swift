import Dispatch
import Synchronization
import XCTest
@testable import RateLimit

final class RateLimitTableTests: XCTestCase {
    func key(_ n: UInt64) -> RateLimitKey { RateLimitKey(hash: n &* 0x9E37_79B9_7F4A_7C15) }

    func testPerKeyIsolation() {
        let t = RateLimitTable(shape: BucketShape(rate: 1, per: .seconds(60), burst: 2), maxKeys: 100)
        XCTAssertTrue(t.take(key(1), now: 0).isAllowed)
        XCTAssertTrue(t.take(key(1), now: 0).isAllowed)
        XCTAssertFalse(t.take(key(1), now: 0).isAllowed)
        XCTAssertTrue(t.take(key(2), now: 0).isAllowed)
        XCTAssertTrue(t.take(key(2), now: 0).isAllowed)
        XCTAssertFalse(t.take(key(2), now: 0).isAllowed)
        XCTAssertFalse(t.take(key(1), now: 0).isAllowed)
    }

    func testEvictionDropsLongestIdleAndKeepsRecentlyUsed() {
        // One shard so the LRU order is global.
        let t = RateLimitTable(shape: BucketShape(rate: 1, per: .seconds(60), burst: 1), maxKeys: 3, shardCount: 1)
        XCTAssertEqual(t.shardCount, 1)
        _ = t.take(key(1), now: 0)
        _ = t.take(key(2), now: 1)
        _ = t.take(key(3), now: 2)
        // key 1 is used again: key 2 is now the longest idle.
        XCTAssertFalse(t.take(key(1), now: 3).isAllowed)
        _ = t.take(key(4), now: 4)
        XCTAssertEqual(t.count, 3)
        XCTAssertFalse(t.contains(key(2)))
        XCTAssertTrue(t.contains(key(1)))
        XCTAssertTrue(t.contains(key(3)))
        XCTAssertTrue(t.contains(key(4)))
        // key 1 kept its empty bucket; key 2 comes back with a fresh one (and evicts key 3).
        XCTAssertFalse(t.take(key(1), now: 5).isAllowed)
        XCTAssertTrue(t.take(key(2), now: 5).isAllowed)
        XCTAssertFalse(t.contains(key(3)))
    }

    func testTwoHundredThousandKeysStayBounded() {
        let t = RateLimitTable(shape: BucketShape(rate: 10, per: .seconds(1), burst: 10), maxKeys: 1000)
        for n in 0..<200_000 as Range<UInt64> {
            XCTAssertTrue(t.take(key(n), now: n))
        }
        XCTAssertEqual(t.count, 1000)
        // The most recent keys are held, the first ones are gone.
        XCTAssertTrue(t.contains(key(199_999)))
        XCTAssertFalse(t.contains(key(0)))
    }

    func testShardsSplitMaxKeysExactly() {
        let t = RateLimitTable(shape: BucketShape(rate: 1, per: .seconds(1), burst: 1), maxKeys: 5, shardCount: 16)
        XCTAssertEqual(t.shardCount, 4)
        for n in 0..<10_000 as Range<UInt64> { _ = t.take(key(n), now: 0) }
        XCTAssertLessThanOrEqual(t.count, 5)
    }

    func testConcurrentTakesOnOneKeyGrantExactlyBurst() {
        let burst = 1000
        let t = RateLimitTable(shape: BucketShape(rate: 1, per: .seconds(3600), burst: burst), maxKeys: 100)
        let granted = Atomic<Int>(0)
        let k = key(42)
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            for _ in 0..<500 {
                if t.take(k, now: 7).isAllowed { granted.add(1, ordering: .relaxed) }
            }
        }
        XCTAssertEqual(granted.load(ordering: .relaxed), burst)
    }
}

private func XCTAssertTrue(_ d: TokenBucket.Decision, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssert(d.isAllowed, file: file, line: line)
}
