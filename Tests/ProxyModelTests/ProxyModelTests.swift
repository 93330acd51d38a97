import XCTest

final class ProxyModelTestsPlaceholder: XCTestCase {
    func testModuleBuilds() {}
}
