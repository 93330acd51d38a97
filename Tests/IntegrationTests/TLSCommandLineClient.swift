import Foundation
import HTTPTestClient

/// `curl` and `openssl s_client` as TLS clients: TLS implementations written apart from
/// errata's, driven as real processes over loopback.
enum TLSCommandLineClient {
    struct CurlResult {
        /// curl's exit status (0: a response arrived; 35: the TLS handshake failed; …).
        var exitStatus: Int32
        var status: Int
        /// New connections curl opened for all the URLs of the call.
        var connects: Int
        /// The HTTP version of the last response ("1.1", "2").
        var httpVersion = ""
        var body: String
        var output: String
    }

    /// `curl` for `https://NAME:PORT/PATH` with NAME resolving to 127.0.0.1 (so SNI is NAME),
    /// verifying against the test CA unless `arguments` say otherwise.
    static func curl(port: Int, name: String = "api.test", paths: [String] = ["/"], arguments: [String] = [])
        throws -> CurlResult
    {
        let certs = try TestCertificates.get()
        let urls = paths.map { "https://\(name):\(port)\($0)" }
        let run = try runToCompletion(URL(fileURLWithPath: "/usr/bin/curl"),
                                      ["-sS", "--max-time", "20", "--cacert", certs.caFile,
                                       "--resolve", "\(name):\(port):127.0.0.1", "-w", "\n@@%{http_code} %{num_connects} %{http_version}@@\n"]
                                          + arguments + urls)
        var result = CurlResult(exitStatus: run.status, status: 0, connects: 0, body: "", output: run.output)
        // Each URL's body is followed by "\n@@STATUS CONNECTS@@\n".
        var bodies: [String] = []
        var rest = Substring(run.output)
        while let marker = rest.range(of: "\n@@"), let close = rest[marker.upperBound...].range(of: "@@\n") {
            bodies.append(String(rest[..<marker.lowerBound]))
            let fields = rest[marker.upperBound..<close.lowerBound].split(separator: " ")
            result.status = Int(fields.first ?? "") ?? 0
            if fields.count == 3 {
                result.connects += Int(fields[1]) ?? 0
                result.httpVersion = String(fields[2])
            }
            rest = rest[close.upperBound...]
        }
        result.body = bodies.last ?? ""
        return result
    }

    /// The subject line of the certificate the server at `port` presents for `serverName`
    /// (nil: no SNI sent), e.g. "subject=O = errata, CN = api.test".
    static func servedSubject(port: Int, serverName: String?) throws -> String {
        let sni = serverName.map { "-servername \($0)" } ?? "-noservername"
        let run = try runToCompletion(URL(fileURLWithPath: "/bin/sh"),
                                      ["-c", "openssl s_client -connect 127.0.0.1:\(port) \(sni) </dev/null 2>/dev/null"])
        return run.output.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? run.output
    }
}
