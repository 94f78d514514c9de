#pragma once
// Small filesystem helpers for the command-line tools: private directories
// for per-user state, atomic file replacement (so a crash never leaves half a
// session or install record), and an advisory lock so two gamestore-player
// processes of one user never install into the same tree at once.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace gamestore::cli {

// Creates `dir` (and missing parents) and sets `dir` itself to 0700.
// Throws CliFailure(kExitUsage) with a sentence on failure.
void ensure_private_dir(const std::filesystem::path& dir);

// Writes `content` to a temp file next to `path` with `mode`, fsyncs it and
// renames it over `path`. Throws CliFailure(kExitUsage) on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view content, unsigned mode);

// The whole file; throws CliFailure(kExitUsage) when it cannot be read or is
// larger than max_bytes.
std::string read_small_file(const std::filesystem::path& path, std::size_t max_bytes = 1024 * 1024);

// Regular file size, or 0 when it does not exist.
std::uint64_t file_size_or_zero(const std::filesystem::path& path);

// A random suffix for temp names (".staging-3f9a0c1d").
std::string random_suffix();

// Removes a path (recursively); errors are ignored because callers use it
// for best-effort cleanup of their own temp files.
void remove_quietly(const std::filesystem::path& path);

// Exclusive advisory lock (flock) on `lock_file`, held while the object
// lives. Throws CliFailure(kExitUsage) with `busy_message` when another
// process holds it: the tools never wait on each other silently.
class FileLock {
public:
    FileLock(const std::filesystem::path& lock_file, const std::string& busy_message);
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

private:
    int fd_ = -1;
};

// A file path under the system temp dir, deleted when the object dies.
class TempPath {
public:
    explicit TempPath(std::string_view stem);
    ~TempPath();
    TempPath(const TempPath&) = delete;
    TempPath& operator=(const TempPath&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// Is `name` usable as one path component (user and game names become
// directories): non-empty, not "." or "..", no '/', no NUL.
bool is_safe_component(std::string_view name);

}  // namespace gamestore::cli
