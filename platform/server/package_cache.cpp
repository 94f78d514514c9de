#include "platform/server/package_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstring>
#include <random>

#include "platform/packages/sha256.hpp"
#include "platform/server/lobby_error.hpp"
#include "platform/server/package_ingest.hpp"

namespace gamestore::server {

namespace fs = std::filesystem;
using protocol::ErrorCode;

namespace {

std::string random_suffix() {
    std::random_device rd;
    return std::to_string(rd()) + std::to_string(rd());
}

std::string describe(const store::Version& version) {
    return "version " + version.version + " (package " + version.sha256.substr(0, 12) + ")";
}

[[noreturn]] void unavailable(const store::Version& version, const std::string& why) {
    spdlog::error("package cache: {}: {}", describe(version), why);
    throw LobbyError(ErrorCode::Internal, "the package of " + describe(version) +
                                              " is not available on this server; tell the admin");
}

// An open file descriptor, closed on every exit path.
class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    bool close() {
        const int fd = fd_;
        fd_ = -1;
        return ::close(fd) == 0;
    }

  private:
    int fd_;
};

bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const auto written = ::write(fd, bytes.data(), bytes.size());
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(written));
    }
    return true;
}

}  // namespace

PackageCache::PackageCache(store::Store& store, fs::path data_dir, packages::ZipLimits limits)
    : store_(store), data_dir_(std::move(data_dir)), limits_(limits) {}

std::shared_ptr<std::mutex> PackageCache::lock_for(const std::string& sha256) {
    const std::lock_guard lock(mutex_);
    auto& slot = locks_[sha256];
    if (!slot) {
        slot = std::make_shared<std::mutex>();
    }
    return slot;
}

fs::path PackageCache::under_data_dir(const std::string& relative) const {
    // The paths come from the database, which other servers write too: a
    // row must not point a fetch or an extraction outside the data dir.
    const fs::path path(relative);
    bool escapes = relative.empty() || path.is_absolute();
    for (const auto& part : path) {
        escapes = escapes || part == "..";
    }
    if (escapes) {
        spdlog::error("package cache: refusing the stored path '{}' (not inside the data dir)",
                      relative);
        throw LobbyError(ErrorCode::Internal, "a stored package path is not valid; tell the admin");
    }
    return data_dir_ / path;
}

bool PackageCache::matches(const fs::path& file, const store::Version& version) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return false;
    }
    const Identity identity{
        st.st_dev, st.st_ino, st.st_size,
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
        static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
    {
        const std::lock_guard lock(mutex_);
        const auto it = verified_.find(version.sha256);
        if (it != verified_.end() && it->second == identity) {
            return true;
        }
    }
    bool good = st.st_size == version.size_bytes;
    if (good) {
        try {
            good = packages::sha256_file(file) == version.sha256;
        } catch (const std::exception& e) {
            spdlog::warn("package cache: cannot hash {}: {}", file.string(), e.what());
            good = false;
        }
    }
    if (!good) {
        spdlog::warn(
            "package cache: {} does not hold the bytes of {}; fetching them from the store again",
            file.string(), describe(version));
        return false;
    }
    const std::lock_guard lock(mutex_);
    verified_[version.sha256] = identity;
    return true;
}

void PackageCache::fetch(const fs::path& target, const store::Version& version) {
    const auto tmp = data_dir_ / "tmp";
    fs::create_directories(tmp);
    fs::create_directories(target.parent_path());
    const auto temp = tmp / ("fetch-" + version.sha256.substr(0, 16) + "-" + random_suffix());
    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
        unavailable(version, "cannot create " + temp.string() + ": " + std::strerror(errno));
    }
    packages::Sha256 hash;
    bool written = true;
    const auto read = store_.read_package(version.sha256, [&](std::string_view chunk) {
        hash.update(chunk);
        written = written && write_all(fd.get(), chunk);
    });
    const bool synced = written && ::fsync(fd.get()) == 0;
    const bool closed = fd.close();
    std::string problem;
    if (!read) {
        problem = "the store cannot give it: " + read.error().message;
    } else if (!written || !synced || !closed) {
        problem = "cannot write " + temp.string() + " (disk full or failing?)";
    } else if (*read != version.size_bytes || hash.hex_digest() != version.sha256) {
        problem = "the store's copy does not match the version's size and sha256";
    }
    if (!problem.empty()) {
        std::error_code ec;
        fs::remove(temp, ec);
        unavailable(version, problem);
    }
    std::error_code ec;
    fs::rename(temp, target, ec);
    if (ec || !sync_path(target.parent_path(), true)) {
        fs::remove(temp, ec);
        unavailable(version, "cannot move the fetched zip to " + target.string());
    }
    spdlog::info("package cache: fetched {} ({} bytes) from the store", describe(version),
                 version.size_bytes);
}

fs::path PackageCache::zip_locked(const store::Version& version) {
    const auto path = under_data_dir(version.package_path);
    if (matches(path, version)) {
        return path;
    }
    std::error_code ec;
    fs::remove(path, ec);
    fetch(path, version);
    if (!matches(path, version)) {
        unavailable(version, "the fetched zip changed on disk before it could be used");
    }
    return path;
}

fs::path PackageCache::zip(const store::Version& version) {
    const auto lock = lock_for(version.sha256);
    const std::lock_guard guard(*lock);
    return zip_locked(version);
}

fs::path PackageCache::extracted(const store::Version& version) {
    const auto lock = lock_for(version.sha256);
    const std::lock_guard guard(*lock);
    const auto target = under_data_dir(version.extracted_path);
    std::error_code ec;
    // Trees are renamed into place only once complete, so one that exists is whole.
    if (fs::is_directory(fs::symlink_status(target, ec))) {
        return target;
    }
    const auto zip = zip_locked(version);
    // The same checks as an upload: the bytes passed them when published,
    // but a bug fixed since, or different limits, must not be bypassed.
    const auto inspection = packages::inspect_zip(zip, limits_);
    const auto root = packages::find_manifest_root(inspection.entries);
    if (!inspection.issues.empty() || !root.found()) {
        unavailable(version, "the package no longer passes the package checks: " +
                                 (inspection.issues.empty() ? root.message
                                                            : inspection.issues.front().message));
    }
    const auto extract_dir =
        data_dir_ / "tmp" / ("extract-" + version.sha256.substr(0, 16) + "-" + random_suffix());
    fs::create_directories(data_dir_ / "tmp");
    const auto extraction = packages::extract_zip(zip, extract_dir, limits_);
    if (!extraction.issues.empty()) {
        remove_read_only_tree(extract_dir);
        unavailable(version,
                    "the package could not be extracted: " + extraction.issues.front().message);
    }
    const auto package_root = extract_dir / *root.prefix;
    make_read_only(package_root);
    fs::create_directories(target.parent_path());
    bool ok = sync_tree(package_root);
    if (ok) {
        fs::rename(package_root, target, ec);
        ok = !ec && sync_path(target.parent_path(), true);
    }
    remove_read_only_tree(extract_dir);
    if (!ok) {
        remove_read_only_tree(target);
        unavailable(version, "cannot put the extracted package at " + target.string() +
                                 " (disk full or failing?)");
    }
    spdlog::info("package cache: extracted {} to {}", describe(version), target.string());
    return target;
}

void PackageCache::remember_verified(const store::Version& version) {
    const auto lock = lock_for(version.sha256);
    const std::lock_guard guard(*lock);
    struct stat st {};
    const auto path = under_data_dir(version.package_path);
    if (::stat(path.c_str(), &st) != 0) {
        return;
    }
    const std::lock_guard map_lock(mutex_);
    verified_[version.sha256] =
        Identity{st.st_dev, st.st_ino, st.st_size,
                 static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                 static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
}

std::vector<std::string> store_local_packages(store::Store& store, const fs::path& data_dir) {
    const auto missing = store.packages_without_bytes();
    if (!missing) {
        throw std::runtime_error("cannot list the versions without package bytes: " +
                                 missing.error().message);
    }
    std::vector<std::string> lost;
    std::size_t stored = 0;
    for (const auto& sha256 : *missing) {
        const auto file = data_dir / "packages" / (sha256 + ".zip");
        std::error_code ec;
        const auto size = fs::file_size(file, ec);
        if (ec) {
            lost.push_back(sha256);
            continue;
        }
        const auto put = store.store_package(sha256, static_cast<std::int64_t>(size), file);
        if (!put) {
            spdlog::error("store: the package {} was not stored: {}", file.string(),
                          put.error().message);
            lost.push_back(sha256);
            continue;
        }
        ++stored;
    }
    if (stored > 0) {
        spdlog::info("store: {} package(s) from {} stored in the database", stored,
                     (data_dir / "packages").string());
    }
    for (const auto& sha256 : lost) {
        spdlog::error(
            "store: no version with package {} can be downloaded or launched: the database has no "
            "bytes for it and {} has no good copy (restore it from a backup)",
            sha256, (data_dir / "packages" / (sha256 + ".zip")).string());
    }
    return lost;
}

}  // namespace gamestore::server
