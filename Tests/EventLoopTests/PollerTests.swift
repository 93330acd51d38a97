import Dispatch
import EventLoop
import Glibc
import XCTest

/// The per-worker epoll instance, with real descriptors: batches, stale events, hang-ups.
final class PollerTests: XCTestCase {
    /// Calls `onReady` with its own name for each event, on the worker's queue.
    final class Recorder: PollTarget, @unchecked Sendable {
        let name: String
        var onReady: (String) -> Void
        init(_ name: String, onReady: @escaping (String) -> Void) {
            self.name = name
            self.onReady = onReady
        }
        func pollReady(_ events: PollEvents) { onReady(name) }
    }

    private func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds), 0)
        return (fds[0], fds[1])
    }

    /// A socket pair whose first end has a byte to read.
    private func readableSocketPair() -> (Int32, Int32) {
        let (end, peer) = socketPair()
        XCTAssertEqual(write(peer, "x", 1), 1)
        return (end, peer)
    }

    func testAnEventOfADescriptorRemovedEarlierInTheSameBatchIsDropped() {
        let worker = Worker(index: 0)
        worker.start()
        // Both are readable before the worker looks, so both events arrive in one batch.
        let (a, aPeer) = readableSocketPair(), (b, bPeer) = readableSocketPair()
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var calls: [String] = []
        nonisolated(unsafe) var registrations: [String: Poller.Registration] = [:]
        worker.queue.sync {
            let onReady: (String) -> Void = { name in
                calls.append(name)
                // The first to run removes the other and closes its descriptor; a new socket may
                // take the same number and is registered at once: the stale event must not reach it.
                let other = name == "a" ? "b" : "a"
                if let r = registrations.removeValue(forKey: other) {
                    worker.poller.deregister(r)
                    close(r.fd)
                    var fresh: [Int32] = [0, 0]
                    socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fresh)
                    let newcomer = Recorder("newcomer") { calls.append($0) }
                    registrations["newcomer"] = try? worker.poller.register(fresh[0], interest: .read, target: newcomer).get()
                }
                worker.queue.asyncAfter(deadline: .now() + .milliseconds(100)) { done.signal() }
            }
            registrations["a"] = try? worker.poller.register(a, interest: .read, target: Recorder("a", onReady: onReady)).get()
            registrations["b"] = try? worker.poller.register(b, interest: .read, target: Recorder("b", onReady: onReady)).get()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        worker.queue.sync {
            // Level-triggered: the survivor is reported until read; count distinct names only.
            XCTAssertEqual(Set(calls).count, 1, "exactly one of a and b was delivered: \(calls)")
            XCTAssertFalse(calls.contains("newcomer"))
            for r in registrations.values { worker.poller.deregister(r); close(r.fd) }
            XCTAssertEqual(worker.poller.registeredCount, 0)
        }
        close(aPeer)
        close(bPeer)
    }

    /// Records each `pollBatchEnded`, on the worker's queue.
    final class BatchEndRecorder: BatchEndTarget, @unchecked Sendable {
        var onEnd: () -> Void
        init(onEnd: @escaping () -> Void) { self.onEnd = onEnd }
        func pollBatchEnded() { onEnd() }
    }

    func testWorkDeferredToTheBatchEndRunsAfterEveryEventOfTheBatch() {
        let worker = Worker(index: 0)
        worker.start()
        // Both are readable before the worker looks, so both events arrive in one batch.
        let (a, aPeer) = readableSocketPair(), (b, bPeer) = readableSocketPair()
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var calls: [String] = []
        nonisolated(unsafe) var registrations: [Poller.Registration] = []
        worker.queue.sync {
            let flusher = BatchEndRecorder { calls.append("end") }
            let onReady: (String) -> Void = { name in
                guard !calls.contains(name) else { return } // level-triggered: reported until read
                calls.append(name)
                worker.poller.runAtBatchEnd(flusher)
                if calls.count == 2 { worker.queue.asyncAfter(deadline: .now() + .milliseconds(100)) { done.signal() } }
            }
            registrations.append(try! worker.poller.register(a, interest: .read, target: Recorder("a", onReady: onReady)).get())
            registrations.append(try! worker.poller.register(b, interest: .read, target: Recorder("b", onReady: onReady)).get())
        }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        worker.queue.sync {
            XCTAssertEqual(Array(calls.prefix(4)).sorted(), ["a", "b", "end", "end"])
            XCTAssertEqual(Array(calls.prefix(2)).sorted(), ["a", "b"], "both events delivered before either deferred call: \(calls)")
            // Outside a batch (a queued block, a timer) the deferred work runs at once.
            var ranAtOnce = false
            worker.poller.runAtBatchEnd(BatchEndRecorder { ranAtOnce = true })
            XCTAssertTrue(ranAtOnce)
            for r in registrations { worker.poller.deregisterClosing(r); close(r.fd) }
            XCTAssertEqual(worker.poller.registeredCount, 0)
        }
        close(aPeer)
        close(bPeer)
    }

    func testADescriptorForgottenAndClosedWithoutEpollCtlIsNeverReportedAgain() {
        let worker = Worker(index: 0)
        worker.start()
        let (a, aPeer) = readableSocketPair()
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var calls: [String] = []
        worker.queue.sync {
            let r = try! worker.poller.register(a, interest: .read, target: Recorder("a") { calls.append($0) }).get()
            // Readable but not yet delivered: forgotten and closed in the same turn of the queue.
            worker.poller.deregisterClosing(r)
            close(a)
            XCTAssertEqual(worker.poller.registeredCount, 0)
            // The number is free again: a newcomer that may take it must hear nothing of `a`.
            let (fresh, freshPeer) = socketPair()
            let n = try! worker.poller.register(fresh, interest: .read, target: Recorder("newcomer") { calls.append($0) }).get()
            worker.queue.asyncAfter(deadline: .now() + .milliseconds(100)) {
                worker.poller.deregisterClosing(n)
                close(fresh)
                close(freshPeer)
                done.signal()
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        worker.queue.sync { XCTAssertEqual(calls, []) }
        close(aPeer)
    }

    func testAResetWhileReadingIsPausedStopsBeingWatchedAndIsSeenOnResume() throws {
        Sockets.ignoreSIGPIPE()
        final class Watcher: SocketChannelHandler, @unchecked Sendable {
            let closed = DispatchSemaphore(value: 0)
            var reads = 0
            func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) -> Int {
                reads += 1
                return bytes.count
            }
            func channelReadEOF(_ channel: SocketChannel) { channel.close() }
            func channelClosed(_ channel: SocketChannel) { closed.signal() }
        }
        let worker = Worker(index: 0)
        worker.start()
        let listenFD = try Sockets.listen(on: SocketAddress(numericHost: "127.0.0.1", port: 0)!).get()
        let address = Sockets.localAddress(listenFD)!
        let (client, _) = try Sockets.connect(to: address).get()
        var pollfdValue = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&pollfdValue, 1, 5000)
        let serverFD = accept(listenFD, nil, nil)
        XCTAssertGreaterThanOrEqual(serverFD, 0)
        Sockets.setNonBlocking(serverFD)
        let watcher = Watcher()
        nonisolated(unsafe) var channel: SocketChannel?
        worker.queue.sync {
            channel = SocketChannel(fd: serverFD, worker: worker, handler: watcher)
            channel!.start()
            channel!.pauseReading(.awaitingTurn)
        }
        // An abortive close: unread data plus SO_LINGER 0 makes the kernel send a reset, which
        // epoll reports (EPOLLERR|EPOLLHUP) even though nothing is watched.
        var pollOut = pollfd(fd: client, events: Int16(POLLOUT), revents: 0)
        _ = poll(&pollOut, 1, 5000)
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        _ = write(client, "unread", 6)
        close(client)
        XCTAssertTrue(waitUntil(5) { worker.queue.sync { worker.poller.registeredCount == 0 } },
                      "the hung-up socket stops being reported while nothing is wanted")
        worker.queue.sync { XCTAssertFalse(channel!.isClosed, "a paused channel is not closed behind its owner's back") }
        worker.queue.sync { channel!.resumeReading(.awaitingTurn) }
        XCTAssertEqual(watcher.closed.wait(timeout: .now() + 5), .success, "resuming finds the reset and closes")
        Sockets.close(listenFD)
    }

    private func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while DispatchTime.now() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}
