#if canImport(Glibc)
import Glibc
#endif
import HTTPTestClient
import TLS

/// A blocking TLS client over a loopback socket (the test's own `TLSEngine` in client role),
/// for what the CLI clients cannot show: how the server ended the TLS stream. One test thread.
final class BlockingTLSClient {
    enum Failure: Error { case handshake(TLSHandshakeResult), closedEarly }

    private let socket: RawHTTPClient
    let engine: TLSEngine

    /// Connects to 127.0.0.1:`port` and completes a handshake verifying `serverName` against `caFile`.
    init(port: Int, serverName: String, caFile: String) throws {
        socket = try RawHTTPClient(port: port, timeoutMilliseconds: 10_000)
        engine = TLSEngine(context: try TLSContext.client(verify: true, caFile: caFile), role: .client(serverName: serverName))
        var result = engine.handshake()
        while result == .incomplete {
            flush()
            guard receive() else { throw Failure.closedEarly }
            result = engine.handshake()
        }
        flush()
        guard result == .complete else { throw Failure.handshake(result) }
    }

    func send(_ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { engine.write($0) }
        flush()
    }

    /// Plaintext until the stream ends, and how it ended: `.closed` (close_notify) or a failure
    /// (`.uncleanEOF`: the TCP connection closed without one).
    func readToEnd() -> (bytes: [UInt8], end: TLSReadResult) {
        var plaintext: [UInt8] = []
        while true {
            switch engine.read(into: &plaintext) {
            case .bytes: continue
            case .wantMoreCiphertext:
                flush()
                if !receive() { engine.receiveEndOfStream() }
            case let end: return (plaintext, end)
            }
        }
    }

    private func flush() {
        var out: [UInt8] = []
        if engine.drainCiphertext(into: &out) > 0 { socket.send(out) }
    }

    /// Feeds the engine what one recv brings; false at EOF or on a timeout.
    private func receive() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let n = chunk.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        chunk[0..<n].withUnsafeBytes { engine.receiveCiphertext($0) }
        return true
    }
}
