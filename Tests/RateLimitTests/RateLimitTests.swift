import XCTest

final class RateLimitTestsPlaceholder: XCTestCase {
    func testModuleBuilds() {}
}
