import Dispatch
import EventLoop
import Glibc
import XCTest

/// Echoes whatever it reads, over a real loopback connection.
final class EchoHandler: SocketChannelHandler, @unchecked Sendable {
    let closed = DispatchSemaphore(value: 0)
    var eof = false
    func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) -> Int {
        channel.write(bytes)
        return bytes.count
    }
    func channelReadEOF(_ channel: SocketChannel) {
        eof = true
        channel.closeAfterFlush()
    }
    func channelClosed(_ channel: SocketChannel) { closed.signal() }
}

final class SocketChannelTests: XCTestCase {
    private func blockingClient(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(rc, 0)
        return fd
    }

    func testEchoOfALargePayloadThroughBackpressureAndEOF() throws {
        Sockets.ignoreSIGPIPE()
        let worker = Worker(index: 0)
        worker.start()
        let listenFD = try Sockets.listen(on: SocketAddress(numericHost: "127.0.0.1", port: 0)!).get()
        let port = Sockets.localAddress(listenFD)!.port
        let handler = EchoHandler()
        let accepted = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var acceptor: Acceptor?
        worker.queue.sync {
            acceptor = Acceptor(fd: listenFD, worker: worker) { fd, _ in
                let channel = SocketChannel(fd: fd, worker: worker, handler: handler)
                channel.start()
                accepted.signal()
            }
            acceptor!.start()
        }
        let client = blockingClient(port: port)
        XCTAssertEqual(accepted.wait(timeout: .now() + 5), .success)
        // 8 MiB: far above the high-water mark, so the echo must queue, arm and drain the write source.
        let payload = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let writer = Thread {
            payload.withUnsafeBytes { raw in
                var off = 0
                while off < raw.count {
                    let n = send(client, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                    if n <= 0 { break }
                    off += n
                }
            }
            shutdown(client, Int32(SHUT_WR))
        }
        writer.start()
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(client, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
        }
        XCTAssertEqual(received.count, payload.count)
        XCTAssertTrue(received == payload)
        XCTAssertEqual(handler.closed.wait(timeout: .now() + 5), .success)
        XCTAssertTrue(handler.eof)
        close(client)
        worker.queue.sync { acceptor?.stop() }
    }

    func testConnectToAClosedPortReportsTheError() throws {
        let worker = Worker(index: 1)
        // A port that was just free: bind, learn it, close.
        let fd = try Sockets.listen(on: SocketAddress(numericHost: "127.0.0.1", port: 0)!).get()
        let port = Sockets.localAddress(fd)!.port
        Sockets.close(fd)
        switch Sockets.connect(to: SocketAddress(numericHost: "127.0.0.1", port: port)!) {
        case .failure(let e):
            XCTAssertEqual(e.errno, ECONNREFUSED)
        case .success(let (cfd, connected)):
            XCTAssertFalse(connected)
            final class ConnectWatcher: SocketChannelHandler, @unchecked Sendable {
                let done = DispatchSemaphore(value: 0)
                var error: Int32 = 0
                func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) -> Int { bytes.count }
                func channelReadEOF(_ channel: SocketChannel) {}
                func channelConnected(_ channel: SocketChannel, errno: Int32) { error = errno; channel.close(); done.signal() }
                func channelClosed(_ channel: SocketChannel) {}
            }
            let watcher = ConnectWatcher()
            worker.queue.sync { SocketChannel(fd: cfd, worker: worker, handler: watcher, connecting: true).start() }
            XCTAssertEqual(watcher.done.wait(timeout: .now() + 5), .success)
            XCTAssertEqual(watcher.error, ECONNREFUSED)
        }
    }

    func testResolverHandlesNumericAndBracketedHosts() throws {
        XCTAssertEqual(try Resolver.resolve(host: "127.0.0.1", port: 80).get().first?.description, "127.0.0.1:80")
        XCTAssertEqual(try Resolver.resolve(host: "[::1]", port: 8443).get().first?.description, "[::1]:8443")
        XCTAssertEqual(try Resolver.resolve(host: "localhost", port: 1).get().isEmpty, false)
    }
}
