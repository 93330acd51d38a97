import XCTest

final class ProxyConfigTestsPlaceholder: XCTestCase {
    func testModuleBuilds() {}
}
