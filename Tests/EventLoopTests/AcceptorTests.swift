import Dispatch
import Foundation
import EventLoop
import Glibc
import XCTest

final class AcceptorTests: XCTestCase {
    /// The highest descriptor number this process has open (from /proc/self/fd).
    private func highestOpenDescriptor() -> Int32 {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { Int32($0) }.max() ?? 2
    }

    /// Out of descriptors, the acceptor backs off instead of spinning on a listener that stays
    /// readable, and takes the waiting connections once descriptors are free again.
    func testOutOfDescriptorsBacksOffThenAcceptsTheWaitingConnections() throws {
        Sockets.ignoreSIGPIPE()
        let worker = Worker(index: 0)
        worker.start()
        let listenFD = try Sockets.listen(on: SocketAddress(numericHost: "127.0.0.1", port: 0)!).get()
        let listenAddress = Sockets.localAddress(listenFD)!
        // Three connections complete in the kernel's backlog, before anyone accepts.
        var clients: [Int32] = []
        for _ in 0..<3 {
            guard case .success(let c) = Sockets.connect(to: listenAddress) else { return XCTFail("connect") }
            clients.append(c.fd)
        }
        usleep(50_000)

        var saved = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved), 0)
        // No descriptor above the ones open now can be created: accept4 fails with EMFILE.
        var tight = saved
        tight.rlim_cur = rlim_t(highestOpenDescriptor() + 1)
        XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &tight), 0)
        // Lower numbers that are free (holes) are filled too, so that not one descriptor is left.
        var fillers: [Int32] = []
        while case let fd = dup(0), fd >= 0 { fillers.append(fd) }
        XCTAssertEqual(errno, EMFILE)
        var restored = false
        defer {
            for fd in fillers { close(fd) }
            if !restored { _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved) }
        }

        let acceptedCount = QueueCounter()
        nonisolated(unsafe) var acceptor: Acceptor?
        worker.queue.sync {
            acceptor = Acceptor(fd: listenFD, worker: worker, backoff: .milliseconds(100)) { fd, _ in
                acceptedCount.add()
                Sockets.close(fd)
            }
            acceptor!.start()
        }
        usleep(350_000)
        let backoffs = worker.queue.sync { acceptor!.backoffCount }
        XCTAssertEqual(acceptedCount.value, 0, "nothing can be accepted without a free descriptor")
        XCTAssertGreaterThanOrEqual(backoffs, 1, "EMFILE must start a back-off")
        // One try per 100 ms back-off: a spinning acceptor would have counted thousands in 350 ms.
        XCTAssertLessThanOrEqual(backoffs, 6, "backed off \(backoffs) times in 350 ms")

        for fd in fillers { close(fd) }
        fillers.removeAll()
        XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved), 0)
        restored = true
        let deadline = Date().addingTimeInterval(5)
        while acceptedCount.value < 3 && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(acceptedCount.value, 3, "the waiting connections are accepted once descriptors are free")

        worker.queue.sync { acceptor!.stop() }
        for c in clients { close(c) }
        worker.stop()
    }
}

/// A count bumped on a worker queue and read from the test thread.
private final class QueueCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
