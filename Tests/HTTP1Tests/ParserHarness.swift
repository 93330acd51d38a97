import HTTP1
import ProxyModel
import XCTest

/// The two parsers, driven the same way by `drive`.
protocol DrivableParser {
    associatedtype Head: Sendable & Equatable
    mutating func parse(_ buffer: UnsafeRawBufferPointer) throws(HTTP1Error) -> (consumed: Int, event: HTTP1Event<Head>?)
    var framing: BodyFraming { get }
    var keepAlive: Bool { get }
}

extension HTTP1RequestParser: DrivableParser {}
extension HTTP1ResponseParser: DrivableParser {}

/// An event as a test sees it: body bytes copied out, adjacent body events merged (how the
/// body is cut depends on how the input was split), the framing and persistence the parser
/// reported right after each head.
enum Observed<Head: Equatable>: Equatable {
    case head(Head, BodyFraming, keepAlive: Bool)
    case body([UInt8])
    case end
}

struct Outcome<Head: Equatable>: Equatable {
    var events: [Observed<Head>] = []
    /// The error kind the parser threw, if it threw.
    var error: ProxyError.Kind?
    /// The bytes left unconsumed at the end (compared only when nothing was thrown).
    var leftover: [UInt8] = []

    static func == (a: Outcome, b: Outcome) -> Bool {
        a.events == b.events && a.error == b.error && (a.error != nil || a.leftover == b.leftover)
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// One `parse` call on the bytes of `input`.
func parseOnce<P: DrivableParser>(_ parser: inout P, _ input: [UInt8]) throws(HTTP1Error) -> (consumed: Int, event: HTTP1Event<P.Head>?) {
    var result: Result<(consumed: Int, event: HTTP1Event<P.Head>?), HTTP1Error>?
    input.withUnsafeBytes { raw in
        do throws(HTTP1Error) { result = .success(try parser.parse(raw)) } catch { result = .failure(error) }
    }
    return try result!.get()
}

/// Feeds `chunks` one after the other like a real connection: the caller keeps the unconsumed
/// tail, appends the new bytes, and calls `parse` until it returns no event.
/// `beforeMessage` runs before the first byte and after every `.end`, given how many
/// `.end`s were seen so far.
func drive<P: DrivableParser>(
    _ parser: inout P, _ chunks: [[UInt8]], beforeMessage: (inout P, Int) -> Void = { _, _ in },
    file: StaticString = #filePath, line: UInt = #line
) -> Outcome<P.Head> {
    var outcome = Outcome<P.Head>()
    var pending: [UInt8] = []
    var ends = 0
    beforeMessage(&parser, 0)
    func record(_ event: Observed<P.Head>) {
        if case .body(let more) = event, case .body(let previous)? = outcome.events.last {
            outcome.events[outcome.events.count - 1] = .body(previous + more)
        } else {
            outcome.events.append(event)
        }
    }
    for chunk in chunks {
        pending += chunk
        var calls = 0
        while true {
            calls += 1
            guard calls < 100_000 else {
                XCTFail("parser does not progress", file: file, line: line)
                return outcome
            }
            let result: (consumed: Int, event: HTTP1Event<P.Head>?)
            do {
                result = try parseOnce(&parser, pending)
            } catch {
                outcome.error = error.kind
                outcome.leftover = pending
                return outcome
            }
            XCTAssert(result.consumed >= 0 && result.consumed <= pending.count, file: file, line: line)
            switch result.event {
            case nil: break
            case .head(let head)?: record(.head(head, parser.framing, keepAlive: parser.keepAlive))
            case .body(let range)?:
                XCTAssertFalse(range.isEmpty, "empty body event", file: file, line: line)
                XCTAssert(range.upperBound <= result.consumed, "body bytes not consumed", file: file, line: line)
                record(.body(Array(pending[range])))
            case .end?:
                record(.end)
            }
            pending.removeFirst(result.consumed)
            if result.event == nil { break }
            if case .end? = result.event {
                ends += 1
                beforeMessage(&parser, ends)
            }
        }
    }
    outcome.leftover = pending
    return outcome
}

/// Parses `input` whole, then split in two at every byte boundary, then one byte at a time;
/// every way must give the same outcome. Returns the whole-input outcome.
@discardableResult
func assertSplitInvariant<P: DrivableParser>(
    _ input: [UInt8], _ make: () -> P, beforeMessage: (inout P, Int) -> Void = { _, _ in },
    file: StaticString = #filePath, line: UInt = #line
) -> Outcome<P.Head> {
    var whole = make()
    let reference = drive(&whole, [input], beforeMessage: beforeMessage, file: file, line: line)
    for k in 0...input.count {
        var parser = make()
        let split = drive(&parser, [Array(input[..<k]), Array(input[k...])], beforeMessage: beforeMessage,
                          file: file, line: line)
        if split != reference {
            XCTFail("split at \(k) gives \(split), whole input gives \(reference)", file: file, line: line)
            return reference
        }
    }
    var parser = make()
    let byteByByte = drive(&parser, input.map { [$0] }, beforeMessage: beforeMessage, file: file, line: line)
    XCTAssertEqual(byteByByte, reference, "byte by byte", file: file, line: line)
    return reference
}
