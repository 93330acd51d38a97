/// The error bodies of the five seed APIs, byte for byte as the acceptance vectors send them
/// (compact JSON in the vectors' key order; `body_text` vectors verbatim).
public enum SeedBody {
    // oneclick (seed 000).
    public static let oneclickKeyError = #"{"type":"key_error","message":"The API key in the request is invalid."}"#
    public static let oneclickAPIError = #"{"type":"api_error","message":"No way this is happening!?"}"#
    public static let oneclickInvalidRequest = #"{"type":"invalid_request_error","message":"Missing required field: amount"}"#
    /// Not valid JSON: a trailing comma before the closing brace.
    public static let oneclickTrailingComma = "{\n\"type\": \"api_error\",\n\"message\": \"No way this is happening!?\",\n}"

    // legacyWeb (seed 001).
    public static let legacyWebMethodNotAllowed = "<html><body><h1>405 Method Not Allowed</h1></body></html>"
    public static let legacyWebForbidden = "Forbidden: scope billing:write missing"
    public static let legacyWebUnavailable = "<html><head><title>503 Service Unavailable</title></head><body>down</body></html>"
    public static let legacyWebNotFound = "<html><body><h1>404 Not Found</h1></body></html>"

    // billing (seed 002).
    public static let billingInternal = #"{"code":500,"message":"Internal Server Error","status":"failure"}"#
    public static let billingLocked = #"{"code":423,"message":"The object is still being updated (locked). Try your request again later.","status":"failure"}"#
    public static let billingRateLimit = #"{"code":429,"message":"You have reached the request rate limit. Try your request again later.","status":"failure"}"#
    public static let billingOffsetMissing = #"{"code":400,"message":{"error_code":"invalid_input","message":["'offset' is a required property"]}}"#
    public static let billingTwoMessages = #"{"code":400,"message":{"error_code":"invalid_input","message":["'offset' is a required property","'limit' must be at most 100"]}}"#
    /// Sent with status 200: the legacy failure-in-success envelope.
    public static let billingFailureIn200 = #"{"code":423,"message":"The object is still being updated (locked).","status":"failure"}"#
    public static let billingSuccess = #"{"status":"success","content":"... API response goes here ..."}"#
    public static let billingNotFound = #"{"code":404,"message":"Not Found","status":"failure"}"#

    // accounts (seed 003): already canonical-shaped.
    public static let accountsForbidden = #"{"code":"insufficient_permissions","message":"This account does not have permission to view the requested resource.","param":null,"type":"authentication"}"#
    public static let accountsParameterMissing = #"{"type":"invalid_request","code":"parameter_missing","param":"customer.id","message":"The customer id is required."}"#
    public static let accountsRateLimit = #"{"type":"rate_limit","code":"too_many_requests","param":null,"message":"Too many requests hit the API too quickly."}"#

    // catalog (seed 004).
    public static let catalogNotFound = #"{"message":"404","description":"The requested resource was not found"}"#
    public static let catalogUnsupportedMedia = #"{"message":"Unsupported Media Type","description":"The request was made with an unsupported media type"}"#
    public static let catalogOAuthGrant = #"{"error":"unsupported_grant_type","error_description":"The grant type is not supported by the server"}"#
    public static let catalogOAuthClient = #"{"error":"invalid_client","error_description":"The client ID or client secret is invalid"}"#
    public static let catalogOAuthServer = #"{"error":"server_error","error_description":"The server encountered an error while processing the request"}"#
    public static let catalogCreated = #"{"id":7}"#
}
