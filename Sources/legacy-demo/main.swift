// legacy-demo: the five seed legacy APIs on loopback, for `make run` and for trying the proxy
// by hand. Runs until SIGINT or SIGTERM.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import LegacyDemo

let usage = """
    usage: legacy-demo [--base-port N] [--curl]
      --base-port N  serve oneclick, billing, catalog, accounts, legacyWeb on ports N…N+4 (default 9101)
      --curl         also print a curl line for every example route
    """

/// Writes `text` and a newline straight to `fd` (unbuffered, so `make run` shows it at once).
func say(_ text: String, to fd: Int32 = 1) {
    let bytes = Array((text + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        offset += n
    }
}

func fail(_ message: String) -> Never {
    say("legacy-demo: \(message)\n\(usage)", to: 2)
    exit(2)
}

var basePort = 9101
var printCurl = false
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--base-port":
        guard let value = arguments.popFirst(), let n = Int(value), n > 0, n + SeedAPI.allCases.count - 1 <= 65535 else {
            fail("--base-port needs a port number")
        }
        basePort = n
    case "--curl":
        printCurl = true
    case "-h", "--help":
        say(usage)
        exit(0)
    default:
        fail("unknown argument \(argument)")
    }
}

var servers: [LegacyServer] = []
for (index, api) in SeedAPI.allCases.enumerated() {
    let port = basePort + index
    do {
        servers.append(try LegacyServer(port: port, handler: api.handler()))
    } catch {
        for server in servers { server.stop() }
        say("legacy-demo: \(api.rawValue): \(error)", to: 2)
        exit(1)
    }
    let paths = api.routes.map { "\($0.method) \($0.target)" }.joined(separator: ", ")
    let name = api.rawValue.padding(toLength: 9)
    say("\(name) http://127.0.0.1:\(port)  dialect \(api.dialect)  \(api.summary)  —  \(paths)")
    if printCurl {
        for route in api.routes {
            say("    \(route.curl(port: port))    # \(route.status.map(String.init) ?? "-") \(route.summary)")
        }
    }
}
let common = SeedAPI.commonRoutes.map { $0.target }.joined(separator: ", ")
say("all APIs also serve: \(common); query modifiers chunked=N, close=1, gzip=1, delay=MS")
say("legacy-demo ready; Ctrl-C to stop")

let stopQueue = DispatchQueue(label: "legacy-demo.signals")
var signalSources: [any DispatchSourceSignal] = []
for signalNumber in [SIGINT, SIGTERM] {
    signal(signalNumber, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: stopQueue)
    let running = servers
    source.setEventHandler { @Sendable in
        for server in running { server.stop() }
        say("legacy-demo stopped")
        exit(0)
    }
    source.resume()
    signalSources.append(source)
}
dispatchMain()

extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
