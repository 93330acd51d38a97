import ProxyModel

/// A response errata makes itself: the canonical error rendered per `errors` (flat, wrapped,
/// or problem+json when negotiated), with `Proxy-Status` and the request id.
struct ErrorResponse {
    var head: ResponseHead
    var body: [UInt8]

    static func make(_ error: ProxyError, requestID: String?, accept: String?, options: ErrorRenderOptions) -> ErrorResponse {
        let rendered = error.canonical.render(status: error.status, options: options, accept: accept)
        var fields = HTTPFields()
        fields.append("Content-Type", rendered.contentType)
        fields.append("Proxy-Status", error.proxyStatus)
        if let requestID { fields.append("X-Request-Id", requestID) }
        return ErrorResponse(head: ResponseHead(status: error.status, fields: fields), body: rendered.body)
    }
}
