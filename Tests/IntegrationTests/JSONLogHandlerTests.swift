import Foundation
import Logging
import Proxy
import Synchronization
import XCTest

/// The JSON line format of the lifecycle and access logs.
final class JSONLogHandlerTests: XCTestCase {
    final class Lines: LogLineSink {
        let lines = Mutex<[String]>([])
        func write(line: UnsafeRawBufferPointer) {
            let text = String(decoding: line, as: UTF8.self)
            lines.withLock { $0.append(text) }
        }
        var all: [String] { lines.withLock { $0 } }
    }

    private func logger(_ sink: Lines, level: Logger.Level = .info, keyOrder: [String] = [], accessLine: Bool = false) -> Logger {
        Logger(label: "test") { _ in JSONLogHandler(sink: sink, level: level, keyOrder: keyOrder, accessLine: accessLine) }
    }

    func testALineIsOneJSONObjectWithTimeLevelMessageAndTypedMetadata() throws {
        let sink = Lines()
        var log = logger(sink)
        log[metadataKey: "worker"] = .stringConvertible(3)
        log.warning("upstream \"a\" down\n", metadata: ["ok": .stringConvertible(true), "ratio": .stringConvertible(0.5),
                                                     "none": .stringConvertible(JSONLiteral.null),
                                                     "list": .array([.string("x"), .stringConvertible(2)])])
        let line = try XCTUnwrap(sink.all.first)
        XCTAssertTrue(line.hasSuffix("}\n"))
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, "an escaped newline stays inside the string")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["level"] as? String, "warning")
        XCTAssertEqual(object["message"] as? String, "upstream \"a\" down\n")
        XCTAssertEqual(object["worker"] as? Int, 3)
        XCTAssertEqual(object["ok"] as? Bool, true)
        XCTAssertEqual(object["ratio"] as? Double, 0.5)
        XCTAssertTrue(object["none"] is NSNull)
        XCTAssertEqual((object["list"] as? [Any])?.count, 2)
        let time = try XCTUnwrap(object["time"] as? String)
        XCTAssertNotNil(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression), time)
    }

    func testLevelsBelowTheConfiguredOneAreDropped() {
        let sink = Lines()
        let log = logger(sink, level: .warning)
        log.info("hidden")
        log.debug("hidden")
        log.error("shown")
        XCTAssertEqual(sink.all.count, 1)
        XCTAssertTrue(sink.all[0].contains("\"shown\""))
    }

    func testAccessLinesKeepTheirKeyOrderAndHaveNoLevelOrMessage() {
        let sink = Lines()
        let log = logger(sink, keyOrder: ["b", "a"], accessLine: true)
        log.info("request", metadata: ["a": .string("1"), "z": .string("3"), "b": .string("2"), "c": .string("4")])
        let line = sink.all.first ?? ""
        XCTAssertNotNil(line.range(of: #"^\{"time":"[^"]+","b":"2","a":"1","c":"4","z":"3"\}\n$"#, options: .regularExpression), line)
    }
}
