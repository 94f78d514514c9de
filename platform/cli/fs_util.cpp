#include "platform/cli/fs_util.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "platform/cli/cli_common.hpp"

namespace gamestore::cli {

namespace fs = std::filesystem;

void ensure_private_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        throw CliFailure(kExitUsage, "Cannot create the directory " + dir.string() + ": " + ec.message() + ".");
    }
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) {
        throw CliFailure(kExitUsage, "Cannot make " + dir.string() + " private: " + ec.message() + ".");
    }
}

void write_file_atomically(const fs::path& path, std::string_view content, unsigned mode) {
    const fs::path temp = path.string() + ".tmp-" + random_suffix();
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                          static_cast<mode_t>(mode));
    if (fd < 0) {
        throw CliFailure(kExitUsage, "Cannot write " + path.string() + ": " + std::strerror(errno) + ".");
    }
    // The umask may have narrowed the mode; set it exactly (0600 must stay 0600,
    // 0644 must be readable by the launcher's children).
    ::fchmod(fd, static_cast<mode_t>(mode));
    std::size_t done = 0;
    bool ok = true;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            ok = false;
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    const int saved_errno = errno;
    ok = ok && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(ok ? errno : saved_errno);
        ::unlink(temp.c_str());
        throw CliFailure(kExitUsage, "Cannot write " + path.string() + ": " + reason + ".");
    }
}

std::string read_small_file(const fs::path& path, std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw CliFailure(kExitUsage, "Cannot read " + path.string() + ".");
    }
    std::string content;
    content.resize(max_bytes + 1);
    in.read(content.data(), static_cast<std::streamsize>(content.size()));
    content.resize(static_cast<std::size_t>(in.gcount()));
    if (content.size() > max_bytes) {
        throw CliFailure(kExitUsage, path.string() + " is larger than expected; delete it and try again.");
    }
    return content;
}

std::uint64_t file_size_or_zero(const fs::path& path) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    return ec ? 0 : static_cast<std::uint64_t>(size);
}

std::string random_suffix() {
    static thread_local std::mt19937_64 engine{std::random_device{}()};
    std::ostringstream out;
    out << std::hex << (engine() & 0xffffffffffull);
    return out.str();
}

void remove_quietly(const fs::path& path) {
    std::error_code ec;
    fs::remove_all(path, ec);
}

FileLock::FileLock(const fs::path& lock_file, const std::string& busy_message) {
    fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) {
        throw CliFailure(kExitUsage, "Cannot open the lock file " + lock_file.string() + ": " +
                                         std::strerror(errno) + ".");
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd_);
        fd_ = -1;
        throw CliFailure(kExitUsage, busy_message);
    }
}

FileLock::~FileLock() {
    if (fd_ >= 0) {
        ::close(fd_);  // releases the flock
    }
}

TempPath::TempPath(std::string_view stem) {
    std::error_code ec;
    auto dir = fs::temp_directory_path(ec);
    if (ec) {
        dir = "/tmp";
    }
    path_ = dir / (std::string(stem) + "-" + std::to_string(::getpid()) + "-" + random_suffix());
}

TempPath::~TempPath() {
    remove_quietly(path_);
}

bool is_safe_component(std::string_view name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
           name.find('\0') == std::string_view::npos;
}

}  // namespace gamestore::cli
