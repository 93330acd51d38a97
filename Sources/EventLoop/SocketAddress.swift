#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 socket address (a resolved one: names are resolved by `Resolver`, off the workers).
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    private var storage: Storage
    private enum Storage: Sendable, Hashable {
        case v4(UInt32, UInt16)                 // address and port in network byte order
        case v6([UInt8], UInt16, UInt32)        // 16 bytes, port (network order), scope id
    }

    init?(storage: sockaddr_storage, length: socklen_t) {
        var s = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let sin = withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee } }
            self.storage = .v4(sin.sin_addr.s_addr, sin.sin_port)
        case AF_INET6:
            let sin6 = withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee } }
            var bytes = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: sin6.sin6_addr) { raw in for i in 0..<16 { bytes[i] = raw[i] } }
            self.storage = .v6(bytes, sin6.sin6_port, sin6.sin6_scope_id)
        default:
            return nil
        }
    }

    /// Parses a numeric address (`127.0.0.1`, `::1`) and a port; nil when `host` is not numeric.
    public init?(numericHost host: String, port: Int) {
        guard port >= 0 && port <= 65535 else { return nil }
        var a4 = in_addr()
        if inet_pton(AF_INET, host, &a4) == 1 {
            storage = .v4(a4.s_addr, UInt16(port).bigEndian)
            return
        }
        var a6 = in6_addr()
        if inet_pton(AF_INET6, host, &a6) == 1 {
            var bytes = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: a6) { raw in for i in 0..<16 { bytes[i] = raw[i] } }
            storage = .v6(bytes, UInt16(port).bigEndian, 0)
            return
        }
        return nil
    }

    public var family: Int32 {
        switch storage {
        case .v4: return AF_INET
        case .v6: return AF_INET6
        }
    }

    public var port: Int {
        switch storage {
        case .v4(_, let p), .v6(_, let p, _): return Int(UInt16(bigEndian: p))
        }
    }

    /// The numeric host (`127.0.0.1`, `::1`), without brackets.
    public var host: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch storage {
        case .v4(let a, _):
            var addr = in_addr(s_addr: a)
            _ = inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
        case .v6(let bytes, _, _):
            var addr = in6_addr()
            withUnsafeMutableBytes(of: &addr) { raw in for i in 0..<16 { raw[i] = bytes[i] } }
            _ = inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
        }
        let end = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `host:port`, IPv6 in brackets.
    public var description: String {
        family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Calls `body` with a `sockaddr` pointer and length for this address.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch storage {
        case .v4(let a, let p):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = p
            sin.sin_addr = in_addr(s_addr: a)
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let bytes, let p, let scope):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = p
            sin6.sin6_scope_id = scope
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in for i in 0..<16 { raw[i] = bytes[i] } }
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}

/// Name resolution with getaddrinfo. It blocks: call it off the workers only.
public enum Resolver {
    /// Every address `host` resolves to (numeric hosts without a lookup), IPv4 first.
    public static func resolve(host: String, port: Int) -> Result<[SocketAddress], SocketError> {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let numeric = SocketAddress(numericHost: bare, port: port) { return .success([numeric]) }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(bare, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            return .failure(SocketError(call: "getaddrinfo", errno: rc == EAI_SYSTEM ? errno : ENOENT))
        }
        defer { freeaddrinfo(first) }
        var out: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            if let sa = ai.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: Int(ai.pointee.ai_addrlen)))
                }
                if let address = SocketAddress(storage: storage, length: ai.pointee.ai_addrlen), !out.contains(address) {
                    out.append(address)
                }
            }
            cursor = ai.pointee.ai_next
        }
        out.sort { $0.family == AF_INET && $1.family != AF_INET }
        return out.isEmpty ? .failure(SocketError(call: "getaddrinfo", errno: ENOENT)) : .success(out)
    }
}
