import HTTP1
import ProxyConfig
import ProxyModel

/// The request head errata sends upstream (RFC 9110 §7.6): hop-by-hop fields removed,
/// framing re-stated, the `X-Forwarded-*` fields and the request id set.
///
/// Decisions where the contract is silent:
/// - `Host` is forwarded as the client sent it (the legacy API sees its public name), like
///   HAProxy and unlike nginx's default.
/// - `X-Forwarded-Proto` and `X-Forwarded-Host` from a trusted proxy are kept (it saw the
///   original request); from anyone else they are replaced.
/// - `Expect: 100-continue` is answered by errata itself once an upstream connection is
///   ready, so it is not forwarded.
enum RequestForwarding {
    static func upstreamHead(for request: RequestHead, target: String, body: RequestBodyLength, client: String,
                             scheme: String, requestID: String, snapshot: ConfigSnapshot) -> [UInt8] {
        var fields = request.fields
        HopByHop.remove(from: &fields)
        fields.remove(anyOf: ["Content-Length", "Expect", "X-Request-Id"])
        let trusted = snapshot.isTrustedProxy(client)
        let forwardedFor = fields.all("X-Forwarded-For")
        fields.remove("X-Forwarded-For")
        if trusted && !forwardedFor.isEmpty {
            fields.append("X-Forwarded-For", forwardedFor.joined(separator: ", ") + ", " + client)
        } else {
            fields.append("X-Forwarded-For", client)
        }
        if !(trusted && fields.contains("X-Forwarded-Proto")) {
            fields.remove("X-Forwarded-Proto")
            fields.append("X-Forwarded-Proto", scheme)
        }
        if !(trusted && fields.contains("X-Forwarded-Host")), let host = fields.first("Host") {
            fields.remove("X-Forwarded-Host")
            fields.append("X-Forwarded-Host", host)
        }
        fields.append("X-Request-Id", requestID)
        switch body {
        case .none: break
        case .length(let n): fields.append("Content-Length", String(n))
        case .streamed: fields.append("Transfer-Encoding", "chunked")
        }
        var out: [UInt8] = []
        out.reserveCapacity(512)
        HTTP1Serializer.appendRequestHead(RequestHead(method: request.method, target: target, version: .http1_1,
                                                      fields: fields), to: &out)
        return out
    }
}
