import ErrorNormalizer
import XCTest

/// The Content-Type checks the normalizer makes: the RFC 9110 §8.3.1 forms that are easy to get
/// wrong (case, whitespace, parameters with quoted strings, `+json` suffixes, gRPC prefixes),
/// and their agreement with the plain-`String` definition they replaced.
final class MediaTypeTests: XCTestCase {
    /// (Content-Type, isGRPC, isJSON, mayBeJSONError).
    private static let forms: [(String?, Bool, Bool, Bool)] = [
        (nil, false, false, true),
        ("", false, false, true),
        (" \t ", false, false, true),
        (";", false, false, true),
        (" ; charset=utf-8", false, false, true),
        ("application/json", false, true, true),
        ("Application/JSON", false, true, true),
        ("APPLICATION/JSON; charset=UTF-8", false, true, true),
        ("application/json ; charset=utf-8", false, true, true),
        ("\tapplication/json\t;charset=utf-8", false, true, true),
        (" application/json ", false, true, true),
        ("application/json;charset=\"utf-8; x=y\"", false, true, true),
        ("application/json; q=\"a\\\"b;c\"; v=1", false, true, true),
        ("application/json;", false, true, true),
        ("text/json", false, true, true),
        ("TEXT/Json", false, true, true),
        ("application/problem+json", false, true, true),
        ("application/vnd.api+JSON; ext=\"x\"", false, true, true),
        ("application/+json", false, true, true),
        ("+json", false, true, true),
        ("application/jsonp", false, false, false),
        ("application/json5", false, false, false),
        ("application/x-json", false, false, false),
        ("application/json+xml", false, false, false),
        ("application/json, text/html", false, false, false),
        ("application /json", false, false, false),
        ("application/json\r\n", false, false, false),
        ("text/plain", false, false, true),
        ("Text/Plain; charset=us-ascii", false, false, true),
        ("text/plainer", false, false, false),
        ("text/html", false, false, false),
        ("text/html; charset=\"application/json\"", false, false, false),
        ("application/grpc", true, false, false),
        ("application/GRPC", true, false, false),
        ("application/grpc;", true, false, false),
        (" application/grpc ", true, false, false),
        ("application/grpc+proto", true, false, false),
        ("application/GRPC+json", true, true, true),
        ("application/grpc-web", true, false, false),
        ("application/grpc-web+proto", true, false, false),
        ("application/grpc-web-text", true, false, false),
        ("application/grpcx", false, false, false),
        ("application/grp", false, false, false),
        ("application/ grpc", false, false, false),
        ("text/grpc", false, false, false),
    ]

    func testTrickyFormsOfEachCheck() {
        for (contentType, grpc, json, mayBeJSON) in Self.forms {
            let label = contentType.map { "\($0.debugDescription)" } ?? "nil"
            XCTAssertEqual(MediaType.isGRPC(contentType), grpc, "isGRPC(\(label))")
            XCTAssertEqual(MediaType.isJSON(contentType), json, "isJSON(\(label))")
            XCTAssertEqual(MediaType.mayBeJSONError(contentType), mayBeJSON, "mayBeJSONError(\(label))")
        }
    }

    /// The definition the checks had when they worked on `String`s (split at the first `;`,
    /// trim spaces and tabs, lowercase, compare): the oracle the byte-level checks must match.
    private enum StringDefinition {
        static func essence(_ contentType: String?) -> String? {
            guard let contentType else { return nil }
            var type = Substring(contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            while let f = type.first, f == " " || f == "\t" { type.removeFirst() }
            while let l = type.last, l == " " || l == "\t" { type.removeLast() }
            return type.lowercased()
        }

        static func isGRPC(_ contentType: String?) -> Bool {
            guard let type = essence(contentType) else { return false }
            return type == "application/grpc" || type.hasPrefix("application/grpc+") || type.hasPrefix("application/grpc-web")
        }

        static func isJSON(_ contentType: String?) -> Bool {
            guard let type = essence(contentType) else { return false }
            return type == "application/json" || type == "text/json" || type.hasSuffix("+json")
        }

        static func mayBeJSONError(_ contentType: String?) -> Bool {
            guard let type = essence(contentType), !type.isEmpty else { return true }
            return isJSON(contentType) || type == "text/plain"
        }
    }

    /// Every combination of leading whitespace, an essence in several casings (ASCII, and
    /// non-ASCII letters that are not part of any matched name), trailing whitespace and a
    /// parameter list: the checks answer as the `String` definition does.
    func testAgreesWithTheStringDefinitionOnGeneratedForms() {
        let essences = ["application/json", "text/json", "text/plain", "application/problem+json", "a+json", "+json",
                        "json", "application/grpc", "application/grpc+proto", "application/grpc-web",
                        "application/grpc-web-text", "application/grpcweb", "application/grp", "text/html",
                        "application/jsonp", "application/json+", "", "/", "application/jsön", "applicatİon/json",
                        "application/json\u{301}", "text/plain\u{FFFD}", "\u{212A}+json", "application/json\r",
                        "application/\u{0}json"]
        let leading = ["", " ", "\t", " \t ", "\r", "\u{A0}"]
        let trailing = ["", " ", "\t\t", "\n"]
        let parameters = ["", ";", "; charset=utf-8", ";charset=\"a;b\"", " ; q=\"x\\\"y\";z=1", ", text/html",
                          ";;", "; charset=\u{E9}"]
        var checked = 0
        for essence in essences {
            for casing in [essence, essence.uppercased(), Self.alternatingCase(essence)] {
                for before in leading {
                    for after in trailing {
                        for parameter in parameters {
                            let value = before + casing + after + parameter
                            XCTAssertEqual(MediaType.isGRPC(value), StringDefinition.isGRPC(value), "isGRPC(\(value.debugDescription))")
                            XCTAssertEqual(MediaType.isJSON(value), StringDefinition.isJSON(value), "isJSON(\(value.debugDescription))")
                            XCTAssertEqual(MediaType.mayBeJSONError(value), StringDefinition.mayBeJSONError(value),
                                           "mayBeJSONError(\(value.debugDescription))")
                            checked += 1
                        }
                    }
                }
            }
        }
        XCTAssertEqual(checked, essences.count * 3 * leading.count * trailing.count * parameters.count)
    }

    /// The decision written on `MediaType`: bytes are compared, so a combining mark written
    /// after a matched name or after the `;`, or a prepended mark before `+json`, does not hide
    /// the type (the `String` definition, comparing `Character`s, said "not gRPC" and "not
    /// JSON" for these).
    func testBytesNotCharactersAreCompared() {
        XCTAssertTrue(MediaType.isGRPC("application/grpc+\u{301}proto"))
        XCTAssertTrue(MediaType.isJSON("application/json;\u{301}charset=utf-8"))
        XCTAssertTrue(MediaType.isJSON("a\u{600}+json"))
        XCTAssertFalse(MediaType.isJSON("application/jso\u{301}n"))
        XCTAssertFalse(MediaType.mayBeJSONError("text/pla\u{130}n"))
    }

    private static func alternatingCase(_ text: String) -> String {
        String(text.enumerated().map { index, character in
            index.isMultiple(of: 2) ? Character(character.uppercased()) : character
        })
    }
}
