// TLSBench: full handshakes (no resumption) per second between two in-memory TLSEngines on
// one thread, and the server side's share of the CPU. Certificates are made with the openssl
// CLI in a temporary folder. Usage: TLSBench [seconds-per-case] (default 3).
//
// Run on the shared 2-core box (Debian 12, OpenSSL 3.0, release build, load ~1, noisy ±20%):
//   RSA-2048 TLS 1.3: ~880 handshakes/s for both sides, server ~655 µs CPU (~1500/CPU-s)
//   RSA-2048 TLS 1.2: ~930/s, server ~600 µs (~1670/CPU-s)
//   ECDSA P-256 1.3: ~1210/s, server ~296 µs (~3380/CPU-s); 1.2: ~1200/s, server ~262 µs (~3810/CPU-s)
// For scale, `openssl speed` here: RSA-2048 sign 359 µs, ECDSA P-256 sign 25 µs; the rest of the
// server's cost is OpenSSL 3.0's handshake machinery (X25519, HKDF, two TLS 1.3 tickets).
import Foundation
import TLS

#if canImport(Glibc)
import Glibc
#endif

func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func makeCertificates() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("errata-tlsbench-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let script = """
    set -e
    openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem -days 2 -subj /CN=bench.test -addext subjectAltName=DNS:bench.test
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.pem -days 2 -subj /CN=bench.test -addext subjectAltName=DNS:bench.test
    """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    process.currentDirectoryURL = dir
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw TLSContextError(file: nil, reason: "openssl failed") }
    return dir.path
}

/// One full handshake; returns the CPU seconds spent creating the server engine and in its calls.
func handshakeOnce(server serverContext: TLSContext, client clientContext: TLSContext) -> Double {
    let client = TLSEngine(context: clientContext, role: .client(serverName: "bench.test"))
    var buffer: [UInt8] = []
    buffer.reserveCapacity(8192)
    let created = threadCPUSeconds()
    let server = TLSEngine(context: serverContext, role: .server)
    var serverCPU = threadCPUSeconds() - created
    var clientDone = client.handshake() == .complete
    var serverDone = false
    while !(clientDone && serverDone) {
        buffer.removeAll(keepingCapacity: true)
        if client.drainCiphertext(into: &buffer) > 0 {
            let t0 = threadCPUSeconds()
            buffer.withUnsafeBytes { server.receiveCiphertext($0) }
            let result = server.handshake()
            serverDone = result == .complete
            buffer.removeAll(keepingCapacity: true)
            _ = server.drainCiphertext(into: &buffer)
            serverCPU += threadCPUSeconds() - t0
            if case .failed(let why) = result { fatalError("server handshake failed: \(why)") }
        } else {
            _ = server.drainCiphertext(into: &buffer)
        }
        if !buffer.isEmpty {
            buffer.withUnsafeBytes { client.receiveCiphertext($0) }
            let result = client.handshake()
            if case .failed(let why) = result { fatalError("client handshake failed: \(why)") }
            clientDone = result == .complete
        }
    }
    return serverCPU
}

let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 3 : 3
let dir = try makeCertificates()
defer { try? FileManager.default.removeItem(atPath: dir) }
let clientContext = try TLSContext.client(verify: false, caFile: nil)
print("full TLS handshakes between two in-memory engines, one thread, \(seconds)s per case")
print("key    version  handshakes/s (both sides)  server CPU µs/handshake  server-only handshakes/CPU-s")
for (key, file) in [("RSA", "rsa"), ("ECDSA", "ec")] {
    for version in [TLSMinimumVersion.tls13, .tls12] {
        let server = try TLSContext.server(certificates: [(dir + "/\(file).pem", dir + "/\(file).key")], minVersion: version,
                                           alpn: ["h2", "http/1.1"], clientCAFile: nil)
        // TLS 1.2: a client that cannot do 1.3 (servers accept 1.2 and up, clients offer up to 1.3).
        let client = version == .tls13 ? clientContext : try TLSContext.client(verify: false, caFile: nil, maxVersion: .tls12)
        for _ in 0..<20 { _ = handshakeOnce(server: server, client: client) } // warm-up
        let start = Date()
        var count = 0
        var serverCPU = 0.0
        while Date().timeIntervalSince(start) < seconds {
            serverCPU += handshakeOnce(server: server, client: client)
            count += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        let perServer = serverCPU / Double(count)
        let label = key.padding(toLength: 7, withPad: " ", startingAt: 0) + (version == .tls13 ? "1.3" : "1.2") + "    "
        print(label + String(format: "%24.0f  %23.1f  %28.0f", Double(count) / elapsed, perServer * 1e6, 1 / perServer))
    }
}
