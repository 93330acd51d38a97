import ArgumentParser
import Dispatch
import Logging
import Metrics
import Prometheus
import Proxy
import ProxyConfig
#if canImport(Glibc)
import Glibc
#endif

/// `errata --config PATH` runs the proxy; `errata check --config PATH` validates the file.
@main
struct Errata: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "errata",
        abstract: "A reverse proxy that gives legacy HTTP APIs one error format.",
        subcommands: [Run.self, Check.self],
        defaultSubcommand: Run.self)
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The config.json to use.")
    var config: String = "config.json"
}

/// Validates the file and prints every problem with its JSON path; exit 0 (valid) or 1.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a config file and print every problem.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        // The TLS layer checks what the loader cannot: certificates parse, keys match them.
        switch ConfigLoader.load(path: options.config).flatMap({ snapshot in TLSContextSet.build(snapshot).map { _ in snapshot } }) {
        case .success:
            Output.line("\(options.config): OK")
        case .failure(let errors):
            for problem in errors.problems { Output.line("\(options.config): \(problem.path): \(problem.message)", fd: 2) }
            throw ExitCode(1)
        }
    }
}

/// Runs the proxy until SIGTERM or SIGINT (drain, exit 0; a second signal exits at once).
/// SIGHUP reloads the file; an invalid file is logged and the running config stays.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the proxy (the default).")
    @OptionGroup var options: ConfigOption
    @Option(name: .long, help: "Lifecycle log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func run() throws {
        // Lifecycle lines (start, reload, drain, upstream servers down/up) as JSON on stderr, which
        // journald keeps; the access log has its own destination (`access_log.to`).
        let level = logLevel
        LoggingSystem.bootstrap { _ in JSONLogHandler(sink: FileDescriptorSink(fd: 2), level: level) }
        let log = Logger(label: "errata")
        let snapshot: ConfigSnapshot
        switch ConfigLoader.load(path: options.config) {
        case .success(let s): snapshot = s
        case .failure(let errors):
            for problem in errors.problems { Output.line("\(options.config): \(problem.path): \(problem.message)", fd: 2) }
            throw ExitCode(1)
        }
        let accessLog: AccessLogDestination
        switch AccessLogDestination.open(snapshot.accessLog.to) {
        case .success(let destination): accessLog = destination
        case .failure(let error):
            Output.line("errata: \(error)", fd: 2)
            throw ExitCode(1)
        }
        // Libraries that record through swift-metrics land in the same registry as errata's own.
        let metrics = ProxyMetrics()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
        let server = ProxyServer(config: RuntimeConfig.resolving(snapshot), accessLogFD: accessLog.fd,
                                 metrics: metrics, log: log)
        do {
            try server.start()
        } catch {
            Output.line("errata: \(error.description)", fd: 2)
            throw ExitCode(1)
        }
        let addresses = server.boundAddresses.withLock { $0.map(\.description) }
        var started: Logger.Metadata = ["addresses": .string(addresses.joined(separator: " ")),
                                        "workers": .stringConvertible(server.workerCount)]
        if let admin = server.adminAddress { started["admin"] = .string(admin.description) }
        log.info("listening", metadata: started)

        let controller = Controller(server: server, configPath: options.config, drain: snapshot.timeouts.drain,
                                    accessLog: accessLog, log: log)
        controller.start()
        dispatchMain()
    }
}

/// The running process's control: signals (SIGHUP reloads, SIGTERM/SIGINT drain, a second one
/// exits), reloads, and the systemd notify protocol (READY, RELOADING, STOPPING, WATCHDOG and
/// STATUS lines a person can read).
///
/// Confined to the main queue: every method and handler runs there (`@unchecked Sendable` only
/// so that blocks sent back to the main queue may capture it).
final class Controller: @unchecked Sendable {
    private let server: ProxyServer
    private let configPath: String
    private var drain: Duration
    private var accessLog: AccessLogDestination
    private let log: Logger
    private var sources: [any DispatchSourceSignal] = []
    private var timers: [any DispatchSourceTimer] = []
    private var stopping = false
    /// The generation of the config being served: 0 for the one started with, +1 per reload applied.
    private var generation = 0
    /// A reload is being loaded off the main queue; a SIGHUP meanwhile sets `reloadAgain`.
    private var reloading = false
    private var reloadAgain = false
    /// Some worker has not yet answered the last watchdog ping.
    private var pingOutstanding = false
    /// Loads and resolves reloaded files, one at a time, off the main queue and the workers.
    private let reloadQueue = DispatchQueue(label: "errata.reload")

    init(server: ProxyServer, configPath: String, drain: Duration, accessLog: AccessLogDestination, log: Logger) {
        self.server = server
        self.configPath = configPath
        self.drain = drain
        self.accessLog = accessLog
        self.log = log
    }

    /// Installs the signal handlers, starts the watchdog when systemd asks for one, and tells
    /// systemd we are ready (every listener is bound by now). On the main queue.
    func start() {
        dispatchPrecondition(condition: .onQueue(.main))
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .main)
            source.setEventHandler { [self] in handle(sig) }
            source.activate()
            sources.append(source)
        }
        startWatchdog()
        SystemdNotifier.send("READY=1\nSTATUS=\(servingStatus)")
    }

    /// "serving on 127.0.0.1:8080 with 2 workers", plus the config generation after a reload.
    private var servingStatus: String {
        let addresses = server.boundAddresses.withLock { $0.map(\.description) }.joined(separator: " ")
        let workers = server.workerCount == 1 ? "1 worker" : "\(server.workerCount) workers"
        let reloaded = generation > 0 ? " (config generation \(generation))" : ""
        return "serving on \(addresses) with \(workers)\(reloaded)"
    }

    private func handle(_ sig: Int32) {
        if sig == SIGHUP { return reload() }
        if stopping {
            log.warning("second signal: exiting now")
            exit(0)
        }
        stopping = true
        log.info("draining", metadata: ["timeout": .string("\(drain)"),
                                        "connections": .stringConvertible(server.openConnectionCount)])
        SystemdNotifier.send("STOPPING=1\nSTATUS=\(drainingStatus(server.openConnectionCount))")
        reportDrainProgress()
        server.drain(timeout: drain) {
            DispatchQueue.main.async { exit(0) }
        }
    }

    /// Opens `to` afresh (the same path too: logrotate may have moved the file) and moves the
    /// workers to it; the previous file is closed once none writes to it. When the new one cannot
    /// be opened, the workers keep the old one.
    private func reopenAccessLog(_ to: AccessLogConfig.Destination) {
        switch AccessLogDestination.open(to) {
        case .success(let fresh):
            let previous = accessLog
            accessLog = fresh
            server.redirectAccessLog(to: fresh.fd) { previous.close() }
        case .failure(let error):
            log.error("access log not reopened; the previous one stays", metadata: ["problem": .string(error.description)])
        }
    }

    private func drainingStatus(_ open: Int) -> String {
        "draining \(open) \(open == 1 ? "connection" : "connections")"
    }

    /// A STATUS line each second while the count of open connections changes.
    private func reportDrainProgress() {
        var last = server.openConnectionCount
        let timer = DispatchSource.makeTimerSource(queue: .main)
        timer.schedule(deadline: .now() + .seconds(1), repeating: .seconds(1))
        timer.setEventHandler { [self] in
            let open = server.openConnectionCount
            if open != last {
                last = open
                SystemdNotifier.send("STATUS=\(drainingStatus(open))")
            }
        }
        timer.activate()
        timers.append(timer)
    }

    /// Sends WATCHDOG=1 every WATCHDOG_USEC/2, each time only once every worker's queue has
    /// answered a ping sent at that tick: a stuck worker stops the pings, and systemd restarts us.
    private func startWatchdog() {
        guard let usec = SystemdNotifier.watchdogMicroseconds() else { return }
        let interval = DispatchTimeInterval.microseconds(Int(clamping: max(1, usec / 2)))
        let timer = DispatchSource.makeTimerSource(queue: .main)
        timer.schedule(deadline: .now(), repeating: interval)
        timer.setEventHandler { [self] in
            guard !pingOutstanding else { return }
            pingOutstanding = true
            server.pingWorkers(queue: .main) { [self] in
                pingOutstanding = false
                SystemdNotifier.send("WATCHDOG=1")
            }
        }
        timer.activate()
        timers.append(timer)
        log.info("watchdog enabled", metadata: ["interval_usec": .stringConvertible(usec / 2)])
    }

    /// Loads the file off the main queue; then swaps the server to it, or keeps the old config
    /// and logs each problem with its JSON path. RELOADING=1 before, READY=1 after either way.
    /// A SIGHUP during a reload runs another once this one is done.
    private func reload() {
        guard !stopping else { return }
        if reloading {
            reloadAgain = true
            return
        }
        reloading = true
        let candidate = generation + 1
        SystemdNotifier.send("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())\nSTATUS=reloading")
        log.info("reloading", metadata: ["config": .string(configPath)])
        let path = configPath, server = server
        reloadQueue.async { [self] in
            let result = ConfigLoader.load(path: path).map { snapshot in
                RuntimeConfig.resolving(snapshot, generation: candidate, replacing: server.config)
            }
            DispatchQueue.main.async { [self] in finishReload(result, generation: candidate) }
        }
    }

    private func finishReload(_ loaded: Result<RuntimeConfig, ConfigErrors>, generation candidate: Int) {
        reloading = false
        guard !stopping else { return }
        var outcome = loaded
        if case .success(let config) = loaded {
            do {
                try server.reload(config)
            } catch {
                outcome = .failure(error)
            }
        }
        switch outcome {
        case .success(let config):
            generation = candidate
            drain = config.snapshot.timeouts.drain
            server.metrics.recordReload(succeeded: true, generation: candidate)
            reopenAccessLog(config.snapshot.accessLog.to)
            let addresses = server.boundAddresses.withLock { $0.map(\.description) }.joined(separator: " ")
            log.info("config reloaded", metadata: ["generation": .stringConvertible(candidate),
                                                   "addresses": .string(addresses)])
            SystemdNotifier.send("READY=1\nSTATUS=\(servingStatus)")
        case .failure(let errors):
            server.metrics.recordReload(succeeded: false, generation: nil)
            for problem in errors.problems {
                log.error("reload failed: \(problem); old config kept",
                          metadata: ["path": .string(problem.path), "problem": .string(problem.message)])
            }
            let first = errors.problems.first.map(\.description) ?? "unknown error"
            let more = errors.problems.count > 1 ? " (and \(errors.problems.count - 1) more)" : ""
            SystemdNotifier.send("READY=1\nSTATUS=reload failed: \(first)\(more); old config kept")
        }
        if reloadAgain {
            reloadAgain = false
            reload()
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
