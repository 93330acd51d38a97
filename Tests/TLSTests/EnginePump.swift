@testable import TLS

/// Moves ciphertext between two in-memory engines, as the event loop moves it through a socket.
enum EnginePump {
    /// Moves everything `from` has pending into `to`, in pieces of `chunk` bytes when given
    /// (calling `afterEachPiece` after each). Returns the bytes moved.
    @discardableResult
    static func transfer(from: TLSEngine, to: TLSEngine, chunk: Int? = nil, afterEachPiece: () -> Void = {}) -> Int {
        var bytes: [UInt8] = []
        _ = from.drainCiphertext(into: &bytes)
        guard !bytes.isEmpty else { return 0 }
        let piece = chunk ?? bytes.count
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + piece, bytes.count)
            bytes[offset..<end].withUnsafeBytes { to.receiveCiphertext($0) }
            afterEachPiece()
            offset = end
        }
        return bytes.count
    }

    private static func isFinal(_ result: TLSHandshakeResult) -> Bool {
        if case .incomplete = result { return false }
        return true
    }

    /// Runs both handshakes to completion or failure, delivering ciphertext `chunk` bytes at a time.
    static func handshake(client: TLSEngine, server: TLSEngine, chunk: Int? = nil) -> (client: TLSHandshakeResult, server: TLSHandshakeResult) {
        var clientResult = client.handshake()
        var serverResult = TLSHandshakeResult.incomplete
        for _ in 0..<10_000 {
            let toServer = transfer(from: client, to: server, chunk: chunk) {
                if !isFinal(serverResult) { serverResult = server.handshake() }
            }
            if toServer == 0 && !isFinal(serverResult) { serverResult = server.handshake() }
            let toClient = transfer(from: server, to: client, chunk: chunk) {
                if !isFinal(clientResult) { clientResult = client.handshake() }
            }
            if toServer == 0 && toClient == 0 && (isFinal(clientResult) || isFinal(serverResult)) { break }
            if toServer == 0 && toClient == 0 && !client.hasPendingCiphertext && !server.hasPendingCiphertext { break }
        }
        return (clientResult, serverResult)
    }

    /// Sends `plaintext` from one engine and reads until the other has it all (or reads fail).
    static func send(_ plaintext: [UInt8], from sender: TLSEngine, to receiver: TLSEngine) -> (received: [UInt8], lastRead: TLSReadResult) {
        let wrote = plaintext.withUnsafeBytes { sender.write($0) }
        precondition(wrote, "write failed")
        var received: [UInt8] = []
        var last = TLSReadResult.wantMoreCiphertext
        transfer(from: sender, to: receiver, chunk: 64 * 1024) {
            last = receiver.read(into: &received)
        }
        return (received, last)
    }
}
