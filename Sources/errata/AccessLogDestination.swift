import ProxyConfig
#if canImport(Glibc)
import Glibc
#endif

/// The descriptor behind `access_log.to`, owned by the main queue: opened at start, and on every
/// SIGHUP reopened (so logrotate can move the file away and reload) or switched when `to` changed.
struct AccessLogDestination {
    private(set) var fd: Int32
    /// Whether `fd` is a file errata opened (and must close), not stdout or stderr.
    private var owned: Bool

    /// Opens `to`; the error is the message to print when a file cannot be opened.
    static func open(_ to: AccessLogConfig.Destination) -> Result<AccessLogDestination, AccessLogOpenError> {
        switch to {
        case .stdout: return .success(AccessLogDestination(fd: 1, owned: false))
        case .stderr: return .success(AccessLogDestination(fd: 2, owned: false))
        case .off: return .success(AccessLogDestination(fd: -1, owned: false))
        case .file(let path):
            let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else {
                return .failure(AccessLogOpenError(description: "cannot open access log \(path): \(String(cString: strerror(errno)))"))
            }
            return .success(AccessLogDestination(fd: fd, owned: true))
        }
    }

    /// Closes the descriptor if errata opened it (after no worker writes to it any more).
    func close() {
        if owned { _ = Glibc.close(fd) }
    }
}

struct AccessLogOpenError: Error, CustomStringConvertible {
    var description: String
}
