import EventLoop
import Glibc
import XCTest

/// A fake kernel that accepts a scripted number of bytes per writev call.
final class ScriptedKernel: SocketIO {
    var accepts: [Int]           // bytes taken per call; -1 = EAGAIN
    var written: [UInt8] = []
    var calls = 0
    init(_ accepts: [Int]) { self.accepts = accepts }

    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> IOResult { .wouldBlock }

    func writev(_ fd: Int32, _ iov: UnsafeBufferPointer<iovec>) -> IOResult {
        calls += 1
        let take = accepts.isEmpty ? Int.max : accepts.removeFirst()
        if take < 0 { return .wouldBlock }
        var total = 0
        for v in iov {
            let n = min(v.iov_len, take - total)
            if n <= 0 { break }
            written.append(contentsOf: UnsafeRawBufferPointer(start: v.iov_base, count: n))
            total += n
        }
        return .processed(total)
    }
}

final class WriteQueueTests: XCTestCase {
    func testPartialWritesKeepOrderAndCount() {
        let kernel = ScriptedKernel([3, -1, 4, -1, 100])
        var q = WriteQueue()
        let a = Array("hello world".utf8), b = Array("!!".utf8)
        XCTAssertEqual(a.withUnsafeBytes { q.write($0, fd: 0, io: kernel) }, .pending)
        XCTAssertEqual(q.count, 8)
        let callsBefore = kernel.calls
        XCTAssertEqual(b.withUnsafeBytes { q.write($0, fd: 0, io: kernel) }, .pending)
        XCTAssertEqual(kernel.calls, callsBefore, "a write behind queued bytes waits for the write source")
        XCTAssertEqual(q.count, 10)
        XCTAssertEqual(q.flush(fd: 0, io: kernel), .pending)
        XCTAssertEqual(q.count, 6)
        XCTAssertEqual(q.flush(fd: 0, io: kernel), .drained)
        XCTAssertTrue(q.isEmpty)
        XCTAssertEqual(String(decoding: kernel.written, as: UTF8.self), "hello world!!")
    }

    func testFastPathCopiesNothingWhenTheKernelTakesAll() {
        let kernel = ScriptedKernel([])
        var q = WriteQueue()
        XCTAssertEqual(Array(repeating: UInt8(7), count: 1000).withUnsafeBytes { q.write($0, fd: 0, io: kernel) }, .drained)
        XCTAssertEqual(kernel.calls, 1)
        XCTAssertTrue(q.isEmpty)
    }

    func testWritesAfterPendingCoalesceIntoOneCall() {
        let kernel = ScriptedKernel([-1])
        var q = WriteQueue()
        for s in ["a", "b", "c"] {
            _ = Array(s.utf8).withUnsafeBytes { q.write($0, fd: 0, io: kernel) }
        }
        let callsBefore = kernel.calls
        XCTAssertEqual(q.flush(fd: 0, io: kernel), .drained)
        XCTAssertEqual(kernel.calls - callsBefore, 1)
        XCTAssertEqual(kernel.written, Array("abc".utf8))
    }
}
