import Foundation
@testable import ProxyConfig
import ProxyModel
import RateLimit
import Router
import XCTest

final class ConfigLoaderTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "errata-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder + "/tls", withIntermediateDirectories: true)
        for name in ["tls/api.pem", "tls/api.key", "tls/legacy.pem", "tls/legacy.key", "tls/clients.pem", "ca.crt"] {
            try Data("-----BEGIN PLACEHOLDER-----\n".utf8).write(to: URL(fileURLWithPath: folder + "/" + name))
        }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    // MARK: Helpers

    /// The example of CONFIG.md, its file paths moved into the test's folder.
    private var example: String {
        """
        {
          "listeners": [
            {"address": "0.0.0.0:8080"},
            {"address": "[::]:8443",
             "tls": {"certificates": [{"cert": "\(folder)/tls/api.pem", "key": "\(folder)/tls/api.key"},
                                      {"cert": "\(folder)/tls/legacy.pem", "key": "\(folder)/tls/legacy.key"}],
                     "min_version": "1.2",
                     "alpn": ["h2", "http/1.1"],
                     "client_ca": null}}
          ],
          "admin": {"address": "127.0.0.1:9901"},

          "upstreams": {
            "billing": {
              "servers": ["127.0.0.1:9001", "127.0.0.1:9002"],
              "dialect": "status_envelope",
              "tls": null,
              "max_connections": 256,
              "max_idle_connections": 64,
              "timeouts": {"connect": "2s", "response_head": "30s", "idle": "60s"},
              "passive_health": {"failures": 3, "cooldown": "10s"}
            },
            "accounts": {"servers": ["accounts.internal:443"],
                         "tls": {"verify": true, "ca": "\(folder)/ca.crt", "server_name": "accounts.internal"}}
          },

          "routes": [
            {"host": "api.example.com", "path_prefix": "/billing/", "upstream": "billing",
             "strip_prefix": true, "rate_limits": ["per_api_key", "global"]},
            {"path_prefix": "/", "upstream": "accounts"}
          ],

          "rate_limits": {
            "per_api_key": {"key": "header:Authorization", "rate": 100, "per": "1s", "burst": 200},
            "global":      {"key": "global", "rate": 5000, "per": "1s", "burst": 5000}
          },

          "dialects": {
            "status_envelope": {
              "code":    {"from": ["/message/error_code", "/error_code"]},
              "message": {"from": ["/message/message", "/message"], "join": "; "},
              "param":   {"from": ["/param"],
                          "extract": {"from": "/message/message/0", "regex": "'([^']+)' is a required property"}}
            }
          },

          "errors": {"format": "flat", "problem_json": "negotiate", "expose_upstream_addresses": false},
          "limits": {"header_bytes": "64KiB", "uri_bytes": "8KiB", "request_body_bytes": "10MiB", "error_body_bytes": "64KiB",
                     "max_connections": 10000, "h2_max_concurrent_streams": 128},
          "timeouts": {"client_header": "10s", "client_idle": "60s", "drain": "30s"},
          "access_log": {"to": "stdout", "format": "json"},
          "trusted_proxies": ["127.0.0.1/32"]
        }
        """
    }

    /// A valid document with the given sections (JSON text) and any extra top-level members.
    private func document(listeners: String = #"[{"address": "127.0.0.1:8080"}]"#,
                          upstreams: String = #"{"u": {"servers": ["127.0.0.1:9001"]}}"#,
                          routes: String = #"[{"upstream": "u"}]"#, _ extra: String = "") -> String {
        #"{"listeners": \#(listeners), "upstreams": \#(upstreams), "routes": \#(routes)"#
            + (extra.isEmpty ? "" : ", " + extra) + "}"
    }

    private func parse(_ json: String, base: String? = nil) -> Result<ConfigSnapshot, ConfigErrors> {
        ConfigLoader.parse(Array(json.utf8), baseDirectory: base ?? folder)
    }

    private func snapshot(_ json: String, base: String? = nil, file: StaticString = #filePath,
                          line: UInt = #line) -> ConfigSnapshot? {
        switch parse(json, base: base) {
        case .success(let s): return s
        case .failure(let e):
            XCTFail("unexpected problems:\n\(e)", file: file, line: line)
            return nil
        }
    }

    private func problems(_ json: String, base: String? = nil, file: StaticString = #filePath,
                          line: UInt = #line) -> [String] {
        switch parse(json, base: base) {
        case .success:
            XCTFail("expected problems, the config was accepted", file: file, line: line)
            return []
        case .failure(let e):
            return e.problems.map(\.description)
        }
    }

    /// Asserts that `json` is rejected with exactly the problem `expected` (`path: message`).
    private func assertProblem(_ json: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(problems(json, file: file, line: line), [expected], file: file, line: line)
    }

    // MARK: The example and defaults

    func testTheExampleOfConfigMDParsesWithItsValues() throws {
        let s = try XCTUnwrap(snapshot(example))

        XCTAssertEqual(s.listeners.count, 2)
        XCTAssertEqual(s.listeners[0], ListenerConfig(address: HostPort(host: "0.0.0.0", port: 8080)))
        XCTAssertEqual(s.listeners[1].address, HostPort(host: "::", port: 8443))
        XCTAssertEqual(s.listeners[1].address.description, "[::]:8443")
        let tls = try XCTUnwrap(s.listeners[1].tls)
        XCTAssertEqual(tls.certificates, [.init(cert: folder + "/tls/api.pem", key: folder + "/tls/api.key"),
                                          .init(cert: folder + "/tls/legacy.pem", key: folder + "/tls/legacy.key")])
        XCTAssertEqual(tls.minVersion, .tls12)
        XCTAssertEqual(tls.alpn, ["h2", "http/1.1"])
        XCTAssertNil(tls.clientCA)
        XCTAssertEqual(s.admin, HostPort(host: "127.0.0.1", port: 9901))

        XCTAssertEqual(Set(s.upstreams.keys), ["billing", "accounts"])
        let billing = try XCTUnwrap(s.upstreams["billing"])
        XCTAssertEqual(billing, UpstreamConfig(
            name: "billing", servers: [HostPort(host: "127.0.0.1", port: 9001), HostPort(host: "127.0.0.1", port: 9002)],
            dialect: "status_envelope", tls: nil, maxConnections: 256, maxIdleConnections: 64,
            timeouts: UpstreamTimeouts(connect: .seconds(2), responseHead: .seconds(30), idle: .seconds(60)),
            passiveHealth: PassiveHealth(failures: 3, cooldown: .seconds(10))))
        let accounts = try XCTUnwrap(s.upstreams["accounts"])
        XCTAssertEqual(accounts.servers, [HostPort(host: "accounts.internal", port: 443)])
        XCTAssertEqual(accounts.dialect, "auto")
        XCTAssertEqual(accounts.tls, UpstreamTLSConfig(verify: true, ca: folder + "/ca.crt", serverName: "accounts.internal"))

        XCTAssertEqual(s.routes.routes, [
            Route(name: "route0", host: .exact("api.example.com"), pathPrefix: "/billing/", methods: nil,
                  upstream: "billing", stripPrefix: true, rateLimits: ["per_api_key", "global"], dialect: nil),
            Route(name: "route1", host: nil, pathPrefix: "/", upstream: "accounts"),
        ])
        XCTAssertEqual(s.routes.match(host: "api.example.com", path: "/billing/x", method: "GET")?.upstream, "billing")
        XCTAssertEqual(s.routes.match(host: "other.example.com", path: "/billing/x", method: "GET")?.upstream, "accounts")

        XCTAssertEqual(s.rateLimits["per_api_key"],
                       RateLimitPolicy(name: "per_api_key", key: .header("Authorization"), rate: 100, per: .seconds(1),
                                       burst: 200, maxKeys: 100_000))
        XCTAssertEqual(s.rateLimits["global"],
                       RateLimitPolicy(name: "global", key: .global, rate: 5000, per: .seconds(1), burst: 5000))

        XCTAssertEqual(Array(s.dialects.keys), ["status_envelope"])
        XCTAssertEqual(s.dialects["status_envelope"]?.name, "status_envelope")
        XCTAssertEqual(s.dialect(route: s.routes.routes[0], upstream: billing).name, "status_envelope")
        XCTAssertEqual(s.dialect(route: s.routes.routes[1], upstream: accounts).name, "auto")

        XCTAssertEqual(s.errors, ErrorsConfig(render: ErrorRenderOptions(format: .flat, problemJSON: .negotiate),
                                              exposeUpstreamAddresses: false))
        XCTAssertEqual(s.limits, LimitsConfig(headerBytes: 65536, uriBytes: 8192, requestBodyBytes: 10_485_760,
                                              errorBodyBytes: 65536, maxConnections: 10_000, h2MaxConcurrentStreams: 128))
        XCTAssertEqual(s.timeouts, ClientTimeouts(clientHeader: .seconds(10), clientIdle: .seconds(60), drain: .seconds(30)))
        XCTAssertEqual(s.accessLog, AccessLogConfig(to: .stdout, format: "json"))
        XCTAssertEqual(s.trustedProxies.map(\.description), ["127.0.0.1/32"])
        XCTAssertTrue(s.isTrustedProxy("127.0.0.1"))
        XCTAssertFalse(s.isTrustedProxy("127.0.0.2"))
        XCTAssertNil(s.workers)
        XCTAssertNil(s.rateLimitStore)
    }

    func testAMinimalConfigGetsEveryDefault() throws {
        let s = try XCTUnwrap(snapshot(document()))
        XCTAssertEqual(s.listeners, [ListenerConfig(address: HostPort(host: "127.0.0.1", port: 8080))])
        XCTAssertNil(s.admin)
        XCTAssertEqual(s.upstreams["u"], UpstreamConfig(name: "u", servers: [HostPort(host: "127.0.0.1", port: 9001)]))
        let u = try XCTUnwrap(s.upstreams["u"])
        XCTAssertEqual(u.dialect, "auto")
        XCTAssertNil(u.tls)
        XCTAssertEqual(u.maxConnections, 256)
        XCTAssertEqual(u.maxIdleConnections, 64)
        XCTAssertEqual(u.timeouts, UpstreamTimeouts(connect: .seconds(2), responseHead: .seconds(30), idle: .seconds(60)))
        XCTAssertEqual(u.passiveHealth, PassiveHealth(failures: 3, cooldown: .seconds(10)))
        XCTAssertEqual(s.routes.routes, [Route(name: "route0", host: nil, pathPrefix: "/", methods: nil, upstream: "u",
                                               stripPrefix: false, rateLimits: [], dialect: nil)])
        XCTAssertTrue(s.rateLimits.isEmpty)
        XCTAssertTrue(s.dialects.isEmpty)
        XCTAssertEqual(s.errors.render, ErrorRenderOptions(format: .flat, problemJSON: .negotiate, problemTypeBase: nil))
        XCTAssertFalse(s.errors.exposeUpstreamAddresses)
        XCTAssertEqual(s.limits.headerBytes, 64 * 1024)
        XCTAssertEqual(s.limits.uriBytes, 8 * 1024)
        XCTAssertEqual(s.limits.requestBodyBytes, 10 * 1024 * 1024)
        XCTAssertEqual(s.limits.errorBodyBytes, 64 * 1024)
        XCTAssertEqual(s.limits.maxConnections, 10_000)
        XCTAssertEqual(s.limits.h2MaxConcurrentStreams, 128)
        XCTAssertEqual(s.timeouts, ClientTimeouts(clientHeader: .seconds(10), clientIdle: .seconds(60), drain: .seconds(30)))
        XCTAssertEqual(s.accessLog.to, .stdout)
        XCTAssertEqual(s.accessLog.format, "json")
        XCTAssertTrue(s.trustedProxies.isEmpty)
        XCTAssertNil(s.workers)
        XCTAssertNil(s.rateLimitStore)
    }

    func testNullMeansAbsentForKeysWhoseDefaultIsNone() throws {
        let s = try XCTUnwrap(snapshot(document(
            listeners: #"[{"address": "127.0.0.1:8080", "tls": null}]"#,
            upstreams: #"{"u": {"servers": ["127.0.0.1:9001"], "tls": null}}"#,
            routes: #"[{"upstream": "u", "host": null, "methods": null, "dialect": null}]"#,
            #""admin": null, "workers": null, "rate_limit_store": null, "errors": {"problem_type_base": null}"#)))
        XCTAssertNil(s.admin)
        XCTAssertNil(s.listeners[0].tls)
        XCTAssertNil(s.routes.routes[0].host)
        XCTAssertNil(s.routes.routes[0].methods)
        XCTAssertNil(s.workers)
        XCTAssertNil(s.errors.render.problemTypeBase)
        XCTAssertEqual(problems(document(routes: #"[{"upstream": "u", "strip_prefix": null}]"#)),
                       ["routes[0].strip_prefix: expected a boolean (true or false), found null"])
    }

    // MARK: Problems and their paths

    func testListenersAndRoutesAreRequired() {
        XCTAssertEqual(problems("{}"), ["listeners: required key is missing", "routes: required key is missing"])
        XCTAssertEqual(problems(#"{"listeners": [], "routes": []}"#),
                       ["listeners: must not be empty", "routes: must not be empty"])
    }

    func testAnUnknownUpstreamIsNamedWithItsPath() {
        let json = document(upstreams: #"{"billing": {"servers": ["127.0.0.1:1"]}}"#,
                            routes: #"[{"upstream": "billing"}, {"upstream": "billing"}, {"upstream": "biling"}]"#)
        assertProblem(json, #"routes[2].upstream: unknown upstream "biling""#)
    }

    func testUnknownKeysAreProblemsAtEveryLevel() {
        let json = """
        {"listeners": [{"address": "127.0.0.1:8080", "tsl": null}],
         "upstreams": {"u": {"servers": ["127.0.0.1:1"], "timeouts": {"conect": "1s"}, "weight": 3}},
         "routes": [{"upstrem": "u", "upstream": "u"}],
         "rate_limits": {"r": {"key": "global", "rate": 1, "per": "1s", "brust": 2}},
         "limits": {"Header-Bytes": 1},
         "listner": []}
        """
        XCTAssertEqual(problems(json), [
            #"listner: unknown key (did you mean "listeners"?)"#,
            #"listeners[0].tsl: unknown key (did you mean "tls"?)"#,
            "upstreams.u.weight: unknown key",
            #"upstreams.u.timeouts.conect: unknown key (did you mean "connect"?)"#,
            #"routes[0].upstrem: unknown key (did you mean "upstream"?)"#,
            #"rate_limits.r.brust: unknown key (did you mean "burst"?)"#,
            #"limits.Header-Bytes: unknown key (did you mean "header_bytes"?)"#,
        ])
    }

    func testADuplicateKeyIsAProblem() {
        let json = """
        {"listeners": [{"address": "127.0.0.1:8080"}],
         "upstreams": {"u": {"servers": ["127.0.0.1:1"]},
                       "u": {"servers": ["127.0.0.1:2"], "max_connections": 2, "max_connections": 3}},
         "routes": [{"upstream": "u"}], "routes": [{"upstream": "u"}]}
        """
        XCTAssertEqual(problems(json), ["routes: duplicate key", "upstreams.u: duplicate key",
                                        "upstreams.u.max_connections: duplicate key"])
    }

    func testTypeErrorsNameTheExpectedType() {
        let json = document(listeners: #"{"address": "127.0.0.1:8080"}"#,
                            upstreams: #"{"u": {"servers": "127.0.0.1:1", "max_connections": "many"}}"#,
                            routes: #"[{"upstream": 7, "strip_prefix": "yes", "methods": "GET"}]"#,
                            #""limits": {"header_bytes": true, "max_connections": 1.5}, "errors": [], "workers": "4""#)
        XCTAssertEqual(problems(json), [
            "listeners: expected an array, found an object",
            "upstreams.u.servers: expected an array, found a string",
            "upstreams.u.max_connections: expected an integer, found a string",
            "routes[0].methods: expected an array, found a string",
            "routes[0].upstream: expected a string, found a number",
            "routes[0].strip_prefix: expected a boolean (true or false), found a string",
            "errors: expected an object, found an array",
            #"limits.header_bytes: expected a size in bytes, or a string with a unit B, KiB, MiB, GiB, KB, MB or GB ("64KiB"), found a boolean"#,
            "limits.max_connections: expected an integer, found 1.5",
            "workers: expected an integer, found a string",
        ])
    }

    func testEveryProblemIsReportedAtOnceOneLinePerProblem() {
        let json = document(listeners: #"[{"address": "127.0.0.1:99999"}, {}]"#,
                            upstreams: #"{"billing": {"servers": []}}"#,
                            routes: #"[{"upstream": "biling", "path_prefix": "api"}]"#,
                            #""timeouts": {"drain": "30"}"#)
        guard case .failure(let errors) = parse(json) else { return XCTFail("accepted") }
        XCTAssertEqual(errors.problems, [
            .init(path: "listeners[0].address", message: #"invalid address "127.0.0.1:99999": port 99999 is out of range (0-65535)"#),
            .init(path: "listeners[1].address", message: "required key is missing"),
            .init(path: "upstreams.billing.servers", message: "must not be empty"),
            .init(path: "routes[0].path_prefix", message: #"must start with "/", found "api""#),
            .init(path: "routes[0].upstream", message: #"unknown upstream "biling""#),
            .init(path: "timeouts.drain",
                  message: #"expected a duration with a unit ms, s, m or h ("250ms", "30s", "5m", "1h"), found "30""#),
        ])
        XCTAssertEqual(errors.description, errors.problems.map { "\($0.path): \($0.message)" }.joined(separator: "\n"))
        XCTAssertEqual(errors.description.split(separator: "\n").count, 6)
    }

    func testKeysThatAreNotIdentifiersArePrintedInBrackets() {
        let json = document(upstreams: #"{"billing.v2": {"servers": ["x:0"]}}"#, routes: #"[{"upstream": "billing.v2"}]"#)
        assertProblem(json, #"upstreams["billing.v2"].servers[0]: invalid address "x:0": port 0 is out of range (1-65535)"#)
    }

    func testInvalidJSONIsOneProblemWithLineAndColumn() {
        let errors = problems("{\n  \"listeners\": [\n    {\"address\" \"x\"}\n]}")
        XCTAssertEqual(errors.count, 1)
        XCTAssertTrue(errors[0].hasPrefix("invalid JSON at line 3, column 16:"), errors[0])
        assertProblem("[1, 2]", "expected an object, found an array")
    }

    func testTrailingCommasAreAccepted() {
        XCTAssertNotNil(snapshot(#"{"listeners": [{"address": "127.0.0.1:1"},], "upstreams": {"u": {"servers": ["h:1"]}}, "routes": [{"upstream": "u"}],}"#))
    }

    // MARK: Durations and sizes

    func testDurationSyntax() {
        XCTAssertEqual(DurationText.parse("250ms"), .milliseconds(250))
        XCTAssertEqual(DurationText.parse("30s"), .seconds(30))
        XCTAssertEqual(DurationText.parse("5m"), .seconds(300))
        XCTAssertEqual(DurationText.parse("1h"), .seconds(3600))
        XCTAssertEqual(DurationText.parse("0s"), .zero)
        for invalid in ["", "30", "s", "1.5s", "-1s", " 1s", "1 s", "1S", "1d", "1sec", "99999999999999999h"] {
            XCTAssertNil(DurationText.parse(invalid), invalid)
        }
    }

    func testDurationsInConfig() throws {
        let s = try XCTUnwrap(snapshot(document(
            upstreams: #"{"u": {"servers": ["h:1"], "timeouts": {"connect": "250ms", "response_head": "5m", "idle": "1h"}}}"#,
            #""timeouts": {"client_header": "1500ms"}, "rate_limit_store": {"redis": "127.0.0.1:6379", "timeout": "20ms"}"#)))
        XCTAssertEqual(s.upstreams["u"]?.timeouts,
                       UpstreamTimeouts(connect: .milliseconds(250), responseHead: .seconds(300), idle: .seconds(3600)))
        XCTAssertEqual(s.timeouts.clientHeader, .milliseconds(1500))
        XCTAssertEqual(s.timeouts.clientIdle, .seconds(60))
        XCTAssertEqual(s.rateLimitStore?.timeout, .milliseconds(20))
        XCTAssertEqual(problems(document(#""timeouts": {"client_idle": "0s", "drain": 30}"#)), [
            "timeouts.client_idle: must be longer than 0",
            #"timeouts.drain: expected a duration with a unit ms, s, m or h ("250ms", "30s", "5m", "1h"), found a number"#,
        ])
    }

    func testSizeSyntax() {
        XCTAssertEqual(ByteSize.parse("512B"), 512)
        XCTAssertEqual(ByteSize.parse("64KiB"), 65536)
        XCTAssertEqual(ByteSize.parse("10MiB"), 10_485_760)
        XCTAssertEqual(ByteSize.parse("2GiB"), 2_147_483_648)
        XCTAssertEqual(ByteSize.parse("8KB"), 8000)
        XCTAssertEqual(ByteSize.parse("8kB"), 8000)
        XCTAssertEqual(ByteSize.parse("3MB"), 3_000_000)
        XCTAssertEqual(ByteSize.parse("1GB"), 1_000_000_000)
        for invalid in ["", "64", "KiB", "64kib", "64 KiB", "1.5MiB", "-1B", "64K", "1TiB", "999999999999999999GiB"] {
            XCTAssertNil(ByteSize.parse(invalid), invalid)
        }
    }

    func testSizesInConfigAreIntegersInBytesOrStringsWithAUnit() throws {
        let s = try XCTUnwrap(snapshot(document(
            #""limits": {"header_bytes": 32768, "uri_bytes": "4KiB", "request_body_bytes": "1MB", "error_body_bytes": "1000B"}"#)))
        XCTAssertEqual(s.limits.headerBytes, 32768)
        XCTAssertEqual(s.limits.uriBytes, 4096)
        XCTAssertEqual(s.limits.requestBodyBytes, 1_000_000)
        XCTAssertEqual(s.limits.errorBodyBytes, 1000)
        XCTAssertEqual(problems(document(#""limits": {"header_bytes": -1, "uri_bytes": "0B", "error_body_bytes": "64 KiB"}"#)), [
            "limits.header_bytes: must be at least 1, found -1",
            "limits.uri_bytes: must be at least 1 bytes",
            #"limits.error_body_bytes: expected a size in bytes, or a string with a unit B, KiB, MiB, GiB, KB, MB or GB ("64KiB"), found "64 KiB""#,
        ])
    }

    // MARK: Addresses

    func testAddressSyntax() {
        XCTAssertEqual(try HostPort.parse("[::]:8443").get(), HostPort(host: "::", port: 8443))
        XCTAssertEqual(try HostPort.parse("[2001:db8::1]:443").get(), HostPort(host: "2001:db8::1", port: 443))
        XCTAssertEqual(try HostPort.parse("accounts.internal:443").get(), HostPort(host: "accounts.internal", port: 443))
        XCTAssertEqual(try HostPort.parse("10.0.0.1:65535").get(), HostPort(host: "10.0.0.1", port: 65535))
        XCTAssertEqual(try HostPort.parse("127.0.0.1:0", allowPortZero: true).get(), HostPort(host: "127.0.0.1", port: 0))
        let messages: [(String, String)] = [
            ("127.0.0.1:0", "port 0 is out of range (1-65535)"),
            ("127.0.0.1:65536", "port 65536 is out of range (1-65535)"),
            ("127.0.0.1", #"missing ":port" (host:port)"#),
            ("127.0.0.1:", #"invalid port ""; expected a decimal number"#),
            ("127.0.0.1:+80", #"invalid port "+80"; expected a decimal number"#),
            (":80", #"missing host before ":port""#),
            ("::1:80", "an IPv6 address must be written in brackets ([::1]:8080)"),
            ("[::1:80", #"missing "]" after an IPv6 address"#),
            ("[::1]", #"missing ":port" after "]""#),
            ("[127.0.0.1]:80", #""127.0.0.1" in brackets is not an IPv6 address"#),
            ("300.1.1.1:80", #""300.1.1.1" is not an IPv4 address"#),
            ("bad host:80", #""bad host" is not a host name or an IP address"#),
            ("a..b:80", #""a..b" is not a host name or an IP address"#),
        ]
        for (text, message) in messages {
            guard case .failure(let error) = HostPort.parse(text) else {
                XCTFail("accepted \(text)")
                continue
            }
            XCTAssertEqual(error.message, message, text)
        }
    }

    func testListenerAddressesAllowPortZeroAndMustBeDistinct() throws {
        let s = try XCTUnwrap(snapshot(document(listeners: #"[{"address": "127.0.0.1:0"}, {"address": "[::1]:0"}]"#,
                                                #""admin": {"address": "127.0.0.1:0"}"#)))
        XCTAssertEqual(s.listeners.map(\.address), [HostPort(host: "127.0.0.1", port: 0), HostPort(host: "::1", port: 0)])
        XCTAssertEqual(s.admin, HostPort(host: "127.0.0.1", port: 0))
        XCTAssertEqual(problems(document(listeners: #"[{"address": "0.0.0.0:8080"}, {"address": "0.0.0.0:8080"}]"#,
                                         #""admin": {"address": "0.0.0.0:8080"}"#)), [
            "listeners[1].address: same address as listeners[0]",
            "admin.address: same address as listeners[0]",
        ])
        XCTAssertEqual(problems(document(#""admin": {"port": 9901}"#)),
                       ["admin.port: unknown key", "admin.address: required key is missing"])
    }

    func testUpstreamServersNeedARealPortAndMayBeHostNames() throws {
        let s = try XCTUnwrap(snapshot(document(upstreams: #"{"u": {"servers": ["accounts.internal:443", "[fd00::5]:80"]}}"#)))
        XCTAssertEqual(s.upstreams["u"]?.servers, [HostPort(host: "accounts.internal", port: 443), HostPort(host: "fd00::5", port: 80)])
        assertProblem(document(upstreams: #"{"u": {"servers": ["h:1", "h:0"]}}"#),
                      #"upstreams.u.servers[1]: invalid address "h:0": port 0 is out of range (1-65535)"#)
    }

    // MARK: Listener TLS and files

    func testListenerTLSDefaultsAndVersions() throws {
        let tls = #"{"certificates": [{"cert": "tls/api.pem", "key": "tls/api.key"}]"#
        let s = try XCTUnwrap(snapshot(document(listeners: #"[{"address": "127.0.0.1:8443", "tls": \#(tls)}}]"#)))
        XCTAssertEqual(s.listeners[0].tls, ListenerTLSConfig(
            certificates: [.init(cert: folder + "/tls/api.pem", key: folder + "/tls/api.key")],
            minVersion: .tls12, alpn: ["h2", "http/1.1"], clientCA: nil))
        let v13 = try XCTUnwrap(snapshot(document(listeners:
            #"[{"address": "127.0.0.1:8443", "tls": \#(tls), "min_version": "1.3", "alpn": ["http/1.1"], "client_ca": "tls/clients.pem"}}]"#)))
        XCTAssertEqual(v13.listeners[0].tls?.minVersion, .tls13)
        XCTAssertEqual(v13.listeners[0].tls?.alpn, ["http/1.1"])
        XCTAssertEqual(v13.listeners[0].tls?.clientCA, folder + "/tls/clients.pem")

        func tlsProblems(_ extra: String) -> [String] {
            problems(document(listeners: #"[{"address": "127.0.0.1:8443", "tls": \#(tls), \#(extra)}}]"#))
        }
        XCTAssertEqual(tlsProblems(#""min_version": "1.1""#), ["listeners[0].tls.min_version: TLS versions below 1.2 are not supported"])
        XCTAssertEqual(tlsProblems(#""min_version": "1.0""#), ["listeners[0].tls.min_version: TLS versions below 1.2 are not supported"])
        XCTAssertEqual(tlsProblems(#""min_version": "2""#), [#"listeners[0].tls.min_version: expected "1.2" or "1.3", found "2""#])
        XCTAssertEqual(tlsProblems(#""min_version": 1.2"#),
                       [#"listeners[0].tls.min_version: expected a string ("1.2" or "1.3"), found a number"#])
        XCTAssertEqual(tlsProblems(#""alpn": []"#), ["listeners[0].tls.alpn: must not be empty"])
        XCTAssertEqual(tlsProblems(#""alpn": ["h2", "spdy/3", "h2"]"#), [
            #"listeners[0].tls.alpn[1]: unsupported protocol "spdy/3"; expected "h2" or "http/1.1""#,
            #"listeners[0].tls.alpn[2]: "h2" is listed twice"#,
        ])
    }

    func testTLSFilesMustExistAndBeReadable() {
        let json = document(listeners: """
            [{"address": "127.0.0.1:8443",
              "tls": {"certificates": [{"cert": "tls/missing.pem", "key": "tls/api.key"}, {"cert": "tls", "key": ""}],
                      "client_ca": "/nonexistent/ca.pem"}}]
            """, upstreams: #"{"u": {"servers": ["h:1"], "tls": {"ca": "missing-ca.crt", "verify": "no"}}}"#)
        XCTAssertEqual(problems(json), [
            #"listeners[0].tls.certificates[0].cert: cannot read "\#(folder)/tls/missing.pem": No such file or directory"#,
            #"listeners[0].tls.certificates[1].cert: cannot read "\#(folder)/tls": not a regular file"#,
            "listeners[0].tls.certificates[1].key: must not be empty",
            #"listeners[0].tls.client_ca: cannot read "/nonexistent/ca.pem": No such file or directory"#,
            "upstreams.u.tls.verify: expected a boolean (true or false), found a string",
            #"upstreams.u.tls.ca: cannot read "\#(folder)/missing-ca.crt": No such file or directory"#,
        ])
        assertProblem(document(listeners: #"[{"address": "127.0.0.1:8443", "tls": {"certificates": []}}]"#),
                      "listeners[0].tls.certificates: must not be empty")
        assertProblem(document(listeners: #"[{"address": "127.0.0.1:8443", "tls": {}}]"#),
                      "listeners[0].tls.certificates: required key is missing")
    }

    func testRelativePathsResolveAgainstTheConfigFilesFolder() throws {
        let configPath = folder + "/config.json"
        let json = document(listeners: #"[{"address": "127.0.0.1:8443", "tls": {"certificates": [{"cert": "tls/api.pem", "key": "./tls/api.key"}]}}]"#,
                            upstreams: #"{"u": {"servers": ["h:1"], "tls": {"ca": "ca.crt", "verify": false}}}"#,
                            #""access_log": {"to": "logs-access.json"}"#)
        try Data(json.utf8).write(to: URL(fileURLWithPath: configPath))
        let s = try ConfigLoader.load(path: configPath).get()
        XCTAssertEqual(s.listeners[0].tls?.certificates, [.init(cert: folder + "/tls/api.pem", key: folder + "/./tls/api.key")])
        XCTAssertEqual(s.upstreams["u"]?.tls, UpstreamTLSConfig(verify: false, ca: folder + "/ca.crt", serverName: nil))
        XCTAssertEqual(s.accessLog.to, .file(folder + "/logs-access.json"))

        let elsewhere = NSTemporaryDirectory() + "errata-elsewhere-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        XCTAssertEqual(problems(json, base: elsewhere).first,
                       #"listeners[0].tls.certificates[0].cert: cannot read "\#(elsewhere)/tls/api.pem": No such file or directory"#)
    }

    func testTheBaseDirectoryIsTheConfigFilesFolderMadeAbsolute() {
        let cwd = FileManager.default.currentDirectoryPath
        XCTAssertEqual(ConfigFiles.directory(of: "/etc/errata/config.json"), "/etc/errata")
        XCTAssertEqual(ConfigFiles.directory(of: "/config.json"), "/")
        XCTAssertEqual(ConfigFiles.directory(of: "config.json"), cwd)
        XCTAssertEqual(ConfigFiles.directory(of: "conf/errata.json"), cwd + "/conf")
        XCTAssertEqual(ConfigFiles.resolve("tls/a.pem", against: "/etc/errata"), "/etc/errata/tls/a.pem")
        XCTAssertEqual(ConfigFiles.resolve("/abs/a.pem", against: "/etc/errata"), "/abs/a.pem")
        XCTAssertEqual(ConfigFiles.resolve("a.pem", against: "/"), "/a.pem")
    }

    func testLoadReportsAFileThatCannotBeRead() {
        let path = folder + "/absent.json"
        guard case .failure(let e) = ConfigLoader.load(path: path) else { return XCTFail("loaded a missing file") }
        XCTAssertEqual(e.problems, [.init(path: path, message: "cannot read config file: No such file or directory")])
    }

    // MARK: Upstreams

    func testUpstreamConnectionLimitsAndHealth() throws {
        let s = try XCTUnwrap(snapshot(document(upstreams: """
            {"u": {"servers": ["h:1"], "max_connections": 8},
             "v": {"servers": ["h:2"], "max_connections": 8, "max_idle_connections": 0,
                   "passive_health": {"failures": 1, "cooldown": "1m"}}}
            """, routes: #"[{"upstream": "u"}, {"upstream": "v"}]"#)))
        XCTAssertEqual(s.upstreams["u"]?.maxIdleConnections, 8, "the default idle limit never exceeds max_connections")
        XCTAssertEqual(s.upstreams["v"]?.maxIdleConnections, 0)
        XCTAssertEqual(s.upstreams["v"]?.passiveHealth, PassiveHealth(failures: 1, cooldown: .seconds(60)))
        XCTAssertEqual(problems(document(upstreams: """
            {"u": {"servers": ["h:1"], "max_connections": 0, "max_idle_connections": -1, "passive_health": {"failures": 0}},
             "v": {"servers": ["h:1"], "max_connections": 4, "max_idle_connections": 5}}
            """)), [
            "upstreams.u.max_connections: must be at least 1, found 0",
            "upstreams.u.max_idle_connections: must be at least 0, found -1",
            "upstreams.u.passive_health.failures: must be at least 1, found 0",
            "upstreams.v.max_idle_connections: must not exceed max_connections (4), found 5",
        ])
        assertProblem(document(upstreams: #"{"u": {}}"#), "upstreams.u.servers: required key is missing")
        assertProblem(document(upstreams: #"{"u": {"servers": ["h:1"], "tls": {"server_name": ""}}}"#),
                      "upstreams.u.tls.server_name: must not be empty")
    }

    func testUpstreamTLSDefaults() throws {
        let s = try XCTUnwrap(snapshot(document(upstreams: #"{"u": {"servers": ["h:443"], "tls": {}}}"#)))
        XCTAssertEqual(s.upstreams["u"]?.tls, UpstreamTLSConfig(verify: true, ca: nil, serverName: nil))
    }

    // MARK: Routes

    func testRouteNamesDefaultToTheirIndexAndMustBeUnique() throws {
        let s = try XCTUnwrap(snapshot(document(routes: #"[{"upstream": "u", "path_prefix": "/a/"}, {"name": "main", "upstream": "u"}, {"upstream": "u"}]"#)))
        XCTAssertEqual(s.routes.routes.map(\.name), ["route0", "main", "route2"])
        XCTAssertEqual(s.routes.routes.map(\.pathPrefix), ["/a/", "/", "/"], "routes keep file order")
        XCTAssertEqual(problems(document(routes: """
            [{"name": "a", "upstream": "u"}, {"name": "a", "upstream": "u"}, {"name": "route3", "upstream": "u"}, {"upstream": "u"},
             {"name": "", "upstream": "u"}]
            """)), [
            #"routes[1].name: duplicate route name "a" (also routes[0])"#,
            #"routes[3]: duplicate route name "route3" (also routes[2])"#,
            "routes[4].name: must not be empty",
        ])
    }

    func testRouteMatchingFields() throws {
        let s = try XCTUnwrap(snapshot(document(routes: """
            [{"host": "*.Example.com", "path_prefix": "/v1/", "methods": ["GET", "M-SEARCH"], "upstream": "u", "strip_prefix": true}]
            """)))
        let route = try XCTUnwrap(s.routes.routes.first)
        XCTAssertEqual(route.host, .wildcard(suffix: ".example.com"))
        XCTAssertEqual(route.methods, ["GET", "M-SEARCH"])
        XCTAssertTrue(route.stripPrefix)
        XCTAssertEqual(s.routes.match(host: "a.example.com:443", path: "/v1/x", method: "GET")?.forwardedPath("/v1/x"), "/x")
        XCTAssertEqual(problems(document(routes: """
            [{"host": "api.example.com:8080", "path_prefix": "/a/../b", "methods": ["get", ""], "upstream": "u"},
             {"host": "*", "path_prefix": "/a?x", "methods": [], "upstream": "u"}]
            """)), [
            #"routes[0].host: invalid host pattern "api.example.com:8080"; expected a host name (api.example.com) or *.example.com"#,
            #"routes[0].path_prefix: contains a "." or ".." segment; request paths are matched with those removed, so it would never match"#,
            #"routes[0].methods[0]: expected an upper-case method name ("GET"), found "get""#,
            #"routes[0].methods[1]: expected an upper-case method name ("GET"), found """#,
            #"routes[1].host: invalid host pattern "*"; expected a host name (api.example.com) or *.example.com"#,
            ##"routes[1].path_prefix: must be a path only; "?" and "#" never occur in a request path"##,
            "routes[1].methods: must not be empty",
        ])
    }

    func testRouteReferencesMustNameDeclaredPoliciesAndDialects() {
        let json = document(upstreams: #"{"u": {"servers": ["h:1"], "dialect": "legacy"}}"#,
                            routes: #"[{"upstream": "u", "rate_limits": ["global", "globl", "global"], "dialect": "envelope"}]"#,
                            #""rate_limits": {"global": {"key": "global", "rate": 10, "per": "1s"}}"#)
        XCTAssertEqual(problems(json), [
            #"upstreams.u.dialect: unknown dialect "legacy""#,
            #"routes[0].rate_limits[1]: unknown rate limit policy "globl""#,
            #"routes[0].rate_limits[2]: "global" is listed twice"#,
            #"routes[0].dialect: unknown dialect "envelope""#,
        ])
    }

    func testAReferenceToADeclaredButInvalidEntryIsNotAlsoUnknown() {
        let json = document(upstreams: #"{"u": {"servers": []}}"#,
                            routes: #"[{"upstream": "u", "rate_limits": ["r"]}]"#,
                            #""rate_limits": {"r": {"key": "global", "rate": 0, "per": "1s"}}"#)
        XCTAssertEqual(problems(json), ["upstreams.u.servers: must not be empty", "rate_limits.r.rate: must be at least 1, found 0"])
    }

    // MARK: Rate limits

    func testRateLimitPolicies() throws {
        let s = try XCTUnwrap(snapshot(document(#"""
            "rate_limits": {"a": {"key": "client_ip", "rate": 10, "per": "1m"},
                            "b": {"key": "route", "rate": 1, "per": "250ms", "burst": 3, "max_keys": 50},
                            "c": {"key": "header:X-Api-Key", "rate": 5, "per": "1s"}}
            """#)))
        XCTAssertEqual(s.rateLimits["a"], RateLimitPolicy(name: "a", key: .clientIP, rate: 10, per: .seconds(60), burst: 10,
                                                          maxKeys: 100_000))
        XCTAssertEqual(s.rateLimits["b"], RateLimitPolicy(name: "b", key: .route, rate: 1, per: .milliseconds(250), burst: 3,
                                                          maxKeys: 50))
        XCTAssertEqual(s.rateLimits["c"]?.key, .header("X-Api-Key"))
        XCTAssertEqual(problems(document(#"""
            "rate_limits": {"a": {"key": "ip", "rate": 1.5, "per": "0ms", "burst": 0, "max_keys": 0},
                            "b": {"key": "header:", "per": "1s"},
                            "c": {"key": "header:Bad Name", "rate": 1, "per": "1s"},
                            "d": {"rate": 1, "per": "1s"}}
            """#)), [
            #"rate_limits.a.key: expected "global", "client_ip", "route" or "header:NAME", found "ip""#,
            "rate_limits.a.rate: expected an integer, found 1.5",
            "rate_limits.a.per: must be longer than 0",
            "rate_limits.a.burst: must be at least 1, found 0",
            "rate_limits.a.max_keys: must be at least 1, found 0",
            #"rate_limits.b.key: invalid header name "" in "header:""#,
            "rate_limits.b.rate: required key is missing",
            #"rate_limits.c.key: invalid header name "Bad Name" in "header:Bad Name""#,
            "rate_limits.d.key: required key is missing",
        ])
    }

    // MARK: Dialects

    func testDialectsAreCompiledAndAutoCannotBeRedefined() throws {
        let s = try XCTUnwrap(snapshot(document(upstreams: #"{"u": {"servers": ["h:1"], "dialect": "legacy"}}"#,
                                                #""dialects": {"legacy": {"code": {"from": ["/code"]}}}"#)))
        XCTAssertEqual(s.dialects["legacy"]?.name, "legacy")
        XCTAssertEqual(s.dialect(route: s.routes.routes[0], upstream: try XCTUnwrap(s.upstreams["u"])).name, "legacy")
        XCTAssertEqual(problems(document(#""dialects": {"auto": {}, "x": []}"#)), [
            #"dialects.auto: "auto" is built in and cannot be redefined"#,
            "dialects.x: expected an object, found an array",
        ])
        XCTAssertNotNil(snapshot(document(upstreams: #"{"u": {"servers": ["h:1"], "dialect": "auto"}}"#,
                                          routes: #"[{"upstream": "u", "dialect": "auto"}]"#)))
    }

    // MARK: Other sections

    func testErrorsSection() throws {
        let s = try XCTUnwrap(snapshot(document(
            #""errors": {"format": "wrapped", "problem_json": "always", "problem_type_base": "https://errors.example.com/", "expose_upstream_addresses": true}"#)))
        XCTAssertEqual(s.errors, ErrorsConfig(render: ErrorRenderOptions(format: .wrapped, problemJSON: .always,
                                                                         problemTypeBase: "https://errors.example.com/"),
                                              exposeUpstreamAddresses: true))
        XCTAssertEqual(problems(document(#""errors": {"format": "nested", "problem_json": true, "expose_upstream_addresses": 1}"#)), [
            #"errors.format: expected "flat" or "wrapped", found "nested""#,
            #"errors.problem_json: expected "never", "negotiate" or "always", found a boolean"#,
            "errors.expose_upstream_addresses: expected a boolean (true or false), found a number",
        ])
    }

    func testAccessLogDestinations() throws {
        XCTAssertEqual(try XCTUnwrap(snapshot(document(#""access_log": {"to": "stderr"}"#))).accessLog.to, .stderr)
        XCTAssertEqual(try XCTUnwrap(snapshot(document(#""access_log": {"to": "off"}"#))).accessLog.to, .off)
        XCTAssertEqual(try XCTUnwrap(snapshot(document(#""access_log": {"to": "/dev/null"}"#))).accessLog.to, .file("/dev/null"))
        XCTAssertEqual(try XCTUnwrap(snapshot(document(#""access_log": {"to": "access.log"}"#))).accessLog.to,
                       .file(folder + "/access.log"))
        XCTAssertEqual(problems(document(#""access_log": {"to": "no-such-folder/access.log", "format": "text"}"#)), [
            #"access_log.to: cannot write "\#(folder)/no-such-folder/access.log": folder \#(folder)/no-such-folder: No such file or directory"#,
            #"access_log.format: expected "json", found "text""#,
        ])
    }

    func testTrustedProxiesAreCIDRRangesOrBareAddresses() throws {
        let s = try XCTUnwrap(snapshot(document(#""trusted_proxies": ["10.0.0.0/8", "192.0.2.7", "::1", "fd00::/8"]"#)))
        XCTAssertEqual(s.trustedProxies.map(\.prefix), [104, 128, 128, 8])
        XCTAssertTrue(s.isTrustedProxy("10.20.30.40"))
        XCTAssertTrue(s.isTrustedProxy("192.0.2.7"))
        XCTAssertFalse(s.isTrustedProxy("192.0.2.8"))
        XCTAssertTrue(s.isTrustedProxy("::1"))
        XCTAssertTrue(s.isTrustedProxy("fd12::1"))
        XCTAssertEqual(problems(document(#""trusted_proxies": ["10.0.0.0/33", "localhost", 5]"#)), [
            #"trusted_proxies[0]: invalid address or CIDR range "10.0.0.0/33""#,
            #"trusted_proxies[1]: invalid address or CIDR range "localhost""#,
            "trusted_proxies[2]: expected a string, found a number",
        ])
    }

    func testWorkersAndRateLimitStore() throws {
        let s = try XCTUnwrap(snapshot(document(#""workers": 4, "rate_limit_store": {"redis": "redis.internal:6379", "on_failure": "deny"}"#)))
        XCTAssertEqual(s.workers, 4)
        XCTAssertEqual(s.rateLimitStore, RateLimitStoreConfig(redis: HostPort(host: "redis.internal", port: 6379),
                                                              onFailure: .deny, timeout: .milliseconds(50)))
        XCTAssertEqual(problems(document(#""workers": 0, "rate_limit_store": {"on_failure": "retry"}"#)), [
            "workers: must be at least 1, found 0",
            "rate_limit_store.redis: required key is missing",
            #"rate_limit_store.on_failure: expected "local", "allow" or "deny", found "retry""#,
        ])
    }
}
