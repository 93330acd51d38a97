import XCTest
@testable import RateLimit

final class TokenBucketTests: XCTestCase {
    let second: UInt64 = 1_000_000_000

    func testBurstThenDenied() {
        var b = TokenBucket(rate: 100, per: .seconds(1), burst: 200, now: 0)
        for i in 0..<200 {
            XCTAssertEqual(b.take(now: 0).isAllowed, true, "token \(i)")
        }
        XCTAssertFalse(b.take(now: 0).isAllowed)
        XCTAssertEqual(b.tokens(now: 0), 0)
    }

    func testRemainingCountsDown() {
        var b = TokenBucket(rate: 1, per: .seconds(1), burst: 3, now: 0)
        XCTAssertEqual(b.take(now: 0), .allowed(remaining: 2, untilFull: .seconds(1)))
        XCTAssertEqual(b.take(now: 0), .allowed(remaining: 1, untilFull: .seconds(2)))
        XCTAssertEqual(b.take(now: 0), .allowed(remaining: 0, untilFull: .seconds(3)))
        XCTAssertEqual(b.take(now: 0), .denied(retryAfter: .seconds(1), untilFull: .seconds(3)))
    }

    func testExactRefillWithManualClock() {
        // 100 per second: one token every 10 ms exactly.
        var b = TokenBucket(rate: 100, per: .seconds(1), burst: 1, now: 0)
        XCTAssertTrue(b.take(now: 0).isAllowed)
        XCTAssertEqual(b.take(now: 9_999_999), .denied(retryAfter: .nanoseconds(1), untilFull: .nanoseconds(1)))
        XCTAssertTrue(b.take(now: 10_000_000).isAllowed)
        XCTAssertFalse(b.take(now: 10_000_000).isAllowed)
    }

    func testRefillNeverExceedsBurst() {
        var b = TokenBucket(rate: 10, per: .seconds(1), burst: 5, now: 0)
        for _ in 0..<5 { _ = b.take(now: 0) }
        XCTAssertEqual(b.tokens(now: 3600 * second), 5)
        for _ in 0..<5 { XCTAssertTrue(b.take(now: 3600 * second).isAllowed) }
        XCTAssertFalse(b.take(now: 3600 * second).isAllowed)
    }

    func testFractionalRateOnePerMinuteIsExact() {
        var b = TokenBucket(rate: 1, per: .seconds(60), burst: 1, now: 0)
        XCTAssertTrue(b.take(now: 0).isAllowed)
        XCTAssertEqual(b.take(now: 0), .denied(retryAfter: .seconds(60), untilFull: .seconds(60)))
        XCTAssertEqual(b.take(now: 59 * second), .denied(retryAfter: .seconds(1), untilFull: .seconds(1)))
        XCTAssertFalse(b.take(now: 60 * second - 1).isAllowed)
        XCTAssertTrue(b.take(now: 60 * second).isAllowed)
    }

    func testNoDriftOverManyPeriods() {
        // 7 per 3 s, taken as soon as each token is back, for a simulated day: exactly
        // 7/3 per second are granted, no more, no less. (Burst 2, so the sub-nanosecond
        // overshoot of each wait is not cut off by the capacity.)
        var b = TokenBucket(rate: 7, per: .seconds(3), burst: 2, now: 0)
        var granted = 0
        var t: UInt64 = 0
        let end: UInt64 = 86_400 * second
        while t <= end {
            switch b.take(now: t) {
            case .allowed: granted += 1
            case .denied(let wait, _):
                t += UInt64(wait.components.seconds) * second + UInt64(wait.components.attoseconds / 1_000_000_000)
            }
        }
        XCTAssertEqual(granted, 86_400 * 7 / 3 + 2, "last t \(t)")
    }

    func testClockGoingBackwardsAddsNothing() {
        var b = TokenBucket(rate: 1, per: .seconds(1), burst: 1, now: 10 * second)
        XCTAssertTrue(b.take(now: 10 * second).isAllowed)
        XCTAssertFalse(b.take(now: 5 * second).isAllowed)
        XCTAssertFalse(b.take(now: 10 * second + second / 2).isAllowed)
        XCTAssertTrue(b.take(now: 11 * second).isAllowed)
    }

    func testHugeValuesDoNotOverflow() {
        var b = TokenBucket(rate: Int.max, per: .seconds(86_400 * 365), burst: Int.max, now: 0)
        XCTAssertEqual(b.take(now: 0), .allowed(remaining: Int.max - 1, untilFull: .nanoseconds(1)))
        XCTAssertEqual(b.tokens(now: UInt64.max), Int.max)
    }

    func testWindowSeconds() {
        XCTAssertEqual(BucketShape(rate: 100, per: .seconds(1), burst: 200).windowSeconds, 2)
        XCTAssertEqual(BucketShape(rate: 1, per: .seconds(60), burst: 1).windowSeconds, 60)
        XCTAssertEqual(BucketShape(rate: 3, per: .seconds(1), burst: 1).windowSeconds, 1)
        XCTAssertEqual(BucketShape(rate: 3, per: .seconds(1), burst: 4).windowSeconds, 2)
    }
}
