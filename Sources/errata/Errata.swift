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
        switch ConfigLoader.load(path: options.config) {
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
        SystemdNotifier.send("READY=1\nSTATUS=serving on \(addresses.joined(separator: " "))")

        let controller = Controller(server: server, configPath: options.config, drain: snapshot.timeouts.drain,
                                    accessLog: accessLog, log: log)
        controller.installSignalHandlers()
        dispatchMain()
    }
}

/// Signal handling on the main queue: reload, drain, and exit.
///
/// Confined to the main queue (every method runs from a signal source or a hop to `.main`).
final class Controller: @unchecked Sendable {
    private let server: ProxyServer
    private let configPath: String
    private var drain: Duration
    private var accessLog: AccessLogDestination
    private let log: Logger
    private var sources: [any DispatchSourceSignal] = []
    private var stopping = false
    private var generation = 0

    init(server: ProxyServer, configPath: String, drain: Duration, accessLog: AccessLogDestination, log: Logger) {
        self.server = server
        self.configPath = configPath
        self.drain = drain
        self.accessLog = accessLog
        self.log = log
    }

    /// Must run on the main queue (the handlers do).
    func installSignalHandlers() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .main)
            source.setEventHandler { [self] in handle(sig) }
            source.activate()
            sources.append(source)
        }
    }

    private func handle(_ sig: Int32) {
        if sig == SIGHUP { return reload() }
        if stopping {
            log.warning("second signal: exiting now")
            exit(0)
        }
        stopping = true
        log.info("draining", metadata: ["timeout": .string("\(drain)")])
        SystemdNotifier.send("STOPPING=1\nSTATUS=draining")
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

    private func reload() {
        let path = configPath
        SystemdNotifier.send("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())")
        generation += 1
        let generation = generation
        DispatchQueue.global().async { [self] in
            let result = ConfigLoader.load(path: path)
            DispatchQueue.main.async { [self] in
                switch result {
                case .success(let snapshot):
                    let runtime = RuntimeConfig.resolving(snapshot, generation: generation)
                    server.reload(runtime)
                    server.metrics.recordReload(succeeded: true, generation: generation)
                    drain = snapshot.timeouts.drain
                    reopenAccessLog(snapshot.accessLog.to)
                    log.info("config reloaded", metadata: ["generation": .stringConvertible(generation)])
                case .failure(let errors):
                    server.metrics.recordReload(succeeded: false, generation: nil)
                    for problem in errors.problems {
                        log.error("reload failed; the running config stays",
                                  metadata: ["path": .string(problem.path), "problem": .string(problem.message)])
                    }
                }
                SystemdNotifier.send("READY=1")
            }
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
