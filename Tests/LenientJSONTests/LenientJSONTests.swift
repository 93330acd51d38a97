import XCTest

final class LenientJSONTestsPlaceholder: XCTestCase {
    func testModuleBuilds() {}
}
