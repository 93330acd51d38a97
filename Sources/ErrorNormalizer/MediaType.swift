/// Media-type checks on a `Content-Type` field value, made over its UTF-8 bytes without
/// allocating (the normalizer runs them on every held response).
///
/// RFC 9110 §8.3.1: `type "/" subtype *( OWS ";" OWS parameter )`. The checks look only at
/// the essence — the bytes before the first `;`, spaces and tabs around them dropped — and
/// compare ASCII letters case-insensitively. Parameters are never read: a `;` inside a
/// quoted-string value comes after the first `;`, so it cannot cut the essence short.
///
/// Decision: bytes are compared, not Unicode characters. Type and subtype are tokens (ASCII),
/// so a non-ASCII byte never matches a letter of a known type. The only answers that differ
/// from comparing `Character`s come from a code point that joins an ASCII neighbour into one
/// grapheme cluster (a combining mark after it, a prepended mark before it) at the edge of a
/// matched name or the `;`: `application/grpc+\u{301}x` counts as gRPC here and
/// `a\u{600}+json` as JSON. Neither is a valid media type.
public enum MediaType {
    /// `application/grpc`, `application/grpc+proto` and the gRPC-Web types: errors live in trailers.
    public static func isGRPC(_ contentType: String?) -> Bool {
        classify(contentType).contains(.grpc)
    }

    /// `application/json`, `text/json`, or any `+json` type.
    public static func isJSON(_ contentType: String?) -> Bool {
        classify(contentType).contains(.json)
    }

    /// Whether an error body may be JSON worth parsing: a JSON type, no `Content-Type` at all,
    /// or `text/plain` (legacy servers mislabel JSON). HTML and other types are never read.
    public static func mayBeJSONError(_ contentType: String?) -> Bool {
        classify(contentType).mayBeJSONError
    }

    /// What a `Content-Type` value's essence is; several at once for `application/grpc+json`.
    struct Traits: OptionSet {
        let rawValue: UInt8
        /// No field, or an empty essence.
        static let absent = Traits(rawValue: 1 << 0)
        static let grpc = Traits(rawValue: 1 << 1)
        static let json = Traits(rawValue: 1 << 2)
        static let textPlain = Traits(rawValue: 1 << 3)

        /// See `MediaType.mayBeJSONError(_:)`.
        var mayBeJSONError: Bool { !isDisjoint(with: [.absent, .json, .textPlain]) }
    }

    /// Classifies a `Content-Type` value once, for callers that make several of the checks.
    static func classify(_ contentType: String?) -> Traits {
        guard var contentType else { return .absent }
        // Native strings are contiguous UTF-8 already: no copy, no allocation.
        return contentType.withUTF8(classify(field:))
    }

    static func classify(field: UnsafeBufferPointer<UInt8>) -> Traits {
        var end = field.firstIndex(of: UInt8(ascii: ";")) ?? field.endIndex
        var start = field.startIndex
        while start < end, isSpaceOrTab(field[start]) { start += 1 }
        while end > start, isSpaceOrTab(field[end - 1]) { end -= 1 }
        let essence = UnsafeBufferPointer(rebasing: field[start..<end])
        if essence.isEmpty { return .absent }
        var traits: Traits = []
        if essence.matches("application/grpc") || essence.hasPrefix("application/grpc+")
            || essence.hasPrefix("application/grpc-web") {
            traits.insert(.grpc)
        }
        if essence.matches("application/json") || essence.matches("text/json") || essence.hasSuffix("+json") {
            traits.insert(.json)
        }
        if essence.matches("text/plain") { traits.insert(.textPlain) }
        return traits
    }

    private static func isSpaceOrTab(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }
}

private extension UnsafeBufferPointer<UInt8> {
    /// Whether these bytes equal `lowercased` (ASCII, lower case) ignoring ASCII case.
    func matches(_ lowercased: StaticString) -> Bool {
        count == lowercased.utf8CodeUnitCount && matches(lowercased, at: 0)
    }

    func hasPrefix(_ lowercased: StaticString) -> Bool {
        count >= lowercased.utf8CodeUnitCount && matches(lowercased, at: 0)
    }

    func hasSuffix(_ lowercased: StaticString) -> Bool {
        count >= lowercased.utf8CodeUnitCount && matches(lowercased, at: count - lowercased.utf8CodeUnitCount)
    }

    /// Whether the bytes from `offset` on start with `lowercased`, ignoring ASCII case; the
    /// caller has checked that they are long enough.
    private func matches(_ lowercased: StaticString, at offset: Int) -> Bool {
        let literal = UnsafeBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount)
        for (index, expected) in literal.enumerated() {
            var byte = self[offset + index]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte |= 0x20 }
            if byte != expected { return false }
        }
        return true
    }
}
