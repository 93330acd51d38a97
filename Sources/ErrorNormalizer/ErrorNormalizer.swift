import LenientJSON
import ProxyModel

/// What the proxy does with one upstream response.
public enum NormalizationResult: Sendable, Equatable {
    /// Forward the upstream's bytes unchanged.
    case passThrough
    /// Replace the body with `error` and send it with `status`.
    case rewrite(status: Int, error: CanonicalError, outcome: Outcome)

    /// How much of a rewritten error came from the body (the proxy counts these per upstream).
    public enum Outcome: Sendable, Equatable {
        /// At least one rule read a field (or `error_when` matched) from the body.
        case rewritten
        /// Every field fell back to the status: the body was empty, not JSON, or had nothing usable.
        case unreadable
    }
}

/// Maps an upstream response onto the canonical error (ERRORS.md). Pure: no I/O, no
/// decompression; the caller hands in a body already decoded and bounded by
/// `limits.error_body_bytes`, and never calls it for responses to `HEAD`.
public enum ErrorNormalizer {
    /// Containers nested deeper than this make a body "not JSON".
    public static let maxDepth = 64

    /// Normalizes a response whose body was read. Statuses 400–599 are rewritten (the status
    /// kept unless the dialect's `status` rule finds one in the body); a lower status is
    /// rewritten only when the dialect's `error_when` matches, with the `status` rule's status
    /// or 502. 1xx, 204, 304 and `application/grpc` pass through.
    public static func normalize(status: Int, contentType: String?, body: some Collection<UInt8>,
                                 dialect: Dialect) -> NormalizationResult {
        let mediaType = MediaType.classify(contentType)
        guard mayRewrite(status: status), !mediaType.contains(.grpc) else { return .passThrough }
        if status >= 400 && status <= 599 {
            let document = mediaType.mayBeJSONError ? parse(body) : nil
            guard let document else { return .rewrite(status: status, error: CanonicalError(status: status), outcome: .unreadable) }
            return read(document, status: status, dialect: dialect, matchedErrorWhen: false)
        }
        guard let errorWhen = dialect.errorWhen, mediaType.contains(.json),
              errorWhen.statuses.contains(where: { $0.contains(status) }),
              let document = parse(body), errorWhen.matches(status: status, document: document) else {
            return .passThrough
        }
        return read(document, status: 502, dialect: dialect, matchedErrorWhen: true)
    }

    /// The result for an error response whose body cannot be read (over the size limit, or
    /// undecodable): the canonical error from `status`; `.passThrough` below 400 and for gRPC.
    public static func normalizeUnreadable(status: Int, contentType: String?) -> NormalizationResult {
        guard status >= 400 && status <= 599, !MediaType.isGRPC(contentType) else { return .passThrough }
        return .rewrite(status: status, error: CanonicalError(status: status), outcome: .unreadable)
    }

    /// Whether `status` may ever be rewritten: not 1xx, 204 or 304, and a real HTTP status.
    public static func mayRewrite(status: Int) -> Bool {
        status >= 200 && status <= 599 && status != 204 && status != 304
    }

    static func parse(_ body: some Collection<UInt8>) -> JSONValue? {
        let options = JSONReader.Options(maxDepth: maxDepth, allowTrailingCommas: true)
        let parsed = body.withContiguousStorageIfAvailable { buffer in
            try? JSONReader.parse(buffer: buffer, options: options)
        }
        if let parsed { return parsed }
        return try? JSONReader.parse(Array(body), options: options)
    }

    /// Applies the dialect to a parsed body. `status` is the status to keep when the body names none.
    static func read(_ document: JSONValue, status: Int, dialect: Dialect, matchedErrorWhen: Bool) -> NormalizationResult {
        let fields: FoundFields
        switch dialect.kind {
        case .auto: fields = AutoDialect.read(document, status: status)
        case .rules(let rules): fields = rules.read(document)
        }
        let finalStatus = fields.status ?? status
        let fallback = CanonicalError(status: finalStatus)
        let error = CanonicalError(type: fields.type ?? fallback.type, code: fields.code ?? fallback.code,
                                   param: fields.param, message: fields.message ?? fallback.message)
        let fromBody = matchedErrorWhen || fields.type != nil || fields.code != nil || fields.param != nil
            || fields.message != nil || fields.status != nil
        return .rewrite(status: finalStatus, error: error, outcome: fromBody ? .rewritten : .unreadable)
    }
}

/// The fields a dialect found in a body; nil means "fall back".
struct FoundFields {
    var type: CanonicalError.ErrorType?
    var code: String?
    var param: String?
    var message: String?
    var status: Int?
}

extension Dialect.Rules {
    func read(_ document: JSONValue) -> FoundFields {
        var found = FoundFields()
        found.type = type?.find(in: document, for: .type).flatMap(CanonicalError.ErrorType.init(rawValue:))
        found.code = code?.find(in: document, for: .code)
        found.param = param?.find(in: document, for: .param)
        found.message = message?.find(in: document, for: .message)
        found.status = status?.find(in: document, for: .status).flatMap(FieldValues.status)
        return found
    }
}

extension FieldRule {
    /// The first usable value: each `from` pointer in order, then `extract`.
    func find(in document: JSONValue, for field: DialectCompiler.Field) -> String? {
        for pointer in from {
            if let value = pointer.resolve(in: document), let usable = take(value, for: field) { return usable }
        }
        if let extract, case .string(let text)? = extract.from.resolve(in: document),
           let captured = extract.regex.firstCapture(in: text) {
            return take(.string(captured), for: field)
        }
        return nil
    }

    private func take(_ value: JSONValue, for field: DialectCompiler.Field) -> String? {
        guard let text = FieldValues.text(of: value, for: field, map: map, join: join) else { return nil }
        return FieldValues.usable(map[text] ?? text, for: field)
    }
}
