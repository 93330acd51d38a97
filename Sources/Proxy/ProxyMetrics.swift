import EventLoop
import Prometheus

/// The proxy's metrics, kept in one Prometheus registry per server and written out by the
/// admin listener's `/metrics` (swift-prometheus renders the text format).
///
/// Contention: every series a request touches carries a `worker` label and is created by that
/// worker's `WorkerMetrics`, so no two workers ever share a counter's atomic or a histogram's
/// lock on the hot path; Prometheus sums them at query time (`sum without (worker) (…)`).
/// Process-wide series (reloads, open connections) change off the hot path.
public final class ProxyMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let reloadSucceeded: Counter
    private let reloadFailed: Counter
    private let openConnections: Gauge
    private let configGeneration: Gauge

    /// Upper bounds of the duration histograms (seconds): 1 ms to 30 s.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        reloadSucceeded = registry.makeCounter(descriptor: Metric.reloads, labels: [("result", "success")])
        reloadFailed = registry.makeCounter(descriptor: Metric.reloads, labels: [("result", "failure")])
        openConnections = registry.makeGauge(descriptor: Metric.openConnections)
        configGeneration = registry.makeGauge(descriptor: Metric.configGeneration)
        for result in ["success", "failure"] {
            _ = registry.makeCounter(descriptor: Metric.tlsHandshakes, labels: [("result", result)])
        }
    }

    /// A config reload ended; `generation`: the one served from now on (nil: unchanged).
    public func recordReload(succeeded: Bool, generation: Int?) {
        (succeeded ? reloadSucceeded : reloadFailed).increment()
        if let generation { configGeneration.set(Int64(generation)) }
    }

    /// The text exposition, with `errata_open_connections` set to `openConnections` first.
    func exposition(openConnections count: Int) -> [UInt8] {
        openConnections.set(Int64(count))
        return registry.emitToBuffer()
    }

    /// The series errata exports: one name, one help text each (computed: swift-prometheus's
    /// descriptor is not `Sendable`; they are built only when a new label set is first seen).
    enum Metric {
        private static func errata(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "errata", metricName: name, unitName: unit, helpText: help)
        }
        static var requests: MetricNameDescriptor { errata("requests", "total", "Requests answered, by route, status class and protocol.") }
        static var requestDuration: MetricNameDescriptor { errata("request_duration", "seconds", "From the request head to the last response byte queued, by route.") }
        static var upstreamResponse: MetricNameDescriptor { errata("upstream_response", "seconds", "From the request sent upstream to the upstream's response head, by upstream.") }
        static var upstreamErrors: MetricNameDescriptor { errata("upstream_errors", "total", "Upstream error responses by upstream, dialect and outcome (rewritten; unreadable: rewritten from the status alone; passed_through).") }
        static var synthesized: MetricNameDescriptor { errata("synthesized_errors", "total", "Errors errata answered itself, by canonical code.") }
        static var rateLimits: MetricNameDescriptor { errata("rate_limit_decisions", "total", "Rate-limit decisions by the policy that decided (the denying one, or the route's last).") }
        static var rateLimitStore: MetricNameDescriptor { errata("rate_limit_store", "total", "Checks sent to the shared rate-limit store by result (ok; unavailable, timeout, error: on_failure decided).") }
        static var reloads: MetricNameDescriptor { errata("config_reloads", "total", "Config reloads by result.") }
        static var tlsHandshakes: MetricNameDescriptor { errata("tls_handshakes", "total", "TLS handshakes on listeners by result (failure: refused, broken, timed out, or the client left before it completed).") }
        static var openConnections: MetricNameDescriptor { errata("open_connections", "", "Client connections open now.") }
        static var configGeneration: MetricNameDescriptor { errata("config_generation", "", "The generation of the config being served (0 at start, +1 per successful reload).") }
    }
}

/// One worker's view of `ProxyMetrics`: the series it has touched, cached by their labels so
/// the registry's lock is taken only the first time a label set is seen.
///
/// Confined to its worker's queue (`WorkerContext` owns it).
final class WorkerMetrics {
    private let registry: PrometheusCollectorRegistry
    private let worker: String

    private struct RequestKey: Hashable {
        var route: String
        var statusClass: Int
        var protocolName: String
    }
    private struct ErrorKey: Hashable {
        var upstream: String
        var dialect: String
        var outcome: UpstreamErrorOutcome
    }
    private struct PolicyKey: Hashable {
        var policy: String
        var allowed: Bool
    }

    private var requests: [RequestKey: Counter] = [:]
    /// The series the previous request used: consecutive requests mostly share them, and
    /// comparing the key (Strings that share storage) is cheaper than hashing it.
    private var lastRequest: (key: RequestKey, counter: Counter, duration: DurationHistogram)?
    private var lastUpstreamResponse: (upstream: String, histogram: DurationHistogram)?
    private var requestDurations: [String: DurationHistogram] = [:]
    private var upstreamResponses: [String: DurationHistogram] = [:]
    private var upstreamErrors: [ErrorKey: Counter] = [:]
    private var synthesized: [String: Counter] = [:]
    private var rateLimits: [PolicyKey: Counter] = [:]
    /// Process-wide (no `worker` label: the series exist from the start, label set fixed).
    private let tlsHandshakeSucceeded: Counter
    private let tlsHandshakeFailed: Counter
    private var rateLimitStore: [String: Counter] = [:]

    init(metrics: ProxyMetrics, worker: Int) {
        registry = metrics.registry
        self.worker = String(worker)
        tlsHandshakeSucceeded = registry.makeCounter(descriptor: ProxyMetrics.Metric.tlsHandshakes, labels: [("result", "success")])
        tlsHandshakeFailed = registry.makeCounter(descriptor: ProxyMetrics.Metric.tlsHandshakes, labels: [("result", "failure")])
    }

    func recordTLSHandshake(succeeded: Bool) {
        (succeeded ? tlsHandshakeSucceeded : tlsHandshakeFailed).increment()
    }

    /// `route`: nil when no route matched (labelled `-`). `protocolName`: `HTTP/1.1`, `HTTP/1.0`…
    /// `status` 0 (the client left before any response) is labelled `status_class="none"`.
    func recordRequest(route: String?, status: Int, protocolName: String, durationNanoseconds: UInt64) {
        let route = route ?? "-"
        let key = RequestKey(route: route, statusClass: status / 100, protocolName: protocolName)
        let series: (key: RequestKey, counter: Counter, duration: DurationHistogram)
        if let last = lastRequest, last.key == key {
            series = last
        } else {
            series = (key, cached(&requests, key) {
                counter(ProxyMetrics.Metric.requests, [("route", route),
                                                       ("status_class", key.statusClass == 0 ? "none" : "\(key.statusClass)xx"),
                                                       ("protocol", protocolName)])
            }, cached(&requestDurations, route) {
                histogram(ProxyMetrics.Metric.requestDuration, [("route", route)])
            })
            lastRequest = series
        }
        series.counter.increment()
        series.duration.recordNanoseconds(Int64(durationNanoseconds))
    }

    func recordUpstreamResponse(upstream: String, nanoseconds: UInt64) {
        let histogram: DurationHistogram
        if let last = lastUpstreamResponse, last.upstream == upstream {
            histogram = last.histogram
        } else {
            histogram = cached(&upstreamResponses, upstream) {
                self.histogram(ProxyMetrics.Metric.upstreamResponse, [("upstream", upstream)])
            }
            lastUpstreamResponse = (upstream, histogram)
        }
        histogram.recordNanoseconds(Int64(nanoseconds))
    }

    func recordUpstreamError(upstream: String, dialect: String, outcome: UpstreamErrorOutcome) {
        cached(&upstreamErrors, ErrorKey(upstream: upstream, dialect: dialect, outcome: outcome)) {
            counter(ProxyMetrics.Metric.upstreamErrors, [("upstream", upstream), ("dialect", dialect), ("outcome", outcome.rawValue)])
        }.increment()
    }

    /// An error errata answered itself, by its canonical `code` (`upstream_timeout`…).
    func recordSynthesized(code: String) {
        cached(&synthesized, code) { counter(ProxyMetrics.Metric.synthesized, [("code", code)]) }.increment()
    }

    func recordRateLimit(policy: String?, allowed: Bool) {
        guard let policy else { return }
        cached(&rateLimits, PolicyKey(policy: policy, allowed: allowed)) {
            counter(ProxyMetrics.Metric.rateLimits, [("policy", policy), ("decision", allowed ? "allowed" : "limited")])
        }.increment()
    }

    /// A check sent to the shared store: `ok`, or why it gave no decision.
    func recordRateLimitStore(result: String) {
        cached(&rateLimitStore, result) { counter(ProxyMetrics.Metric.rateLimitStore, [("result", result)]) }.increment()
    }

    /// The series cached under `key`, made (and cached) the first time.
    private func cached<Key: Hashable, Series>(_ cache: inout [Key: Series], _ key: Key, _ make: () -> Series) -> Series {
        if let series = cache[key] { return series }
        let made = make()
        cache[key] = made
        return made
    }

    /// This worker's counter with `labels` (the `worker` label added).
    private func counter(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)]) -> Counter {
        registry.makeCounter(descriptor: descriptor, labels: labels + [("worker", worker)])
    }

    private func histogram(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)]) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: descriptor, labels: labels + [("worker", worker)],
                                       buckets: ProxyMetrics.durationBuckets)
    }
}

/// What became of an upstream error response (a metrics label).
enum UpstreamErrorOutcome: String, Hashable {
    case rewritten
    case unreadable
    case passedThrough = "passed_through"
}
