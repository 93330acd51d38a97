import Foundation

/// Certificates made at test time by the `openssl` CLI in a temporary folder, once per test run
/// (the TLS unit tests and the TLS integration tests share them).
///
/// - `ca`: the root; `intermediate`: signed by it.
/// - `api`: RSA leaf for `api.test` (and IP 127.0.0.1), signed by the root.
/// - `legacy`: ECDSA leaf for `legacy.test` and `*.legacy.test`, signed by the intermediate;
///   its PEM file holds the leaf then the intermediate.
/// - `client`: a client-auth certificate signed by the root.
/// - `bad`: self-signed, claims `api.test`.
public struct TestCertificates: Sendable {
    public let directory: String

    public func path(_ name: String) -> String { directory + "/" + name }

    public var caFile: String { path("ca.pem") }
    public var api: (certFile: String, keyFile: String) { (path("api.pem"), path("api.key")) }
    public var legacy: (certFile: String, keyFile: String) { (path("legacy.pem"), path("legacy.key")) }
    public var client: (certFile: String, keyFile: String) { (path("client.pem"), path("client.key")) }
    public var bad: (certFile: String, keyFile: String) { (path("bad.pem"), path("bad.key")) }
    public var garbageFile: String { path("garbage.txt") }
    public var encryptedKeyFile: String { path("encrypted.key") }

    /// The shared set; a failure to generate them fails every test that uses them.
    public static let shared: Result<TestCertificates, GenerationError> = generate()

    public static func get() throws -> TestCertificates { try shared.get() }

    public struct GenerationError: Error, CustomStringConvertible {
        public var description: String
    }

    private static func generate() -> Result<TestCertificates, GenerationError> {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("errata-tls-tests-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try? FileManager.default.removeItem(at: directory)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", script]
            process.currentDirectoryURL = directory
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let stderr = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                return .failure(GenerationError(description: "openssl failed: " + String(decoding: stderr, as: UTF8.self)))
            }
            return .success(TestCertificates(directory: directory.path))
        } catch {
            return .failure(GenerationError(description: "cannot run openssl: \(error)"))
        }
    }

    private static let script = #"""
    set -e
    days=3
    ext() { printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n%s\n' "$1" "$2" > "$3"; }
    ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
    openssl req -x509 $ec -keyout ca.key -out ca.pem -days $days -subj "/O=errata/CN=errata test root" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req $ec -keyout int.key -out int.csr -subj "/O=errata/CN=errata test intermediate"
    printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > int.ext
    openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days $days -extfile int.ext -out int.pem
    openssl req -newkey rsa:2048 -nodes -keyout api.key -out api.csr -subj "/O=errata/CN=api.test"
    ext serverAuth "subjectAltName=DNS:api.test,IP:127.0.0.1" api.ext
    openssl x509 -req -in api.csr -CA ca.pem -CAkey ca.key -set_serial 3 -days $days -extfile api.ext -out api.pem
    openssl req $ec -keyout legacy.key -out legacy.csr -subj "/O=errata/CN=legacy.test"
    ext serverAuth "subjectAltName=DNS:legacy.test,DNS:*.legacy.test" legacy.ext
    openssl x509 -req -in legacy.csr -CA int.pem -CAkey int.key -set_serial 4 -days $days -extfile legacy.ext -out legacy-leaf.pem
    cat legacy-leaf.pem int.pem > legacy.pem
    openssl req $ec -keyout client.key -out client.csr -subj "/O=errata/CN=client.test"
    ext clientAuth "subjectAltName=DNS:client.test" client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -set_serial 5 -days $days -extfile client.ext -out client.pem
    openssl req -x509 $ec -keyout bad.key -out bad.pem -days $days -subj "/O=errata/CN=api.test" \
        -addext "subjectAltName=DNS:api.test" -addext "extendedKeyUsage=serverAuth,clientAuth"
    printf 'this is not PEM\n' > garbage.txt
    openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -aes-128-cbc -pass pass:secret -out encrypted.key
    """#
}
