#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// systemd/errata.service, its sysusers.d and tmpfiles.d files, systemd/config.json and
/// `make install`, checked with systemd's own tools and the built binary.
final class SystemdUnitTests: XCTestCase {
    private var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    private var binary: URL { repository.appendingPathComponent(".build/debug/errata") }
    private var systemdFolder: URL { repository.appendingPathComponent("systemd") }
    private var unit: URL { systemdFolder.appendingPathComponent("errata.service") }
    private var shippedConfig: URL { systemdFolder.appendingPathComponent("config.json") }

    /// The paths the unit names on a default (`PREFIX=/usr/local`) install.
    private let installedBinary = "/usr/local/bin/errata"
    private let installedConfig = "/etc/errata/config.json"

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "build the errata product first")
    }

    // MARK: - Helpers

    /// An executable found on PATH (or in /usr/bin, /bin), nil when absent.
    private func tool(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders = path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        return folders.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private func requireSystemdAnalyze() throws -> String {
        guard let path = tool("systemd-analyze") else {
            throw XCTSkip("systemd-analyze is missing: `make deps` installs the systemd package")
        }
        return path
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["SYSTEMD_PAGER"] = "cat"
        environment["SYSTEMD_COLORS"] = "0"
        environment.removeValue(forKey: "MAKEFLAGS") // a parent make's flags must not leak into ours
        environment.removeValue(forKey: "MFLAGS")
        return try runToCompletion(URL(fileURLWithPath: executable), arguments, environment: environment)
    }

    private func temporaryFolder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("errata-systemd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// systemd/config.json with `access_log.to` moved into `folder`, which exists here
    /// (/var/log/errata only exists once the package is installed).
    private func configCopy(in folder: URL) throws -> URL {
        let text = try String(contentsOf: shippedConfig, encoding: .utf8)
        let moved = text.replacingOccurrences(of: "/var/log/errata/access.log",
                                              with: folder.appendingPathComponent("access.log").path)
        XCTAssertNotEqual(moved, text, "systemd/config.json should log to /var/log/errata/access.log")
        let file = folder.appendingPathComponent("config.json")
        try moved.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// A copy of the unit that `systemd-analyze verify` can check on this machine.
    ///
    /// What verify needs in a container with no running systemd (found by trying): it loads
    /// the unit offline and does not look up `User=errata` or `/etc/errata`
    /// (`ConfigurationDirectory=`), so neither needs changing; it does require every `Exec*=`
    /// path to be an existing executable, and /usr/local/bin/errata is not installed here, so
    /// the copy points ExecStartPre/ExecStart/ExecReload at the built binary (and at a config
    /// copy, so the lines stay runnable as written). The file keeps its name: verify takes the
    /// unit's name and type from it.
    private func unitCopy(in folder: URL, appending extra: String = "") throws -> URL {
        let config = try configCopy(in: folder)
        let text = try String(contentsOf: unit, encoding: .utf8)
            .replacingOccurrences(of: installedBinary, with: binary.path)
            .replacingOccurrences(of: installedConfig, with: config.path)
        let file = folder.appendingPathComponent("errata.service")
        try (text + extra).write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// One section of a unit file as key → values in file order (a key may repeat).
    private func section(_ name: String, of text: String) -> [String: [String]] {
        var values: [String: [String]] = [:]
        var current = ""
        var pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = pending + raw.trimmingCharacters(in: .whitespaces)
            pending = ""
            if line.hasSuffix("\\") { pending = String(line.dropLast()) + " "; continue }
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") { current = line; continue }
            guard current == "[\(name)]", let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            line = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            values[key, default: []].append(line)
        }
        return values
    }

    /// A systemd time span ("45s", "1min 30s", "90") in seconds.
    private func seconds(_ span: String) -> Double? {
        var total = 0.0
        for part in span.split(separator: " ") {
            let digits = part.prefix { $0.isNumber || $0 == "." }
            guard let number = Double(digits) else { return nil }
            switch part.dropFirst(digits.count) {
            case "", "s", "sec": total += number
            case "min", "m": total += number * 60
            case "ms": total += number / 1000
            case "h": total += number * 3600
            default: return nil
            }
        }
        return total
    }

    // MARK: - (a) systemd-analyze verify

    func testVerifyAcceptsTheUnit() throws {
        let analyze = try requireSystemdAnalyze()
        let folder = try temporaryFolder()
        let copy = try unitCopy(in: folder)
        let result = try run(analyze, ["verify", copy.path])
        XCTAssertEqual(result.status, 0, result.output)
        // verify exits 0 on directives it ignores ("Unknown key name", "Failed to parse"):
        // the complaint is only in the output, so no line may mention the unit.
        let complaints = result.output.split(separator: "\n").filter {
            $0.contains("errata.service") || $0.contains(folder.path)
        }
        XCTAssertEqual(complaints, [], result.output)
    }

    /// The output check above can fail: a copy with a bad directive is complained about.
    func testVerifyComplaintsAreSeen() throws {
        let analyze = try requireSystemdAnalyze()
        let folder = try temporaryFolder()
        let copy = try unitCopy(in: folder, appending: "\n[Service]\nRestart=sometimes\n")
        let result = try run(analyze, ["verify", copy.path])
        XCTAssertTrue(result.output.contains("errata.service") && result.output.contains("sometimes"), result.output)
    }

    // MARK: - (b) the directives

    func testServiceSectionHasTheRequiredDirectives() throws {
        let service = section("Service", of: try String(contentsOf: unit, encoding: .utf8))

        XCTAssertEqual(service["Type"], ["notify"])
        XCTAssertEqual(service["NotifyAccess"], ["main"])
        XCTAssertEqual(service["User"], ["errata"])
        XCTAssertEqual(service["ExecStart"], ["\(installedBinary) --config \(installedConfig)"])
        XCTAssertEqual(service["ExecStartPre"], ["\(installedBinary) check --config \(installedConfig)"])
        // Check first, then the signal: systemd runs ExecReload lines in order and stops at the
        // first failure, so a broken file never gets a SIGHUP.
        XCTAssertEqual(service["ExecReload"], ["\(installedBinary) check --config \(installedConfig)",
                                               "/bin/kill -HUP $MAINPID"])
        XCTAssertEqual(service["Restart"], ["on-failure"])

        let watchdog = try XCTUnwrap(service["WatchdogSec"]?.last.flatMap(seconds))
        XCTAssertGreaterThan(watchdog, 0)
        // Longer than the default 30 s drain (timeouts.drain), or systemd SIGKILLs a drain.
        let stop = try XCTUnwrap(service["TimeoutStopSec"]?.last.flatMap(seconds))
        XCTAssertGreaterThan(stop, 30)
        // A client socket and its upstream socket for each of limits.max_connections (10000).
        let files = try XCTUnwrap(service["LimitNOFILE"]?.last.flatMap { Int($0) })
        XCTAssertGreaterThanOrEqual(files, 2 * 10_000)

        let hardening: [String: String] = [
            "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
            "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "PrivateDevices": "yes",
            "DevicePolicy": "closed",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "SystemCallArchitectures": "native",
            "ConfigurationDirectory": "errata",
            "LogsDirectory": "errata",
            "ProtectKernelTunables": "yes",
            "ProtectKernelModules": "yes",
            "ProtectKernelLogs": "yes",
            "ProtectClock": "yes",
            "ProtectHostname": "yes",
            "ProtectControlGroups": "yes",
            "ProtectProc": "invisible",
            "ProcSubset": "pid",
            "RestrictNamespaces": "yes",
            "RestrictRealtime": "yes",
            "RestrictSUIDSGID": "yes",
            "LockPersonality": "yes",
            "MemoryDenyWriteExecute": "yes",
            "RemoveIPC": "yes",
            "UMask": "0027",
            "KeyringMode": "private",
            // Denied calls (libdispatch's setpriority) must fail, not kill the proxy.
            "SystemCallErrorNumber": "EPERM",
        ]
        for (key, value) in hardening.sorted(by: { $0.key < $1.key }) {
            XCTAssertEqual(service[key], [value], key)
        }
        XCTAssertEqual(service["SystemCallFilter"], ["@system-service", "~@privileged @resources"])
        // In a user namespace the ambient CAP_NET_BIND_SERVICE would not open port 443.
        XCTAssertNil(service["PrivateUsers"])
        XCTAssertNil(service["DynamicUser"], "the sysusers.d user owns /etc/errata/tls")
    }

    func testSysusersAndTmpfilesNameTheServiceUser() throws {
        let sysusers = try String(contentsOf: systemdFolder.appendingPathComponent("errata.sysusers"), encoding: .utf8)
        let users = sysusers.split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
        XCTAssertEqual(users, ["u errata"])

        let tmpfiles = try String(contentsOf: systemdFolder.appendingPathComponent("errata.tmpfiles"), encoding: .utf8)
        let lines = tmpfiles.split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).prefix(5).joined(separator: " ") }
        XCTAssertTrue(lines.contains("d /etc/errata/tls 0750 root errata"), "\(lines)")
        XCTAssertTrue(lines.contains("d /var/log/errata 0750 errata errata"), "\(lines)")
    }

    /// The shipped config logs into the unit's LogsDirectory= and listens for Prometheus on
    /// loopback only.
    func testShippedConfigMatchesTheUnit() throws {
        let service = section("Service", of: try String(contentsOf: unit, encoding: .utf8))
        let logs = try XCTUnwrap(service["LogsDirectory"]?.last)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: shippedConfig)) as? [String: Any]
        let config = try XCTUnwrap(object)
        let accessLog = try XCTUnwrap(config["access_log"] as? [String: Any])
        XCTAssertEqual(accessLog["to"] as? String, "/var/log/\(logs)/access.log")
        let admin = try XCTUnwrap(config["admin"] as? [String: Any])
        XCTAssertEqual(admin["address"] as? String, "127.0.0.1:9901")
        let listeners = try XCTUnwrap(config["listeners"] as? [[String: Any]])
        XCTAssertEqual(listeners.compactMap { $0["address"] as? String }, ["0.0.0.0:8080"])
    }

    // MARK: - (c) systemd-analyze security

    func testSecurityExposureIsAtMost2() throws {
        let analyze = try requireSystemdAnalyze()
        let folder = try temporaryFolder()
        let copy = try unitCopy(in: folder)
        let result = try run(analyze, ["security", "--offline=yes", copy.path])
        // "→ Overall exposure level for errata.service: 1.4 OK 🙂"
        let line = try XCTUnwrap(result.output.split(separator: "\n").first { $0.contains("Overall exposure level") },
                                 result.output)
        let afterColon = try XCTUnwrap(line.split(separator: ":").last)
        let exposure = try XCTUnwrap(afterColon.split(separator: " ").first.flatMap { Double($0) }, String(line))
        XCTAssertLessThanOrEqual(exposure, 2.0, result.output)
    }

    // MARK: - (d) make install

    func testMakeInstallPlacesTheFilesAndKeepsAnEditedConfig() throws {
        let make = try XCTUnwrap(tool("make"), "make is missing")
        let destination = try temporaryFolder()
        let prefix = "/opt/errata-test" // not the default, so the unit's rewriting shows
        let arguments = ["-C", repository.path, "install", "DESTDIR=\(destination.path)", "PREFIX=\(prefix)",
                         "ERRATA_BIN=\(binary.path)"]
        let staged = { (path: String) in destination.appendingPathComponent(String(path.dropFirst())) }

        let first = try run(make, arguments)
        XCTAssertEqual(first.status, 0, first.output)

        let installed = staged("\(prefix)/bin/errata")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: installed.path), first.output)
        XCTAssertEqual(try Data(contentsOf: installed), try Data(contentsOf: binary))

        let installedUnit = try String(contentsOf: staged("/etc/systemd/system/errata.service"), encoding: .utf8)
        let expectedUnit = try String(contentsOf: unit, encoding: .utf8)
            .replacingOccurrences(of: installedBinary, with: "\(prefix)/bin/errata")
        XCTAssertEqual(installedUnit, expectedUnit)
        let service = section("Service", of: installedUnit)
        XCTAssertEqual(service["ExecStart"], ["\(prefix)/bin/errata --config \(installedConfig)"])
        XCTAssertFalse(installedUnit.contains(installedBinary))

        XCTAssertEqual(try Data(contentsOf: staged("/usr/lib/sysusers.d/errata.conf")),
                       try Data(contentsOf: systemdFolder.appendingPathComponent("errata.sysusers")))
        XCTAssertEqual(try Data(contentsOf: staged("/usr/lib/tmpfiles.d/errata.conf")),
                       try Data(contentsOf: systemdFolder.appendingPathComponent("errata.tmpfiles")))
        let config = staged(installedConfig)
        XCTAssertEqual(try Data(contentsOf: config), try Data(contentsOf: shippedConfig))
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: config.path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o640)

        // The operator edits the config; a second install (an upgrade) must keep it.
        let edited = #"{"listeners":[{"address":"127.0.0.1:8081"}],"upstreams":{"a":{"servers":["127.0.0.1:1"]}},"routes":[{"upstream":"a"}]}"#
        try edited.write(to: config, atomically: true, encoding: .utf8)
        let second = try run(make, arguments)
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertEqual(try String(contentsOf: config, encoding: .utf8), edited)
        XCTAssertTrue(second.output.contains("kept existing \(config.path)"), second.output)

        // uninstall removes what install put in place, but not the operator's /etc/errata.
        let uninstall = try run(make, ["-C", repository.path, "uninstall", "DESTDIR=\(destination.path)",
                                       "PREFIX=\(prefix)"])
        XCTAssertEqual(uninstall.status, 0, uninstall.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: installed.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: staged("/etc/systemd/system/errata.service").path))
        XCTAssertEqual(try String(contentsOf: config, encoding: .utf8), edited)
    }

    /// What `make install` runs without DESTDIR, applied to a staged tree with --root: the
    /// user exists, /etc/errata/tls is 0750 root:errata, the config 0640 root:errata and the log
    /// folder belongs to errata.
    func testSysusersAndTmpfilesCreateTheUserAndFolders() throws {
        guard let sysusers = tool("systemd-sysusers"), let tmpfiles = tool("systemd-tmpfiles") else {
            throw XCTSkip("systemd-sysusers or systemd-tmpfiles is missing: `make deps` installs the systemd package")
        }
        try XCTSkipUnless(getuid() == 0, "setting root:errata ownership needs root")
        let make = try XCTUnwrap(tool("make"), "make is missing")
        let root = try temporaryFolder()
        let install = try run(make, ["-C", repository.path, "install", "DESTDIR=\(root.path)",
                                     "ERRATA_BIN=\(binary.path)"])
        XCTAssertEqual(install.status, 0, install.output)
        // With --root, these read their configuration from inside the root.
        let users = try run(sysusers, ["--root=\(root.path)"])
        XCTAssertEqual(users.status, 0, users.output)
        let folders = try run(tmpfiles, ["--root=\(root.path)", "--create", "errata.conf"])
        XCTAssertEqual(folders.status, 0, folders.output)

        let passwd = try String(contentsOf: root.appendingPathComponent("etc/passwd"), encoding: .utf8)
        let entry = try XCTUnwrap(passwd.split(separator: "\n").first { $0.hasPrefix("errata:") }, passwd)
        let fields = entry.split(separator: ":", omittingEmptySubsequences: false)
        let uid = try XCTUnwrap(Int(fields[2])), gid = try XCTUnwrap(Int(fields[3]))
        XCTAssertNotEqual(uid, 0)
        XCTAssertTrue(fields.last?.hasSuffix("nologin") ?? false, String(entry))

        func owner(_ path: String) throws -> (mode: Int, uid: Int, gid: Int) {
            let attributes = try FileManager.default.attributesOfItem(atPath: root.appendingPathComponent(path).path)
            return (try XCTUnwrap(attributes[.posixPermissions] as? Int),
                    try XCTUnwrap((attributes[.ownerAccountID] as? NSNumber)?.intValue),
                    try XCTUnwrap((attributes[.groupOwnerAccountID] as? NSNumber)?.intValue))
        }
        let tls = try owner("etc/errata/tls")
        XCTAssertEqual([tls.mode, tls.uid, tls.gid], [0o750, 0, gid])
        let config = try owner("etc/errata/config.json")
        XCTAssertEqual([config.mode, config.uid, config.gid], [0o640, 0, gid])
        let logs = try owner("var/log/errata")
        XCTAssertEqual([logs.mode, logs.uid, logs.gid], [0o750, uid, gid])
    }

    // MARK: - (e) errata check on the shipped config

    func testCheckAcceptsTheShippedConfig() throws {
        let result = try run(binary.path, ["check", "--config", shippedConfig.path])
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: "/var/log/errata", isDirectory: &isFolder), isFolder.boolValue,
           access("/var/log/errata", W_OK) == 0 {
            XCTAssertEqual(result.status, 0, result.output)
            return
        }
        // Without an install, /var/log/errata does not exist and `errata check` rightly says the
        // access log cannot be written (LogsDirectory= and errata.tmpfiles create it). That must be
        // the only problem, and the same file with the log moved to an existing folder passes.
        XCTAssertEqual(result.status, 1, result.output)
        let problems = result.output.split(separator: "\n").filter { !$0.isEmpty }
        XCTAssertFalse(problems.isEmpty)
        for problem in problems {
            XCTAssertTrue(problem.contains(#"access_log.to: cannot write "/var/log/errata/access.log""#), result.output)
        }
        let copy = try configCopy(in: try temporaryFolder())
        let moved = try run(binary.path, ["check", "--config", copy.path])
        XCTAssertEqual(moved.status, 0, moved.output)
    }
}
