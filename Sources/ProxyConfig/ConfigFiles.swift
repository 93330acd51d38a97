#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file-system side of loading a config: reading config.json, resolving the paths it names,
/// and checking that the files it names can be read. The PEM content is the TLS layer's concern.
enum ConfigFiles {
    /// `path` when absolute, else `path` under `base` (`base` empty: `path` unchanged).
    static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") || base.isEmpty { return path }
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }

    /// The folder that holds `file`, made absolute against the working directory.
    static func directory(of file: String) -> String {
        let absolute = file.hasPrefix("/") ? file : resolve(file, against: currentDirectory())
        guard let slash = absolute.lastIndex(of: "/") else { return "." }
        return slash == absolute.startIndex ? "/" : String(absolute[..<slash])
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The whole file, or the reason it cannot be read (`No such file or directory`).
    static func contents(of path: String) -> Result<[UInt8], FileProblem> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(FileProblem.fromErrno()) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(FileProblem.fromErrno())
            }
            if n == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[..<n])
        }
    }

    /// nil when `path` is a regular file this process may read; else why not.
    static func readableFileProblem(_ path: String) -> FileProblem? {
        var info = stat()
        guard stat(path, &info) == 0 else { return FileProblem.fromErrno() }
        guard info.st_mode & S_IFMT == S_IFREG else { return FileProblem(reason: "not a regular file") }
        guard access(path, R_OK) == 0 else { return FileProblem.fromErrno() }
        return nil
    }

    /// nil when `path` can be opened for appending: it is writable and not a folder (a device
    /// such as `/dev/null` will do), or it does not exist yet and its folder is writable.
    static func appendableFileProblem(_ path: String) -> FileProblem? {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT != S_IFDIR else { return FileProblem(reason: "is a folder") }
            return access(path, W_OK) == 0 ? nil : FileProblem.fromErrno()
        }
        let folder = directory(of: path)
        guard stat(folder, &info) == 0 else { return FileProblem(reason: "folder \(folder): \(FileProblem.fromErrno().reason)") }
        guard info.st_mode & S_IFMT == S_IFDIR else { return FileProblem(reason: "\(folder) is not a folder") }
        return access(folder, W_OK) == 0 ? nil : FileProblem(reason: "folder \(folder): \(FileProblem.fromErrno().reason)")
    }
}

/// Why a file could not be used, in the words of `strerror` where the system said why.
struct FileProblem: Error, Sendable, Equatable {
    var reason: String

    static func fromErrno() -> FileProblem {
        FileProblem(reason: String(cString: strerror(errno)))
    }
}
