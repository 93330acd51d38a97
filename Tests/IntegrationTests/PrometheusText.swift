/// The samples of a Prometheus text exposition, parsed apart from swift-prometheus's writer so
/// the tests check the format itself: `name{label="value",…} number` lines, `#` lines skipped.
struct PrometheusText {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }
    private(set) var samples: [Sample] = []
    /// Names that have a `# TYPE` line, with their type.
    private(set) var types: [String: String] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
                continue
            }
            if line.hasPrefix("#") || line.isEmpty { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else {
                samples.append(Sample(name: String(series), labels: [:], value: value))
                continue
            }
            var labels: [String: String] = [:]
            var rest = series[series.index(after: brace)...].dropLast() // without the closing brace
            while let equals = rest.firstIndex(of: "=") {
                let key = String(rest[..<equals])
                var cursor = rest.index(equals, offsetBy: 2) // past ="
                var value = ""
                while cursor < rest.endIndex, rest[cursor] != "\"" {
                    if rest[cursor] == "\\" { cursor = rest.index(after: cursor) }
                    value.append(rest[cursor])
                    cursor = rest.index(after: cursor)
                }
                labels[key] = value
                rest = rest[rest.index(after: cursor)...]
                if rest.first == "," { rest = rest.dropFirst() }
            }
            samples.append(Sample(name: String(series[..<brace]), labels: labels, value: value))
        }
    }

    /// The sum over every sample named `name` whose labels include `labels` (e.g. over workers).
    func sum(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
        }.reduce(0) { $0 + $1.value }
    }

    /// Whether any sample is named `name` with labels including `labels`.
    func has(_ name: String, _ labels: [String: String] = [:]) -> Bool {
        samples.contains { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
    }
}
