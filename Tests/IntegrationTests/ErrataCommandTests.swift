#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTestClient
import LegacyDemo
import XCTest

/// The executable: `errata check` and `errata --config` with signals, run as a real process.
final class ErrataCommandTests: XCTestCase {
    private var binary: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/errata")
    }

    private func write(_ json: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("errata-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("config.json")
        try json.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "build the errata product first")
    }

    func testCheckAcceptsAValidFile() throws {
        let path = try write(#"{"listeners":[{"address":"127.0.0.1:0"}],"upstreams":{"a":{"servers":["127.0.0.1:1"]}},"routes":[{"upstream":"a"}]}"#)
        let result = try run(["check", "--config", path])
        XCTAssertEqual(result.status, 0, result.output)
    }

    func testCheckListsEveryProblemWithItsPathAndExits1() throws {
        let path = try write(#"{"listeners":[{"address":"nope"}],"upstreams":{},"routes":[{"upstream":"biling","x":1}],"limits":{"uri_bytes":"8 parsecs"}}"#)
        let result = try run(["check", "--config", path])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.output.contains("listeners[0].address"), result.output)
        XCTAssertTrue(result.output.contains(#"routes[0].upstream: unknown upstream "biling""#), result.output)
        XCTAssertTrue(result.output.contains("routes[0].x"), result.output)
        XCTAssertTrue(result.output.contains("limits.uri_bytes"), result.output)
    }

    func testRunServesThenDrainsOnSIGTERMAndExits0() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let port = closedPort()
        let path = try write("""
            {"listeners":[{"address":"127.0.0.1:\(port)"}],"workers":1,
             "upstreams":{"app":{"servers":["127.0.0.1:\(upstream.port)"]}},
             "routes":[{"upstream":"app"}], "access_log":{"to":"off"}}
            """)
        let process = Process()
        process.executableURL = binary
        process.arguments = ["--config", path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        var client: RawHTTPClient?
        for _ in 0..<100 {
            if let c = try? RawHTTPClient(port: port) { client = c; break }
            usleep(50_000)
        }
        let response = try XCTUnwrap(client).exchange("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(response.status, 200)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
    }
}
