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
        try runToCompletion(binary, arguments)
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

    private func listenerTLS(cert: String, key: String, minVersion: String = "1.2") -> String {
        #"{"listeners":[{"address":"127.0.0.1:0","tls":{"certificates":[{"cert":"\#(cert)","key":"\#(key)"}],"min_version":"\#(minVersion)"}}],"upstreams":{"a":{"servers":["127.0.0.1:1"]}},"routes":[{"upstream":"a"}]}"#
    }

    func testCheckRejectsTLSBelow12AndAMismatchedKeyNamingPathAndFile() throws {
        let certs = try TestCertificates.get()
        let good = try run(["check", "--config", try write(listenerTLS(cert: certs.api.certFile, key: certs.api.keyFile))])
        XCTAssertEqual(good.status, 0, good.output)
        let old = try run(["check", "--config", try write(listenerTLS(cert: certs.api.certFile, key: certs.api.keyFile, minVersion: "1.1"))])
        XCTAssertEqual(old.status, 1)
        XCTAssertTrue(old.output.contains("listeners[0].tls.min_version: TLS versions below 1.2 are not supported"), old.output)
        let mismatch = try run(["check", "--config", try write(listenerTLS(cert: certs.api.certFile, key: certs.legacy.keyFile))])
        XCTAssertEqual(mismatch.status, 1)
        XCTAssertTrue(mismatch.output.contains("listeners[0].tls.certificates[0]"), mismatch.output)
        XCTAssertTrue(mismatch.output.contains(certs.legacy.keyFile) || mismatch.output.contains(certs.api.certFile), mismatch.output)
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
    // MARK: - Signals and the notify protocol

    /// A config serving `ports` on 127.0.0.1, every request to the upstream on `upstream`.
    private func config(ports: [Int], upstream: Int, upstreamName: String = "app", workers: Int = 1,
                        routes: String? = nil) -> String {
        let listeners = ports.map { #"{"address":"127.0.0.1:\#($0)"}"# }.joined(separator: ",")
        return """
            {"listeners":[\(listeners)],"workers":\(workers),
             "upstreams":{"\(upstreamName)":{"servers":["127.0.0.1:\(upstream)"]}},
             "routes":\(routes ?? #"[{"upstream":"\#(upstreamName)"}]"#), "access_log":{"to":"off"}}
            """
    }

    private func rewrite(_ path: String, _ json: String) throws {
        try json.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// An upstream answering every request with `name` in `X-Upstream` and as the body.
    private func namedServer(_ name: String) throws -> LegacyServer {
        try LegacyServer { _ in LegacyResponse.text(200, name, headers: [("X-Upstream", name)]) }
    }

    /// Starts errata with a NOTIFY_SOCKET and waits for its READY=1.
    private func startNotifying(_ path: String, environment: [String: String] = [:]) throws
        -> (ErrataProcess, NotifySocket, ready: [String: String]) {
        let notify = try NotifySocket()
        let errata = try ErrataProcess(binary: binary, config: path,
                                       environment: environment.merging(["NOTIFY_SOCKET": notify.path]) { a, _ in a })
        guard let ready = notify.next("READY", "1") else {
            XCTFail("no READY=1; stderr: \(errata.stderr)")
            throw XCTSkip("errata did not start")
        }
        return (errata, notify, ready)
    }

    /// SIGHUP, then the RELOADING=1 and READY=1 that must follow it; returns the READY message.
    private func reload(_ errata: ErrataProcess, _ notify: NotifySocket,
                        file: StaticString = #filePath, line: UInt = #line) -> [String: String] {
        errata.signal(SIGHUP)
        XCTAssertNotNil(notify.next("RELOADING", "1"), "RELOADING=1 after SIGHUP", file: file, line: line)
        let ready = notify.next("READY", "1")
        XCTAssertNotNil(ready, "READY=1 after the reload", file: file, line: line)
        return ready ?? [:]
    }

    private static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }

    private static func get(_ client: RawHTTPClient, _ path: String = "/") throws -> RawResponse {
        try client.exchange("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
    }

    func testNotifySocketReceivesReadyReloadingReadyStoppingInOrder() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let port = closedPort()
        let path = try write(config(ports: [port], upstream: upstream.port))
        let (errata, notify, ready) = try startNotifying(path)
        XCTAssertEqual(ready["STATUS"], "serving on 127.0.0.1:\(port) with 1 worker")
        XCTAssertEqual(try Self.get(RawHTTPClient(port: port)).status, 200, "READY=1 comes once the listener is bound")

        let before = Self.monotonicMicroseconds()
        errata.signal(SIGHUP)
        let reloading = try XCTUnwrap(notify.next("RELOADING", "1"))
        let after = Self.monotonicMicroseconds()
        let usec = try XCTUnwrap(reloading["MONOTONIC_USEC"].flatMap { UInt64($0) }, "\(reloading)")
        XCTAssertTrue((before...after).contains(usec), "MONOTONIC_USEC \(usec) is CLOCK_MONOTONIC at the reload")
        XCTAssertEqual(reloading["STATUS"], "reloading")
        let reloaded = try XCTUnwrap(notify.next("READY", "1"))
        XCTAssertEqual(reloaded["STATUS"], "serving on 127.0.0.1:\(port) with 1 worker (config generation 1)")

        errata.signal(SIGTERM)
        let stopping = try XCTUnwrap(notify.next("STOPPING", "1"))
        XCTAssertEqual(stopping["STATUS"]?.hasPrefix("draining "), true, "\(stopping)")
        XCTAssertEqual(errata.waitForExit(), 0)
        XCTAssertEqual(notify.states, ["READY", "RELOADING", "READY", "STOPPING"])
    }

    func testWatchdogPingsWhenWatchdogUsecIsSetAndNotForAnotherPID() throws {
        let upstream = try echoServer()
        defer { upstream.stop() }
        let path = try write(config(ports: [closedPort()], upstream: upstream.port, workers: 2))
        let (errata, notify, _) = try startNotifying(path, environment: ["WATCHDOG_USEC": "200000"])
        XCTAssertNotNil(notify.next("WATCHDOG", "1"), "WATCHDOG=1 every 100 ms")
        XCTAssertNotNil(notify.next("WATCHDOG", "1"), "and again")
        errata.signal(SIGTERM)
        XCTAssertEqual(errata.waitForExit(), 0)

        let (other, otherNotify, _) = try startNotifying(try write(config(ports: [closedPort()], upstream: upstream.port)),
                                                         environment: ["WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"])
        otherNotify.collect(for: 0.6)
        XCTAssertFalse(otherNotify.received.contains { $0["WATCHDOG"] != nil }, "WATCHDOG_PID names another process")
        other.signal(SIGTERM)
        XCTAssertEqual(other.waitForExit(), 0)
    }

    func testSIGHUPDuringASlowRequestFinishesItOnTheOldRouteAndSendsNewRequestsToTheNewOne() throws {
        let slowBody = patternBytes(256 * 1024)
        let (a, gate) = try gatedServer(slowBody: slowBody, headers: [("X-Upstream", "a")])
        let b = try namedServer("b")
        defer { gate.signal(); a.stop(); b.stop() }
        let port = closedPort()
        let path = try write(config(ports: [port], upstream: a.port, upstreamName: "a", workers: 2))
        let (errata, notify, _) = try startNotifying(path)

        let keepAlive = try RawHTTPClient(port: port)
        XCTAssertEqual(try Self.get(keepAlive).header("X-Upstream"), "a")
        let slow = try RawHTTPClient(port: port)
        slow.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertTrue(waitUntil(10) { a.requestCount == 2 }, "the slow request reached the old upstream")

        try rewrite(path, config(ports: [port], upstream: b.port, upstreamName: "b", workers: 2))
        let ready = reload(errata, notify)
        XCTAssertEqual(ready["STATUS"]?.hasSuffix("(config generation 1)"), true, "\(ready)")

        for _ in 0..<4 {
            XCTAssertEqual(try Self.get(RawHTTPClient(port: port)).header("X-Upstream"), "b", "a new connection takes the new route")
        }
        XCTAssertEqual(try Self.get(keepAlive).header("X-Upstream"), "b",
                       "a keep-alive connection opened before the reload stays usable and takes the new route")

        gate.signal()
        let finished = try slow.readResponse()
        XCTAssertEqual(finished.status, 200)
        XCTAssertEqual(finished.header("X-Upstream"), "a", "the request in flight finishes on the old route")
        XCTAssertEqual(finished.body.count, slowBody.count)
        XCTAssertTrue(finished.body == slowBody, "its whole response arrives")
        XCTAssertEqual(try Self.get(slow).header("X-Upstream"), "b", "its connection goes on, on the new config")
        XCTAssertEqual(a.requestCount, 2)
        XCTAssertTrue(errata.process.isRunning)
    }

    func testSIGHUPWithABrokenFileKeepsTheOldConfigAndNamesTheJSONPath() throws {
        let a = try namedServer("a"), b = try namedServer("b")
        defer { a.stop(); b.stop() }
        let port = closedPort()
        let path = try write(config(ports: [port], upstream: a.port))
        let (errata, notify, _) = try startNotifying(path)
        let client = try RawHTTPClient(port: port)
        XCTAssertEqual(try Self.get(client).header("X-Upstream"), "a")

        try rewrite(path, config(ports: [port], upstream: b.port, routes: #"[{"upstream":"nope"}]"#))
        let failed = reload(errata, notify)
        XCTAssertEqual(failed["STATUS"], #"reload failed: routes[0].upstream: unknown upstream "nope"; old config kept"#)
        XCTAssertTrue(errata.waitForStderr(containing: "routes[0].upstream"), errata.stderr)
        XCTAssertTrue(errata.process.isRunning)
        XCTAssertEqual(try Self.get(client).header("X-Upstream"), "a", "the old config keeps serving")
        XCTAssertEqual(try Self.get(RawHTTPClient(port: port)).header("X-Upstream"), "a")

        try rewrite(path, "{ not json")
        XCTAssertEqual(reload(errata, notify)["STATUS"]?.hasPrefix("reload failed: "), true)
        XCTAssertEqual(try Self.get(client).header("X-Upstream"), "a")

        try rewrite(path, config(ports: [port], upstream: b.port))
        XCTAssertEqual(reload(errata, notify)["STATUS"], "serving on 127.0.0.1:\(port) with 1 worker (config generation 1)",
                       "failed reloads do not count as generations")
        XCTAssertEqual(try Self.get(client).header("X-Upstream"), "b")
        errata.signal(SIGTERM)
        XCTAssertEqual(errata.waitForExit(), 0)
    }

    func testSIGHUPAddsAndRemovesAListenerWhileTheFirstKeepsAnswering() throws {
        let upstream = try namedServer("a")
        defer { upstream.stop() }
        let first = closedPort()
        var second = closedPort()
        while second == first { second = closedPort() }
        let path = try write(config(ports: [first], upstream: upstream.port, workers: 2))
        let (errata, notify, _) = try startNotifying(path)
        let keepAlive = try RawHTTPClient(port: first)
        XCTAssertEqual(try Self.get(keepAlive).status, 200)
        XCTAssertThrowsError(try RawHTTPClient(port: second))

        try rewrite(path, config(ports: [first, second], upstream: upstream.port, workers: 2))
        XCTAssertEqual(reload(errata, notify)["STATUS"],
                       "serving on 127.0.0.1:\(first) 127.0.0.1:\(second) with 2 workers (config generation 1)")
        let onSecond = try RawHTTPClient(port: second)
        XCTAssertEqual(try Self.get(onSecond).status, 200, "the added address accepts")
        XCTAssertEqual(try Self.get(keepAlive).status, 200)
        XCTAssertEqual(try Self.get(RawHTTPClient(port: first)).status, 200)

        try rewrite(path, config(ports: [first], upstream: upstream.port, workers: 2))
        _ = reload(errata, notify)
        XCTAssertTrue(waitUntil(5) {
            do {
                _ = try RawHTTPClient(port: second)
                return false
            } catch {
                return error as? RawClientError == .connectFailed(ECONNREFUSED)
            }
        }, "the removed address refuses connections")
        XCTAssertEqual(try Self.get(onSecond).status, 200, "a connection accepted there before goes on")
        XCTAssertEqual(try Self.get(keepAlive).status, 200)
        XCTAssertEqual(try Self.get(RawHTTPClient(port: first)).status, 200)

        // An address that cannot be bound refuses the reload; the first listener goes on.
        let squatter = try namedServer("squatter")
        defer { squatter.stop() }
        try rewrite(path, config(ports: [first, squatter.port], upstream: upstream.port, workers: 2))
        let refused = reload(errata, notify)
        XCTAssertEqual(refused["STATUS"]?.hasPrefix("reload failed: listeners[1].address: cannot listen on 127.0.0.1:\(squatter.port)"),
                       true, "\(refused)")
        XCTAssertTrue(errata.waitForStderr(containing: "listeners[1].address"), errata.stderr)
        XCTAssertEqual(try Self.get(keepAlive).status, 200)
        XCTAssertEqual(try Self.get(RawHTTPClient(port: first)).status, 200)
        errata.signal(SIGTERM)
        XCTAssertEqual(errata.waitForExit(), 0)
    }

    func testSIGTERMLetsAnInFlightRequestFinishStopsAcceptingAndExits0() throws {
        let body = patternBytes(128 * 1024)
        let (upstream, gate) = try gatedServer(slowBody: body)
        defer { gate.signal(); upstream.stop() }
        let port = closedPort()
        let path = try write(config(ports: [port], upstream: upstream.port))
        let errata = try ErrataProcess(binary: binary, config: path)
        XCTAssertTrue(waitUntil(10) { (try? RawHTTPClient(port: port)) != nil }, "errata listens")
        let slow = try RawHTTPClient(port: port)
        slow.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertTrue(waitUntil(10) { upstream.requestCount == 1 }, "the slow request is in flight")

        errata.signal(SIGTERM)
        XCTAssertTrue(errata.waitForStderr(containing: #""message":"draining""#), errata.stderr)
        XCTAssertTrue(waitUntil(5) { (try? RawHTTPClient(port: port)) == nil }, "no new connection is accepted while draining")
        XCTAssertNil(errata.waitForExit(seconds: 0.3), "errata waits for the request in flight")
        gate.signal()
        let finished = try slow.readResponse()
        XCTAssertEqual(finished.status, 200)
        XCTAssertTrue(finished.body == body, "the whole response arrives")
        XCTAssertEqual(finished.header("Connection"), "close")
        XCTAssertEqual(errata.waitForExit(), 0)
    }

    func testLifecycleLinesAreJSONOnStderrAndFollowLogLevel() throws {
        let port = closedPort(), admin = closedPort()
        let json = """
            {"listeners":[{"address":"127.0.0.1:\(port)"}],"workers":1,"admin":{"address":"127.0.0.1:\(admin)"},
             "upstreams":{"app":{"servers":["127.0.0.1:\(closedPort())"],"passive_health":{"failures":1,"cooldown":"60s"}}},
             "routes":[{"name":"all","upstream":"app"}],"access_log":{"to":"off"}}
            """
        let path = try write(json)
        let info = try ErrataProcess(binary: binary, config: path)
        XCTAssertTrue(info.waitForStderr(containing: #""message":"listening""#), info.stderr)
        let started = try XCTUnwrap(info.stderr.split(separator: "\n").first { $0.contains(#""listening""#) })
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(started.utf8)) as? [String: Any])
        XCTAssertEqual(object["level"] as? String, "info")
        XCTAssertEqual(object["addresses"] as? String, "127.0.0.1:\(port)")
        XCTAssertEqual(object["admin"] as? String, "127.0.0.1:\(admin)")
        XCTAssertEqual(try RawHTTPClient(port: port).exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 502)
        XCTAssertTrue(info.waitForStderr(containing: #""message":"upstream server marked down""#), info.stderr)
        // The binary's admin listener serves what the proxy counted.
        let scrape = try RawHTTPClient(port: admin).exchange("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
        let metrics = PrometheusText(scrape.bodyText)
        XCTAssertEqual(metrics.sum("errata_requests_total", ["route": "all", "status_class": "5xx"]), 1)
        XCTAssertEqual(metrics.sum("errata_synthesized_errors_total", ["code": "upstream_connect_failed"]), 1)
        info.signal(SIGTERM)
        XCTAssertEqual(info.waitForExit(), 0)

        let quiet = try ErrataProcess(binary: binary, config: path, arguments: ["--log-level", "warning"])
        XCTAssertTrue(waitUntil(10) { (try? RawHTTPClient(port: port)) != nil }, "errata listens")
        XCTAssertEqual(try RawHTTPClient(port: port).exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 502)
        XCTAssertTrue(quiet.waitForStderr(containing: #""level":"warning","message":"upstream server marked down""#), quiet.stderr)
        XCTAssertFalse(quiet.stderr.contains(#""message":"listening""#), "info lines are below --log-level warning")
        quiet.signal(SIGTERM)
        XCTAssertEqual(quiet.waitForExit(), 0)
    }
}
