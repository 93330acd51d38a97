import LenientJSON

/// The one error shape every client of errata sees (ERRORS.md): `{type, code, param, message}`.
public struct CanonicalError: Sendable, Equatable {
    public enum ErrorType: String, Sendable, CaseIterable {
        case invalidRequest = "invalid_request"
        case authentication
        case rateLimit = "rate_limit"
        case api
    }

    public var type: ErrorType
    /// A token: the upstream's own code as written, else a snake_case code.
    public var code: String
    /// The request parameter at fault, dotted for nesting; nil renders as JSON null.
    public var param: String?
    /// Human-readable and never empty.
    public var message: String

    public init(type: ErrorType, code: String, param: String? = nil, message: String) {
        self.type = type
        self.code = code
        self.param = param
        self.message = message.isEmpty ? "Error" : message
    }

    /// The error a status alone implies (every field from ERRORS.md's fallbacks).
    public init(status: Int) {
        self.init(type: HTTPStatus.errorType(status), code: HTTPStatus.code(status), param: nil,
                  message: HTTPStatus.phrase(status))
    }
}

/// How errors are rendered: `errors.format`, `errors.problem_json`, `errors.problem_type_base`.
public struct ErrorRenderOptions: Sendable, Equatable {
    public enum Format: String, Sendable { case flat, wrapped }
    public enum ProblemJSON: String, Sendable { case never, negotiate, always }

    public var format: Format
    public var problemJSON: ProblemJSON
    public var problemTypeBase: String?

    public init(format: Format = .flat, problemJSON: ProblemJSON = .negotiate, problemTypeBase: String? = nil) {
        self.format = format
        self.problemJSON = problemJSON
        self.problemTypeBase = problemTypeBase
    }
}

/// A rendered error body and its media type.
public struct RenderedError: Sendable, Equatable {
    public var contentType: String
    public var body: [UInt8]
}

extension CanonicalError {
    /// Renders this error for a response of `status`, negotiated against the client's `Accept`.
    public func render(status: Int, options: ErrorRenderOptions, accept: String?) -> RenderedError {
        let problem: Bool
        switch options.problemJSON {
        case .never: problem = false
        case .always: problem = true
        case .negotiate: problem = accept.map(AcceptNegotiation.prefersProblemJSON) ?? false
        }
        var out: [UInt8] = []
        out.reserveCapacity(64 + message.utf8.count + code.utf8.count)
        if problem {
            appendProblem(status: status, typeBase: options.problemTypeBase, to: &out)
            return RenderedError(contentType: "application/problem+json", body: out)
        }
        if options.format == .wrapped { out.append(contentsOf: #"{"error":"#.utf8) }
        appendFlat(to: &out)
        if options.format == .wrapped { out.append(UInt8(ascii: "}")) }
        return RenderedError(contentType: "application/json", body: out)
    }

    /// `{"type":…,"code":…,"param":…,"message":…}`, compact, keys in that order.
    public func appendFlat(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"type":"#.utf8)
        JSONWriter.appendString(type.rawValue, to: &out)
        out.append(contentsOf: #","code":"#.utf8)
        JSONWriter.appendString(code, to: &out)
        out.append(contentsOf: #","param":"#.utf8)
        if let param { JSONWriter.appendString(param, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","message":"#.utf8)
        JSONWriter.appendString(message, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// RFC 9457: `type`, `title`, `status`, `detail`, and the extension members
    /// `error_type`, `code`, `param`.
    public func appendProblem(status: Int, typeBase: String?, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"type":"#.utf8)
        JSONWriter.appendString(typeBase.map { $0 + code } ?? "about:blank", to: &out)
        out.append(contentsOf: #","title":"#.utf8)
        JSONWriter.appendString(HTTPStatus.phrase(status), to: &out)
        out.append(contentsOf: #","status":"#.utf8)
        out.append(contentsOf: String(status).utf8)
        out.append(contentsOf: #","detail":"#.utf8)
        JSONWriter.appendString(message, to: &out)
        out.append(contentsOf: #","error_type":"#.utf8)
        JSONWriter.appendString(type.rawValue, to: &out)
        out.append(contentsOf: #","code":"#.utf8)
        JSONWriter.appendString(code, to: &out)
        out.append(contentsOf: #","param":"#.utf8)
        if let param { JSONWriter.appendString(param, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(UInt8(ascii: "}"))
    }
}

/// `Accept` negotiation between `application/problem+json` and `application/json`.
public enum AcceptNegotiation {
    /// True when `accept` gives `application/problem+json` a strictly higher q-value than
    /// `application/json` (the most specific matching range decides each one's q).
    public static func prefersProblemJSON(_ accept: String) -> Bool {
        quality(of: "application", "problem+json", in: accept) > quality(of: "application", "json", in: accept)
    }

    /// The q-value `accept` gives to `type/subtype`: from the most specific range that matches
    /// (exact, then `type/*`, then `*/*`), 0 when none does.
    public static func quality(of type: String, _ subtype: String, in accept: String) -> Double {
        var best: (specificity: Int, q: Double) = (-1, 0)
        for member in accept.split(separator: ",") {
            let parts = member.split(separator: ";")
            guard let range = parts.first?.trimmingSpaces().lowercased() else { continue }
            let pieces = range.split(separator: "/", maxSplits: 1)
            guard pieces.count == 2 else { continue }
            let specificity: Int
            if pieces[0] == type && pieces[1] == subtype {
                specificity = 2
            } else if pieces[0] == type && pieces[1] == "*" {
                specificity = 1
            } else if pieces[0] == "*" && pieces[1] == "*" {
                specificity = 0
            } else {
                continue
            }
            var q = 1.0
            for param in parts.dropFirst() {
                let kv = param.trimmingSpaces()
                if kv.lowercased().hasPrefix("q="), let v = Double(kv.dropFirst(2)) { q = min(max(v, 0), 1) }
            }
            if specificity > best.specificity { best = (specificity, q) }
        }
        return best.q
    }
}
