// swift-tools-version:6.0
// errata — a reverse proxy that gives legacy HTTP APIs one error format.
//
// Module graph (dependencies point one way, downwards):
//
//   errata (exe) ─▶ Proxy ─▶ HTTP1, HTTP2, TLS, EventLoop, ProxyConfig, ErrorNormalizer, RateLimit, Router
//   Proxy ─▶ RateLimitRedis ─▶ EventLoop, RateLimit, CHiredis, CSSL
//   ProxyConfig ─▶ ErrorNormalizer, RateLimit, Router, ProxyModel, LenientJSON
//   RateLimit ─▶ ProxyModel
//   ErrorNormalizer, Router, HTTP1 ─▶ ProxyModel ─▶ LenientJSON
//   pure cores (LenientJSON, ProxyModel, ErrorNormalizer, RateLimit, Router, HTTP1) import no C and do no I/O.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "errata",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "errata", targets: ["errata"]),
        .executable(name: "legacy-demo", targets: ["legacy-demo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
    ],
    targets: [
        // System libraries through pkg-config, each with a shims header for macros Swift cannot import.
        .systemLibrary(name: "CSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // libc calls hidden behind _GNU_SOURCE (accept4) and other tiny syscall wrappers.
        .target(name: "CSystemShims"),

        // Pure cores.
        .target(name: "LenientJSON", swiftSettings: strict),
        .target(name: "ProxyModel", dependencies: ["LenientJSON"], swiftSettings: strict),
        .target(name: "ErrorNormalizer", dependencies: ["ProxyModel", "LenientJSON"], swiftSettings: strict),
        .target(name: "RateLimit", dependencies: ["ProxyModel"], swiftSettings: strict),
        .target(name: "Router", dependencies: ["ProxyModel"], swiftSettings: strict),
        .target(name: "HTTP1", dependencies: ["ProxyModel"], swiftSettings: strict),

        .target(name: "ProxyConfig",
                dependencies: ["ProxyModel", "LenientJSON", "ErrorNormalizer", "RateLimit", "Router"],
                swiftSettings: strict),

        // I/O.
        .target(name: "EventLoop", dependencies: ["CSystemShims"], swiftSettings: strict),
        .target(name: "TLS", dependencies: ["CSSL"], swiftSettings: strict),
        .target(name: "HTTP2", dependencies: ["CNGHTTP2", "ProxyModel"], swiftSettings: strict),
        // The shared rate-limit store: hiredis async on the worker's event loop, a Lua GCRA script.
        .target(name: "RateLimitRedis", dependencies: ["EventLoop", "RateLimit", "ProxyModel", "CHiredis", "CSSL"],
                swiftSettings: strict),
        .target(name: "Proxy",
                dependencies: ["EventLoop", "HTTP1", "HTTP2", "TLS", "ProxyConfig", "ProxyModel",
                               "ErrorNormalizer", "RateLimit", "RateLimitRedis", "Router", "CZlib",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "Prometheus", package: "swift-prometheus")],
                swiftSettings: strict),
        .executableTarget(name: "errata",
                          dependencies: ["Proxy", "ProxyConfig",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "Metrics", package: "swift-metrics"),
                                         .product(name: "Prometheus", package: "swift-prometheus")],
                          swiftSettings: strict),

        // The demo legacy APIs (a library the tests reuse, and an executable for `make run`).
        .target(name: "LegacyDemo", dependencies: ["CSystemShims", "CZlib"], swiftSettings: strict),
        .executableTarget(name: "legacy-demo", dependencies: ["LegacyDemo"], swiftSettings: strict),
        // A blocking HTTP/1.1 client written apart from the code under test, and the test certificates; only tests use it.
        .target(name: "HTTPTestClient", dependencies: ["CZlib"], swiftSettings: strict),
        // An HTTP/2 client on libnghttp2's client session (bytes alone, or over a socket); only tests use it.
        .target(name: "HTTP2TestClient", dependencies: ["CNGHTTP2", "HTTPTestClient"], swiftSettings: strict),
        // A real redis-server on a free loopback port, and raw RESP queries; only tests use it.
        .target(name: "RedisTestServer", dependencies: ["HTTPTestClient"], swiftSettings: strict),
        // Benchmark: full TLS handshakes per second between two in-memory engines.
        .executableTarget(name: "TLSBench", dependencies: ["TLS"], swiftSettings: strict),
        // Benchmark: ns and allocations per ErrorNormalizer.normalize call on each acceptance vector;
        // CMallocCounter interposes malloc & co. to count the allocations (only this binary links it).
        .target(name: "CMallocCounter"),
        .target(name: "BenchSupport", dependencies: ["CMallocCounter"], swiftSettings: strict),
        .executableTarget(name: "NormalizerBench", dependencies: ["ErrorNormalizer", "ProxyModel", "LenientJSON", "BenchSupport"],
                          swiftSettings: strict),
        // Benchmark: ns and allocations per local rate-limit check; `redis PORT`: shared-store
        // checks per second through one instance's workers.
        .executableTarget(name: "RateLimitBench", dependencies: ["RateLimit", "RateLimitRedis", "EventLoop", "ProxyModel",
                                                                 "BenchSupport"],
                          swiftSettings: strict),
        // libFuzzer target for the normalizer. `make fuzz` builds it with -DFUZZING and the fuzzer
        // flags (own scratch path); a plain build makes it a replayer of saved inputs instead.
        // CFuzzerDriver declares libFuzzer's LLVMFuzzerRunDriver, which its @main calls.
        .target(name: "CFuzzerDriver"),
        .executableTarget(name: "ErrorNormalizerFuzz", dependencies: ["ErrorNormalizer", "ProxyModel", "LenientJSON", "CFuzzerDriver"],
                          swiftSettings: strict),

        .testTarget(name: "LenientJSONTests", dependencies: ["LenientJSON"]),
        .testTarget(name: "ProxyModelTests", dependencies: ["ProxyModel"]),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1", "ProxyModel"]),
        .testTarget(name: "EventLoopTests", dependencies: ["EventLoop", "CSystemShims"]),
        .testTarget(name: "HTTP2Tests", dependencies: ["HTTP2", "HTTP2TestClient", "ProxyModel"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS", "CSSL", "HTTPTestClient"]),
        .testTarget(name: "LegacyDemoTests", dependencies: ["LegacyDemo", "HTTPTestClient", "CZlib"]),
        .testTarget(name: "IntegrationTests",
                    dependencies: ["Proxy", "ProxyConfig", "ProxyModel", "Router", "LegacyDemo", "HTTPTestClient",
                                   "HTTP2TestClient", "EventLoop", "ErrorNormalizer", "RateLimit", "RateLimitRedis",
                                   "RedisTestServer", "TLS",
                                   .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ProxyConfigTests", dependencies: ["ProxyConfig", "ProxyModel", "Router", "RateLimit"]),
        .testTarget(name: "RouterTests", dependencies: ["Router"]),
        .testTarget(name: "RateLimitTests", dependencies: ["RateLimit", "ProxyModel"]),
        .testTarget(name: "RateLimitRedisTests", dependencies: ["RateLimitRedis", "RateLimit", "EventLoop", "ProxyModel",
                                                                "RedisTestServer"]),
        .testTarget(name: "ErrorNormalizerTests", dependencies: ["ErrorNormalizer", "ProxyModel", "LenientJSON"],
                    resources: [.copy("Fixtures")]),
    ]
)
