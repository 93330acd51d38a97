// ErrorNormalizerFuzz: a libFuzzer target for `ErrorNormalizer.normalize` and the renderer.
//
// Built two ways from this one file:
//   - `make fuzz` (FUZZING defined, `-sanitize=fuzzer,address -parse-as-library`, its own
//     scratch path): `@main` runs libFuzzer's driver, which calls `LLVMFuzzerTestOneInput`.
//   - a plain `swift build` (no fuzzer runtime): an `@main` replayer stands in, which runs
//     each file named on the command line (a crash libFuzzer left, or a corpus folder) through
//     the same checks, so a finding reproduces without sanitizers:
//     `swift run ErrorNormalizerFuzz .build-fuzz/artifacts/crash-…`.
//
// An input is a 5-byte header and the body (Fuzz/seed-corpus.py writes seeds in this form):
//   byte 0: the dialect, an index into `FuzzCase.dialects` (mod its count);
//   byte 1: the Content-Type, an index into `FuzzCase.contentTypes` (mod its count);
//   bytes 2-3: the status: big-endian, bit 15 picks 200-399 (an `error_when` candidate) over
//              400-599, the other 15 bits mod 200 are added;
//   byte 4: render options: bit 0 wrapped, bits 1-2 problem_json never/negotiate/always/always
//           with a type base, bits 3-4 the Accept header;
//   bytes 5...: the body, as the proxy hands it over (decoded and bounded).
// Missing header bytes count as zero.
//
// What must hold (the property test's invariants, and more): never a crash, a trap or an
// ASan report; a 400-599 status is always rewritten, a lower one passes through or becomes
// an error of 400-599; the canonical error has a type in the enum, a code token, a non-blank
// message, a param that is null or non-empty; its flat rendering is valid JSON (read by
// Foundation, an independent parser) with exactly the four keys whose values are the error's;
// the wrapped and problem+json renderings are valid JSON objects with their documented keys.
import ErrorNormalizer
import Foundation
import LenientJSON
import ProxyModel

enum FuzzCase {
    /// `auto`, the fixtures' four configured dialects, and two that reach the rest of the rule
    /// language: maps on numbers, extract on several fields (an optional group that may not take
    /// part), pointers with escapes and indexes, a status rule, `error_when` on several scalars.
    static let dialectSpecs: [(String, String)] = [
        ("oneclick", #"{"type":{"from":["/type"],"map":{"key_error":"authentication","api_error":"api","invalid_request_error":"invalid_request"}},"message":{"from":["/message"]}}"#),
        ("status_envelope", #"{"code":{"from":["/message/error_code","/error_code"]},"message":{"from":["/message/message","/message"],"join":"; "},"param":{"from":["/param"],"extract":{"from":"/message/message/0","regex":"'([^']+)' is a required property"}}}"#),
        ("status_envelope_200", #"{"error_when":{"status":"2xx","body":{"/status":"failure"}},"status":{"from":["/code"]},"code":{"from":["/message/error_code"]},"message":{"from":["/message/message","/message"],"join":"; "}}"#),
        ("message_description", #"{"code":{"from":["/error"]},"message":{"from":["/description","/error_description","/message"]}}"#),
        ("fuzz_rules", #"{"type":{"from":["/t","/0/t"],"map":{"1":"rate_limit","x":"api","E":"authentication"}},"code":{"from":["/a~1b/0","/c~0d","/0/code"],"map":{"1":"one","2.5":"two.five","x y":"x_y"},"extract":{"from":"/m","regex":"code=([A-Za-z0-9_.-]+)"}},"param":{"from":["/p","/errors/0/source/pointer"],"extract":{"from":"/m","regex":"(?:param (\\w+))?end"}},"message":{"from":["/m","/msgs",""],"join":" | "},"status":{"from":["/s","/0/s"],"extract":{"from":"/m","regex":"status (\\d{3})"}}}"#),
        ("fuzz_when", #"{"error_when":{"status":["2xx","300-399"],"body":{"/ok":false,"/n":1,"/z":null,"/s":"e"}},"status":{"from":["/code"]},"message":{"from":["/detail"]},"code":{"from":["/kind"]}}"#),
    ]

    static let dialects: [Dialect] = [.auto] + dialectSpecs.map { name, spec in
        switch Dialect.compile(name: name, spec: try! JSONReader.parse(spec), path: "dialects.\(name)") {
        case .success(let dialect): return dialect
        case .failure(let errors): fatalError("fuzz dialect \(name) does not compile: \(errors.problems)")
        }
    }

    static let contentTypes: [String?] = [
        "application/json", nil, "text/plain", "text/html", "application/problem+json",
        "Application/JSON; charset=utf-8", "application/grpc", "text/json", "", "application/vnd.api+json",
    ]

    static let accepts: [String?] = [nil, "application/problem+json", "application/json;q=0.5, application/problem+json", "*/*"]

    static let types = Set(CanonicalError.ErrorType.allCases.map(\.rawValue))

    /// Runs one input; returns a description of the first broken invariant, nil when all hold.
    static func run(_ input: UnsafeBufferPointer<UInt8>) -> String? {
        func byte(_ i: Int) -> Int { i < input.count ? Int(input[i]) : 0 }
        let dialect = dialects[byte(0) % dialects.count]
        let contentType = contentTypes[byte(1) % contentTypes.count]
        let raw = byte(2) << 8 | byte(3)
        let status = (raw & 0x8000 != 0 ? 200 : 400) + (raw & 0x7FFF) % 200
        let flags = byte(4)
        let body = UnsafeBufferPointer(rebasing: input[min(5, input.count)...])

        let result = ErrorNormalizer.normalize(status: status, contentType: contentType, body: body, dialect: dialect)
        let grpc = MediaType.isGRPC(contentType)
        guard case .rewrite(let finalStatus, let error, _) = result else {
            if status >= 400 && !grpc { return "status \(status) (\(contentType ?? "no type")) passed through" }
            return nil
        }
        if grpc { return "application/grpc rewritten" }
        if !(400...599).contains(finalStatus) { return "rewritten with status \(finalStatus)" }
        if status >= 400, dialect.name == "auto", finalStatus != status { return "auto changed status \(status) to \(finalStatus)" }
        if let problem = check(error) { return problem }

        // The flat rendering, read back by Foundation: the four keys, the error's values.
        let flat = error.render(status: finalStatus, options: ErrorRenderOptions(problemJSON: .never), accept: nil)
        guard flat.contentType == "application/json",
              let object = try? JSONSerialization.jsonObject(with: Data(flat.body)) as? [String: Any] else {
            return "flat rendering is not a JSON object: \(String(decoding: flat.body, as: UTF8.self))"
        }
        if Set(object.keys) != ["type", "code", "param", "message"] { return "flat keys \(object.keys.sorted())" }
        guard let type = object["type"] as? String, types.contains(type), type == error.type.rawValue else { return "flat type \(object["type"] ?? "none")" }
        guard object["code"] as? String == error.code else { return "flat code \(object["code"] ?? "none") != \(error.code)" }
        guard object["message"] as? String == error.message else { return "flat message does not round-trip: \(error.message.debugDescription)" }
        if let param = error.param {
            guard object["param"] as? String == param else { return "flat param does not round-trip: \(param.debugDescription)" }
        } else if !(object["param"] is NSNull) {
            return "flat param \(object["param"] ?? "none") is not null"
        }
        if !flat.body.starts(with: Array(#"{"type":"#.utf8)) { return "flat keys out of order" }

        // The rendering these flags select (wrapped, or problem+json by negotiation).
        let problemJSON: ErrorRenderOptions.ProblemJSON = [.never, .negotiate, .always, .always][(flags >> 1) & 3]
        let base = (flags >> 1) & 3 == 3 ? "https://errors.example.com/" : nil
        let options = ErrorRenderOptions(format: flags & 1 == 1 ? .wrapped : .flat, problemJSON: problemJSON, problemTypeBase: base)
        let rendered = error.render(status: finalStatus, options: options, accept: accepts[(flags >> 3) & 3])
        guard let other = try? JSONSerialization.jsonObject(with: Data(rendered.body)) as? [String: Any] else {
            return "\(rendered.contentType) rendering is not a JSON object: \(String(decoding: rendered.body, as: UTF8.self))"
        }
        switch rendered.contentType {
        case "application/problem+json":
            let keys: Set<String> = ["type", "title", "status", "detail", "error_type", "code", "param"]
            if Set(other.keys) != keys { return "problem keys \(other.keys.sorted())" }
            if other["status"] as? Int != finalStatus { return "problem status \(other["status"] ?? "none")" }
            if other["detail"] as? String != error.message { return "problem detail does not round-trip" }
        case "application/json" where options.format == .wrapped:
            guard other.count == 1, let inner = other["error"] as? [String: Any],
                  Set(inner.keys) == ["type", "code", "param", "message"] else { return "wrapped shape \(other.keys.sorted())" }
        case "application/json":
            if Set(other.keys) != ["type", "code", "param", "message"] { return "flat keys \(other.keys.sorted())" }
        default:
            return "content type \(rendered.contentType)"
        }
        return nil
    }

    /// The canonical error's own invariants (ERRORS.md, CONFIG.md "Values").
    static func check(_ error: CanonicalError) -> String? {
        if error.message.isEmpty || error.message.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
            return "blank message \(error.message.debugDescription)"
        }
        let token = !error.code.utf8.isEmpty && error.code.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == 0x5F || b == 0x2E || b == 0x2D
        }
        if !token { return "code is not a token: \(error.code.debugDescription)" }
        if error.param?.isEmpty == true { return "empty param" }
        return nil
    }
}

#if FUZZING
import CFuzzerDriver

/// The libFuzzer entry point, called once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if let problem = FuzzCase.run(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size)) {
        fatalError("invariant broken: \(problem)")
    }
    return 0
}

/// SwiftPM links every executable with `main` aliased to the module's `@main` (so that tests
/// can link executables), which leaves libFuzzer's own `main` out: this one hands the command
/// line to libFuzzer's driver, with the same flags and behaviour.
@main
enum FuzzMain {
    static func main() {
        // Compile the dialects before the first input, so their allocations are not counted
        // against it. (LeakSanitizer mistakes the compiled regexes' boxes for leaks at exit;
        // Fuzz/lsan.supp says why and suppresses exactly those.)
        _ = FuzzCase.dialects
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    }
}
#else
/// Replays files (or every file in a folder) through the same checks, printing each broken
/// invariant; exits 1 if there was any.
@main
enum Replay {
    static func main() {
        var failed = false
        let paths = CommandLine.arguments.dropFirst().flatMap { path -> [String] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
            return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
        }
        if paths.isEmpty {
            print("usage: ErrorNormalizerFuzz FILE|DIR... (replays inputs; `make fuzz` builds the libFuzzer binary)")
            return
        }
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { print("\(path): unreadable"); failed = true; continue }
            let problem = data.withUnsafeBytes { FuzzCase.run($0.bindMemory(to: UInt8.self)) }
            if let problem { print("\(path): \(problem)"); failed = true }
        }
        print("\(paths.count) inputs replayed, \(failed ? "FAILED" : "all invariants hold")")
        exit(failed ? 1 : 0)
    }
}
#endif
