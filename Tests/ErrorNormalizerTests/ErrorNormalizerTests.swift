import XCTest

final class ErrorNormalizerTestsPlaceholder: XCTestCase {
    func testModuleBuilds() {}
}
