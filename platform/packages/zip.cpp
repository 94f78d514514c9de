#include "platform/packages/zip.hpp"

#include <zip.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <system_error>
#include <utility>

#include "platform/protocol/text.hpp"

namespace gamestore::packages {

namespace fs = std::filesystem;
using protocol::in_quotes;

namespace {

constexpr std::size_t kMaxComponentBytes = 255;  // NAME_MAX on Linux filesystems
constexpr std::size_t kReadChunk = 64 * 1024;
// Fixed entry timestamp for create_zip (2000-01-01 00:00:00 UTC): identical
// trees give identical archives, hence identical sha256.
constexpr time_t kFixedMtime = 946684800;

struct ZipDiscard {
    void operator()(zip_t* archive) const noexcept { zip_discard(archive); }
};
using ZipHandle = std::unique_ptr<zip_t, ZipDiscard>;

struct ZipFileClose {
    void operator()(zip_file_t* file) const noexcept { zip_fclose(file); }
};
using ZipFileHandle = std::unique_ptr<zip_file_t, ZipFileClose>;

class Fd {
  public:
    explicit Fd(int fd = -1) noexcept : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            if (fd_ >= 0) {
                ::close(fd_);
            }
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }

  private:
    int fd_;
};

std::string libzip_error_text(int code) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    return text;
}

std::vector<std::string> split_components(std::string_view path) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) {
            slash = path.size();
        }
        parts.emplace_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    return parts;
}

// "a//./b/" -> "a/b". ".." is kept (and refused by the caller).
std::string normalize_name(std::string_view name) {
    std::string out;
    for (const auto& part : split_components(name)) {
        if (part.empty() || part == ".") {
            continue;
        }
        if (!out.empty()) {
            out.push_back('/');
        }
        out.append(part);
    }
    return out;
}

struct OpenResult {
    ZipHandle archive;
    std::vector<ZipIssue> issues;
};

// Opens with ZIP_CHECKCONS (local headers must agree with the central
// directory). libzip refuses exact duplicate names under ZIP_CHECKCONS with
// ZIP_ER_EXISTS; the archive is then reopened without it, only so that the
// inspection can name the duplicates: such an archive can never pass.
OpenResult open_archive(const fs::path& zip_path, const ZipLimits& limits) {
    OpenResult result;
    std::error_code ec;
    const auto size = fs::file_size(zip_path, ec);
    if (ec) {
        result.issues.push_back(
            {"", "io_error", "cannot read " + zip_path.string() + ": " + ec.message()});
        return result;
    }
    if (size > limits.max_archive_bytes) {
        result.issues.push_back({"", "archive_too_large",
                                 "the archive is " + std::to_string(size) +
                                     " bytes; the limit is " +
                                     std::to_string(limits.max_archive_bytes)});
        return result;
    }
    int error = 0;
    zip_t* archive = zip_open(zip_path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &error);
    if (archive == nullptr && error == ZIP_ER_EXISTS) {
        error = 0;
        archive = zip_open(zip_path.c_str(), ZIP_RDONLY, &error);
    }
    if (archive == nullptr) {
        switch (error) {
            case ZIP_ER_NOZIP:
                result.issues.push_back({"", "not_a_zip", "the file is not a zip archive"});
                break;
            case ZIP_ER_OPEN:
            case ZIP_ER_READ:
            case ZIP_ER_SEEK:
            case ZIP_ER_MEMORY:
                result.issues.push_back(
                    {"", "io_error", "cannot read the archive: " + libzip_error_text(error)});
                break;
            default:
                result.issues.push_back(
                    {"", "corrupt",
                     "the archive is damaged or inconsistent: " + libzip_error_text(error)});
                break;
        }
        return result;
    }
    result.archive.reset(archive);
    return result;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

bool over_ratio(std::uint64_t size, std::uint64_t compressed, const ZipLimits& limits) {
    if (size <= limits.ratio_min_entry_bytes) {
        return false;
    }
    const double base = static_cast<double>(std::max<std::uint64_t>(compressed, 1));
    return static_cast<double>(size) > limits.max_ratio * base;
}

std::string ratio_text(std::uint64_t size, std::uint64_t compressed) {
    const auto ratio = size / std::max<std::uint64_t>(compressed, 1);
    return std::to_string(ratio) + ":1";
}

// Checks one entry's name; returns false when the name is unusable.
bool check_name(const std::string& name, std::vector<ZipIssue>& issues) {
    bool ok = true;
    if (name.empty()) {
        issues.push_back({name, "bad_name", "an entry has an empty name"});
        return false;
    }
    if (std::any_of(name.begin(), name.end(), [](char c) {
            const auto u = static_cast<unsigned char>(c);
            return u < 0x20 || u == 0x7f;
        })) {
        issues.push_back(
            {name, "bad_name", "entry " + in_quotes(name) + " has control characters in its name"});
        ok = false;
    }
    if (name.front() == '/') {
        issues.push_back(
            {name, "absolute_path",
             "entry " + in_quotes(name) + " has an absolute path; package paths must be relative"});
        ok = false;
    }
    if (name.find('\\') != std::string::npos) {
        issues.push_back(
            {name, "backslash",
             "entry " + in_quotes(name) + " contains a backslash; use '/' as the path separator"});
        ok = false;
    }
    bool dot_dot = false;
    bool too_long = false;
    for (const auto& part : split_components(name)) {
        dot_dot = dot_dot || part == "..";
        too_long = too_long || part.size() > kMaxComponentBytes;
    }
    if (dot_dot) {
        issues.push_back(
            {name, "dot_dot",
             "entry " + in_quotes(name) + " contains '..' and could write outside the package"});
        ok = false;
    }
    if (too_long) {
        issues.push_back({name, "bad_name",
                          "entry " + in_quotes(name) + " has a path component longer than " +
                              std::to_string(kMaxComponentBytes) + " bytes"});
        ok = false;
    }
    return ok;
}

void inspect_archive(zip_t* archive, const ZipLimits& limits, ZipInspection& out) {
    const zip_int64_t count = zip_get_num_entries(archive, 0);
    if (count < 0) {
        out.issues.push_back({"", "corrupt", "cannot read the archive's entry list"});
        return;
    }
    auto to_inspect = static_cast<std::uint64_t>(count);
    if (to_inspect > limits.max_entries) {
        out.issues.push_back({"", "too_many_entries",
                              "the archive has " + std::to_string(count) +
                                  " entries; the limit is " + std::to_string(limits.max_entries) +
                                  " (only the first " + std::to_string(limits.max_entries) +
                                  " were checked)"});
        to_inspect = limits.max_entries;
    }

    std::map<std::string, std::string> first_name_of;  // normalized -> raw name
    std::set<std::string> file_paths;
    for (std::uint64_t i = 0; i < to_inspect; ++i) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(archive, i, ZIP_FL_ENC_RAW, &st) != 0 || st.name == nullptr) {
            out.issues.push_back(
                {"", "corrupt",
                 "cannot read entry #" + std::to_string(i) + ": " + zip_strerror(archive)});
            continue;
        }
        ZipEntry entry;
        entry.name = st.name;
        entry.size = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;
        entry.compressed_size = (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : 0;
        zip_uint8_t opsys = 0;
        zip_uint32_t attributes = 0;
        if (zip_file_get_external_attributes(archive, i, 0, &opsys, &attributes) == 0 &&
            opsys == ZIP_OPSYS_UNIX) {
            entry.unix_mode = attributes >> 16;
        }
        const std::uint32_t type = entry.unix_mode & S_IFMT;
        entry.is_directory = (!entry.name.empty() && entry.name.back() == '/') || type == S_IFDIR;
        const bool name_ok = check_name(entry.name, out.issues);
        entry.normalized = normalize_name(entry.name);

        if (type == S_IFLNK) {
            out.issues.push_back({entry.name, "symlink",
                                  "entry " + in_quotes(entry.name) +
                                      " is a symbolic link; packages may not contain links"});
        } else if (type == S_IFCHR || type == S_IFBLK || type == S_IFIFO || type == S_IFSOCK) {
            out.issues.push_back({entry.name, "special_file",
                                  "entry " + in_quotes(entry.name) +
                                      " is a device, FIFO or socket; packages hold only files "
                                      "and directories"});
        }
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
            out.issues.push_back({entry.name, "encrypted",
                                  "entry " + in_quotes(entry.name) +
                                      " is encrypted; packages must not be password-protected"});
        }
        if ((st.valid & ZIP_STAT_COMP_METHOD) &&
            zip_compression_method_supported(st.comp_method, 0) == 0) {
            out.issues.push_back({entry.name, "unsupported_compression",
                                  "entry " + in_quotes(entry.name) + " uses compression method " +
                                      std::to_string(st.comp_method) +
                                      ", which cannot be unpacked here; use deflate or store"});
        }
        if (!entry.is_directory && over_ratio(entry.size, entry.compressed_size, limits)) {
            out.issues.push_back({entry.name, "ratio",
                                  "entry " + in_quotes(entry.name) + " expands " +
                                      ratio_text(entry.size, entry.compressed_size) + " (limit " +
                                      std::to_string(static_cast<long long>(limits.max_ratio)) +
                                      ":1 for entries over " +
                                      std::to_string(limits.ratio_min_entry_bytes) +
                                      " bytes), which looks like a zip bomb"});
        }
        if (!entry.is_directory) {
            out.total_uncompressed = saturating_add(out.total_uncompressed, entry.size);
        }

        if (name_ok) {
            if (entry.normalized.empty()) {
                if (!entry.is_directory) {
                    out.issues.push_back({entry.name, "bad_name",
                                          "entry " + in_quotes(entry.name) + " names no file"});
                }
                // "./" is the package root itself: nothing to create.
            } else if (auto [it, inserted] = first_name_of.emplace(entry.normalized, entry.name);
                       !inserted) {
                out.issues.push_back(
                    {entry.name, "duplicate_name",
                     it->second == entry.name
                         ? "entry " + in_quotes(entry.name) + " appears more than once"
                         : "entries " + in_quotes(it->second) + " and " + in_quotes(entry.name) +
                               " both unpack to " + in_quotes(entry.normalized)});
            } else if (!entry.is_directory) {
                file_paths.insert(entry.normalized);
            }
        }
        out.entries.push_back(std::move(entry));
    }

    if (out.total_uncompressed > limits.max_total_uncompressed) {
        out.issues.push_back({"", "total_too_large",
                              "the archive unpacks to " + std::to_string(out.total_uncompressed) +
                                  " bytes; the limit is " +
                                  std::to_string(limits.max_total_uncompressed)});
    }

    // A path used both as a file and as a directory ("a" and "a/b").
    std::set<std::pair<std::string, std::string>> reported;
    for (const auto& entry : out.entries) {
        const std::string& path = entry.normalized;
        for (std::size_t slash = path.find('/'); slash != std::string::npos;
             slash = path.find('/', slash + 1)) {
            const std::string parent = path.substr(0, slash);
            if (file_paths.count(parent) != 0 && reported.emplace(parent, path).second) {
                out.issues.push_back({entry.name, "path_conflict",
                                      in_quotes(parent) + " is a file, but entry " +
                                          in_quotes(entry.name) + " needs it to be a directory"});
            }
        }
    }
}

// Opens (creating when asked) each directory of `parts` below `root_fd`,
// never following a symlink. Returns the last directory's descriptor, or an
// invalid Fd with `error` set.
Fd open_directory_chain(int root_fd, const std::vector<std::string>& parts, bool create,
                        std::string& error) {
    Fd current(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
    if (!current.valid()) {
        error = std::strerror(errno);
        return Fd();
    }
    for (const auto& part : parts) {
        bool created = false;
        if (create) {
            if (::mkdirat(current.get(), part.c_str(), 0700) == 0) {
                created = true;
            } else if (errno != EEXIST) {
                error = "cannot create directory " + in_quotes(part) + ": " + std::strerror(errno);
                return Fd();
            }
        }
        Fd next(
            ::openat(current.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next.valid()) {
            error = in_quotes(part) + " is not a directory we can enter: " + std::strerror(errno);
            return Fd();
        }
        if (created && ::fchmod(next.get(), 0755) != 0) {
            error = "cannot set permissions on " + in_quotes(part) + ": " + std::strerror(errno);
            return Fd();
        }
        current = std::move(next);
    }
    return current;
}

bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

bool inside(const fs::path& canonical_root, const fs::path& path) {
    std::error_code ec;
    const auto resolved = fs::weakly_canonical(path, ec);
    if (ec) {
        return false;
    }
    const auto relative = resolved.lexically_relative(canonical_root);
    return !relative.empty() && *relative.begin() != "..";
}

// Prepares dest_dir: missing -> created 0755; existing -> must be an empty
// directory (an existing tree could hold links that redirect writes).
std::optional<ZipIssue> prepare_destination(const fs::path& dest_dir) {
    std::error_code ec;
    const auto status = fs::symlink_status(dest_dir, ec);
    if (!ec && fs::exists(status)) {
        if (!fs::is_directory(status)) {
            return ZipIssue{"", "destination",
                            dest_dir.string() + " exists and is not a directory"};
        }
        if (!fs::is_empty(dest_dir, ec) || ec) {
            return ZipIssue{"", "destination",
                            dest_dir.string() + " is not empty; extract into a new directory"};
        }
        return std::nullopt;
    }
    fs::create_directories(dest_dir, ec);
    if (ec) {
        return ZipIssue{"", "destination",
                        "cannot create " + dest_dir.string() + ": " + ec.message()};
    }
    fs::permissions(dest_dir, fs::perms(0755), ec);
    return std::nullopt;
}

// Streams one file entry into `fd`, counting real bytes.
std::optional<ZipIssue> extract_file(zip_t* archive, std::uint64_t index, const ZipEntry& entry,
                                     int fd, const ZipLimits& limits, std::uint64_t& real_total,
                                     std::uint64_t& written) {
    ZipFileHandle file(zip_fopen_index(archive, index, 0));
    if (!file) {
        return ZipIssue{
            entry.name, "corrupt",
            "cannot open entry " + in_quotes(entry.name) + ": " + zip_strerror(archive)};
    }
    std::vector<char> buffer(kReadChunk);
    written = 0;
    for (;;) {
        const zip_int64_t n = zip_fread(file.get(), buffer.data(), buffer.size());
        if (n < 0) {
            return ZipIssue{entry.name, "corrupt",
                            "cannot unpack entry " + in_quotes(entry.name) + ": " +
                                zip_file_strerror(file.get())};
        }
        if (n == 0) {
            break;
        }
        const auto got = static_cast<std::uint64_t>(n);
        written += got;
        real_total = saturating_add(real_total, got);
        if (written > entry.size) {
            return ZipIssue{entry.name, "size_mismatch",
                            "entry " + in_quotes(entry.name) + " unpacks to more than the " +
                                std::to_string(entry.size) +
                                " bytes its header declares; the archive lies about its sizes"};
        }
        // Redundant while every entry stays within its declared size (the
        // declared total was checked), kept so the cap holds on real bytes
        // even if the per-entry rule ever changes.
        if (real_total > limits.max_total_uncompressed) {
            return ZipIssue{entry.name, "total_too_large",
                            "unpacking passed the limit of " +
                                std::to_string(limits.max_total_uncompressed) + " bytes"};
        }
        if (!write_all(fd, buffer.data(), static_cast<std::size_t>(got))) {
            return ZipIssue{
                entry.name, "io_error",
                "cannot write " + in_quotes(entry.normalized) + ": " + std::strerror(errno)};
        }
    }
    if (written != entry.size) {
        return ZipIssue{entry.name, "size_mismatch",
                        "entry " + in_quotes(entry.name) + " unpacks to " +
                            std::to_string(written) + " bytes but its header declares " +
                            std::to_string(entry.size)};
    }
    return std::nullopt;
}

}  // namespace

std::string format_issue(const ZipIssue& issue) {
    return issue.message + " (" + issue.reason + ")";
}

ZipInspection inspect_zip(const fs::path& zip_path, const ZipLimits& limits) {
    ZipInspection inspection;
    OpenResult opened = open_archive(zip_path, limits);
    inspection.issues = std::move(opened.issues);
    if (opened.archive) {
        inspect_archive(opened.archive.get(), limits, inspection);
    }
    return inspection;
}

ZipExtraction extract_zip(const fs::path& zip_path, const fs::path& dest_dir,
                          const ZipLimits& limits) {
    ZipExtraction result;
    OpenResult opened = open_archive(zip_path, limits);
    if (!opened.archive) {
        result.issues = std::move(opened.issues);
        return result;
    }
    ZipInspection inspection;
    inspect_archive(opened.archive.get(), limits, inspection);
    if (!inspection.ok()) {
        result.issues = std::move(inspection.issues);
        return result;
    }
    if (auto issue = prepare_destination(dest_dir)) {
        result.issues.push_back(std::move(*issue));
        return result;
    }
    std::error_code ec;
    const fs::path canonical_dest = fs::weakly_canonical(fs::absolute(dest_dir, ec), ec);
    Fd root(::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (ec || !root.valid()) {
        result.issues.push_back({"", "destination", "cannot open " + dest_dir.string()});
        return result;
    }

    std::uint64_t real_total = 0;
    for (std::size_t i = 0; i < inspection.entries.size(); ++i) {
        const ZipEntry& entry = inspection.entries[i];
        if (entry.normalized.empty()) {
            continue;
        }
        if (!inside(canonical_dest, canonical_dest / entry.normalized)) {
            result.issues.push_back(
                {entry.name, "destination",
                 "entry " + in_quotes(entry.name) + " would be written outside the destination"});
            return result;
        }
        std::vector<std::string> parts = split_components(entry.normalized);
        std::string error;
        if (entry.is_directory) {
            if (!open_directory_chain(root.get(), parts, true, error).valid()) {
                result.issues.push_back({entry.name, "io_error", error});
                return result;
            }
            continue;
        }
        const std::string leaf = parts.back();
        parts.pop_back();
        Fd parent = open_directory_chain(root.get(), parts, true, error);
        if (!parent.valid()) {
            result.issues.push_back({entry.name, "io_error", error});
            return result;
        }
        // O_EXCL|O_NOFOLLOW: never reuse or follow anything already there.
        Fd out(::openat(parent.get(), leaf.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out.valid()) {
            result.issues.push_back(
                {entry.name, "io_error",
                 "cannot create " + in_quotes(entry.normalized) + ": " + std::strerror(errno)});
            return result;
        }
        std::uint64_t written = 0;
        if (auto issue = extract_file(opened.archive.get(), i, entry, out.get(), limits, real_total,
                                      written)) {
            result.issues.push_back(std::move(*issue));
            return result;
        }
        // Permissions only once the content is complete: a partial file is
        // never executable.
        if (::fchmod(out.get(), entry.executable() ? 0755 : 0644) != 0) {
            result.issues.push_back({entry.name, "io_error",
                                     "cannot set permissions on " + in_quotes(entry.normalized) +
                                         ": " + std::strerror(errno)});
            return result;
        }
        ++result.files_written;
        result.bytes_written += written;
    }
    return result;
}

void create_zip(const fs::path& src_dir, const fs::path& out_zip) {
    std::error_code ec;
    if (!fs::is_directory(src_dir, ec)) {
        throw ZipError("cannot pack " + src_dir.string() + ": not a directory");
    }
    const fs::path canonical_out = fs::weakly_canonical(fs::absolute(out_zip, ec), ec);

    struct Item {
        std::string relative;  // generic, '/'-separated
        fs::path absolute;
        bool directory;
        fs::perms permissions;
    };
    std::vector<Item> items;
    fs::recursive_directory_iterator it(src_dir, fs::directory_options::none, ec);
    if (ec) {
        throw ZipError("cannot list " + src_dir.string() + ": " + ec.message());
    }
    for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
        if (ec) {
            throw ZipError("cannot list " + src_dir.string() + ": " + ec.message());
        }
        const fs::path& path = it->path();
        const std::string relative = path.lexically_relative(src_dir).generic_string();
        const auto status = it->symlink_status(ec);
        if (ec) {
            throw ZipError("cannot stat " + path.string() + ": " + ec.message());
        }
        if (fs::is_symlink(status)) {
            throw ZipError("refusing to pack " + path.string() +
                           ": it is a symbolic link, and packages may not contain links "
                           "(copy the file it points to instead)");
        }
        if (relative.find('\\') != std::string::npos ||
            std::any_of(relative.begin(), relative.end(), [](char c) {
                const auto u = static_cast<unsigned char>(c);
                return u < 0x20 || u == 0x7f;
            })) {
            throw ZipError("refusing to pack " + in_quotes(relative) +
                           ": names with backslashes or control characters are not allowed in "
                           "packages");
        }
        if (fs::is_directory(status)) {
            items.push_back({relative, path, true, status.permissions()});
        } else if (fs::is_regular_file(status)) {
            if (!canonical_out.empty() && fs::weakly_canonical(path, ec) == canonical_out) {
                continue;  // the output archive itself, when written inside src_dir
            }
            items.push_back({relative, path, false, status.permissions()});
        } else {
            throw ZipError("refusing to pack " + path.string() +
                           ": only regular files and directories can go into a package");
        }
    }
    std::sort(items.begin(), items.end(),
              [](const Item& a, const Item& b) { return a.relative < b.relative; });

    int error = 0;
    ZipHandle archive(zip_open(out_zip.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error));
    if (!archive) {
        throw ZipError("cannot create " + out_zip.string() + ": " + libzip_error_text(error));
    }
    auto fail = [&](const std::string& what) {
        throw ZipError(what + ": " + zip_strerror(archive.get()));
    };
    for (const auto& item : items) {
        // Keep rwx bits only: setuid/setgid/sticky have no business in a package.
        const auto mode = static_cast<zip_uint32_t>(item.permissions) & 0777u;
        zip_int64_t index = 0;
        if (item.directory) {
            index = zip_dir_add(archive.get(), item.relative.c_str(), ZIP_FL_ENC_UTF_8);
            if (index < 0) {
                fail("cannot add directory " + in_quotes(item.relative));
            }
        } else {
            zip_source_t* source = zip_source_file(archive.get(), item.absolute.c_str(), 0, -1);
            if (source == nullptr) {
                fail("cannot read " + item.absolute.string());
            }
            index = zip_file_add(archive.get(), item.relative.c_str(), source, ZIP_FL_ENC_UTF_8);
            if (index < 0) {
                zip_source_free(source);
                fail("cannot add " + in_quotes(item.relative));
            }
            if (zip_set_file_compression(archive.get(), static_cast<zip_uint64_t>(index),
                                         ZIP_CM_DEFLATE, 0) != 0) {
                fail("cannot set compression for " + in_quotes(item.relative));
            }
        }
        const auto type = item.directory ? static_cast<zip_uint32_t>(S_IFDIR)
                                         : static_cast<zip_uint32_t>(S_IFREG);
        if (zip_file_set_external_attributes(archive.get(), static_cast<zip_uint64_t>(index), 0,
                                             ZIP_OPSYS_UNIX, (type | mode) << 16) != 0) {
            fail("cannot set attributes for " + in_quotes(item.relative));
        }
        if (zip_file_set_mtime(archive.get(), static_cast<zip_uint64_t>(index), kFixedMtime, 0) !=
            0) {
            fail("cannot set the time of " + in_quotes(item.relative));
        }
    }
    zip_t* raw = archive.release();
    if (zip_close(raw) != 0) {
        const std::string message = zip_strerror(raw);
        zip_discard(raw);
        throw ZipError("cannot write " + out_zip.string() + ": " + message);
    }
}

std::string read_zip_entry(const fs::path& zip_path, std::string_view name,
                           std::uint64_t max_bytes) {
    ZipLimits limits;
    OpenResult opened = open_archive(zip_path, limits);
    if (!opened.archive) {
        throw ZipError(zip_path.string() + ": " + opened.issues.front().message);
    }
    const std::string wanted = normalize_name(name);
    const zip_int64_t count = zip_get_num_entries(opened.archive.get(), 0);
    for (zip_int64_t i = 0; i < count; ++i) {
        const char* entry_name =
            zip_get_name(opened.archive.get(), static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
        if (entry_name == nullptr || normalize_name(entry_name) != wanted ||
            std::string_view(entry_name).back() == '/') {
            continue;
        }
        ZipFileHandle file(zip_fopen_index(opened.archive.get(), static_cast<zip_uint64_t>(i), 0));
        if (!file) {
            throw ZipError("cannot open " + in_quotes(name) + " in " + zip_path.string() + ": " +
                           zip_strerror(opened.archive.get()));
        }
        std::string content;
        std::vector<char> buffer(kReadChunk);
        for (;;) {
            const zip_int64_t n = zip_fread(file.get(), buffer.data(), buffer.size());
            if (n < 0) {
                throw ZipError("cannot read " + in_quotes(name) + " in " + zip_path.string() +
                               ": " + zip_file_strerror(file.get()));
            }
            if (n == 0) {
                return content;
            }
            if (content.size() + static_cast<std::uint64_t>(n) > max_bytes) {
                throw ZipError(in_quotes(name) + " in " + zip_path.string() + " is larger than " +
                               std::to_string(max_bytes) + " bytes");
            }
            content.append(buffer.data(), static_cast<std::size_t>(n));
        }
    }
    throw ZipError(zip_path.string() + " has no entry " + in_quotes(name));
}

namespace {

constexpr std::string_view kManifestName = "manifest.json";
constexpr std::string_view kMacJunk = "__MACOSX";

// Shared rule over a set of "top-level name -> is directory" plus a predicate
// telling whether a relative file exists.
template <typename HasFile>
ManifestRoot locate_manifest(const std::map<std::string, bool>& top_level, HasFile has_file,
                             const std::string& deeper_hint) {
    ManifestRoot root;
    if (has_file(std::string(kManifestName))) {
        root.prefix = "";
        root.message = "manifest.json found at the package root";
        return root;
    }
    if (top_level.empty()) {
        root.message = "the package is empty";
        return root;
    }
    if (top_level.size() == 1 && top_level.begin()->second) {
        const std::string folder = top_level.begin()->first;
        if (has_file(folder + "/" + std::string(kManifestName))) {
            root.prefix = folder + "/";
            root.message =
                "manifest.json found inside the single top-level folder " + in_quotes(folder + "/");
            return root;
        }
        root.message =
            "no manifest.json at the package root nor in its single top-level "
            "folder " +
            in_quotes(folder + "/") + deeper_hint;
        return root;
    }
    root.message =
        "no manifest.json at the package root (it may also sit inside exactly one "
        "top-level folder, but the package has " +
        std::to_string(top_level.size()) + " top-level items)" + deeper_hint;
    return root;
}

}  // namespace

ManifestRoot find_manifest_root(const std::vector<ZipEntry>& entries) {
    std::map<std::string, bool> top_level;
    std::set<std::string> files;
    std::string deeper;
    for (const auto& entry : entries) {
        if (entry.normalized.empty()) {
            continue;
        }
        const auto slash = entry.normalized.find('/');
        const std::string first = entry.normalized.substr(0, slash);
        if (first == kMacJunk) {
            continue;
        }
        const bool directory = entry.is_directory || slash != std::string::npos;
        top_level[first] = top_level[first] || directory;
        if (!entry.is_directory) {
            files.insert(entry.normalized);
            const auto base = entry.normalized.rfind('/');
            if (deeper.empty() && base != std::string::npos &&
                entry.normalized.substr(base + 1) == kManifestName) {
                deeper = entry.normalized;
            }
        }
    }
    const std::string hint =
        deeper.empty() ? "" : "; found " + in_quotes(deeper) + ", which is nested too deep";
    return locate_manifest(
        top_level, [&](const std::string& path) { return files.count(path) != 0; }, hint);
}

ManifestRoot find_manifest_root(const fs::path& package_dir) {
    std::map<std::string, bool> top_level;
    std::error_code ec;
    for (fs::directory_iterator it(package_dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name == kMacJunk) {
            continue;
        }
        top_level[name] = it->is_directory(ec);
    }
    if (ec) {
        ManifestRoot root;
        root.message = "cannot list " + package_dir.string() + ": " + ec.message();
        return root;
    }
    return locate_manifest(
        top_level,
        [&](const std::string& path) {
            std::error_code file_ec;
            return fs::is_regular_file(package_dir / path, file_ec);
        },
        "");
}

}  // namespace gamestore::packages
