import XCTest

final class RouterTestsPlaceholder: XCTestCase {
    func testModuleBuilds() {}
}
