// NormalizerBench: the pure module's cost on each acceptance vector — nanoseconds and heap
// allocations per `ErrorNormalizer.normalize` call, and per normalize + flat render (what the
// proxy does for one rewritten response); then, for the breakdown, the two parts of normalize
// that are public: its Content-Type checks and the JSON parse (the rest is the dialect reading
// the parsed body and the CanonicalError fallbacks). Usage, from the repository root:
//   swift run -c release NormalizerBench [RUNS] [FIXTURE]
// RUNS timed runs per vector (default 9) of ~20 ms of this thread's CPU time each; the median
// is printed. FIXTURE
// defaults to Tests/ErrorNormalizerTests/Fixtures/dialect-vectors.json.
//
// Allocations are counted for real: the CMallocCounter target interposes malloc, calloc,
// realloc, posix_memalign, aligned_alloc and memalign (forwarding to glibc's __libc_*), and
// counts calls made by this thread; a figure is the count over 1,000 calls divided by 1,000.
// Bodies are handed over as the proxy does: already decoded (the gzip vector's plain bytes).
import BenchSupport
import ErrorNormalizer
import Foundation
import LenientJSON
import ProxyModel

#if canImport(Glibc)
import Glibc
#endif

struct Vector {
    var name: String
    var dialect: Dialect
    var status: Int
    var contentType: String?
    var body: [UInt8]
}

func loadVectors(_ path: String) throws -> [Vector] {
    let fixture = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    var dialects: [String: Dialect] = ["auto": .auto]
    for (name, spec) in fixture["dialects"] as! [String: Any] {
        let text = String(decoding: try JSONSerialization.data(withJSONObject: spec), as: UTF8.self)
        dialects[name] = try Dialect.compile(name: name, spec: JSONReader.parse(text), path: "dialects.\(name)").get()
    }
    return try (fixture["vectors"] as! [[String: Any]]).map { v in
        let up = v["upstream"] as! [String: Any]
        let headers = up["headers"] as? [String: String] ?? [:]
        let body = try (up["body_text"] as? String).map { Array($0.utf8) }
            ?? Array(JSONSerialization.data(withJSONObject: up["body"]!))
        return Vector(name: v["name"] as! String, dialect: dialects[v["dialect"] as! String]!,
                      status: up["status"] as! Int, contentType: headers["Content-Type"], body: body)
    }
}

/// Keeps results observable so the optimizer cannot drop the calls.
nonisolated(unsafe) var sink = 0

@inline(never)
func normalizeOnce(_ v: Vector) {
    if case .rewrite(let status, let error, _) = ErrorNormalizer.normalize(status: v.status, contentType: v.contentType,
                                                                         body: v.body, dialect: v.dialect) {
        sink &+= status &+ error.message.utf8.count
    }
}

@inline(never)
func normalizeAndRender(_ v: Vector) {
    if case .rewrite(let status, let error, _) = ErrorNormalizer.normalize(status: v.status, contentType: v.contentType,
                                                                         body: v.body, dialect: v.dialect) {
        sink &+= error.render(status: status, options: ErrorRenderOptions(), accept: nil).body.count
    } else {
        sink &+= 1
    }
}

/// The two parts of `normalize` that can be called from outside, for the breakdown columns:
/// the Content-Type checks it makes (`isGRPC`, then `mayBeJSONError`), and the JSON parse with
/// the options it uses (depth 64, trailing commas).
@inline(never)
func contentTypeChecks(_ v: Vector) {
    if !MediaType.isGRPC(v.contentType) && MediaType.mayBeJSONError(v.contentType) { sink &+= 1 }
}

@inline(never)
func parseOnly(_ v: Vector) {
    if let value = try? JSONReader.parse(v.body, options: JSONReader.Options(maxDepth: ErrorNormalizer.maxDepth, allowTrailingCommas: true)),
       case .object(let object) = value {
        sink &+= object.members.count
    }
}

let arguments = CommandLine.arguments
let defaultFixture = "Tests/ErrorNormalizerTests/Fixtures/dialect-vectors.json"
// `--calls N VECTOR [FIXTURE]`: no timing, only N calls of each measured function on one vector,
// for an instruction counter (`valgrind --tool=callgrind` on a copy stripped of its DWARF 5
// debug info, which valgrind 3.19 cannot read): inclusive instructions of `normalizeOnce`,
// `normalizeAndRender` and `contentTypeChecks` divided by N are per-call figures that do not
// depend on how loaded the machine is. See bench/normalizer-instructions.sh.
if arguments.count > 3, arguments[1] == "--calls", let calls = Int(arguments[2]) {
    let vectors = try loadVectors(arguments.count > 4 ? arguments[4] : defaultFixture)
    guard let v = vectors.first(where: { $0.name == arguments[3] }) else { fatalError("no vector \(arguments[3])") }
    for _ in 0..<calls { normalizeOnce(v) }
    for _ in 0..<calls { normalizeAndRender(v) }
    for _ in 0..<calls { contentTypeChecks(v) }
    exit(sink == 42 ? 1 : 0)
}
let runs = arguments.count > 1 ? max(1, Int(arguments[1]) ?? 9) : 9
let fixturePath = arguments.count > 2 ? arguments[2] : defaultFixture
let vectors = try loadVectors(fixturePath)
requireMallocCounter()

print("ErrorNormalizer.normalize on \(vectors.count) vectors: median of \(runs) runs of ~20 ms of thread CPU time each; allocations per call over 1,000 calls (interposed malloc)")
print("| vector | dialect | body B | normalize ns | allocs | alloc B | + render ns | allocs | of which: type checks ns | allocs | JSON parse ns | allocs |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
var typical: [(ns: Double, allocs: Double, renderNS: Double, renderAllocs: Double)] = []
for v in vectors {
    let ns = timePerCall(runs: runs) { normalizeOnce(v) }
    let allocs = allocationsPerCall { normalizeOnce(v) }
    let renderNS = timePerCall(runs: runs) { normalizeAndRender(v) }
    let renderAllocs = allocationsPerCall { normalizeAndRender(v) }
    let typeNS = timePerCall(runs: runs) { contentTypeChecks(v) }
    let typeAllocs = allocationsPerCall { contentTypeChecks(v) }
    let parses = MediaType.mayBeJSONError(v.contentType) && !v.body.isEmpty
    let parseNS = parses ? timePerCall(runs: runs) { parseOnly(v) } : 0
    let parseAllocs = parses ? allocationsPerCall { parseOnly(v) }.calls : 0
    if v.body.count < 1024 { typical.append((ns, allocs.calls, renderNS, renderAllocs.calls)) }
    func f(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(format: "%.1f", x) }
    print("| \(v.name) | \(v.dialect.name) | \(v.body.count) | \(Int(ns.rounded())) | \(f(allocs.calls)) | \(Int(allocs.bytes.rounded())) | \(Int(renderNS.rounded())) | \(f(renderAllocs.calls)) | \(Int(typeNS.rounded())) | \(f(typeAllocs.calls)) | \(parses ? String(Int(parseNS.rounded())) : "–") | \(parses ? f(parseAllocs) : "–") |")
}
func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.isEmpty ? .nan : s[s.count / 2] }
let worstNS = typical.map(\.ns).max() ?? .nan, worstAllocs = typical.map(\.allocs).max() ?? .nan
print("")
print(String(format: "bodies < 1 KiB (%d): normalize median %.0f ns, worst %.0f ns, worst %.1f allocations; with render median %.0f ns, worst %.0f ns, worst %.1f allocations",
             typical.count, median(typical.map(\.ns)), worstNS, worstAllocs,
             median(typical.map(\.renderNS)), typical.map(\.renderNS).max() ?? .nan, typical.map(\.renderAllocs).max() ?? .nan))
print("targets (≤ 5,000 ns and ≤ 20 allocations per typical body): " + (worstNS <= 5_000 && worstAllocs <= 20 ? "met" : "NOT met"))
if sink == 42 { print("") }
