// Fuzzing zip inspection and extraction, which run on uploaded packages
// before any sandbox exists. The input is a zip archive; the API reads
// paths, so each input is written to a file in a per-process directory
// (removed at exit). Inspection never throws and, when it passes, holds only
// safe, unique, plain names within the limits; extraction refuses whatever
// inspection refuses without creating anything, and whatever it does, it
// writes nothing outside its destination and creates only directories and
// regular files without setuid/setgid/sticky bits. A successful extraction
// produces exactly the inspected files with their declared sizes.

#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <system_error>

#include "platform/packages/zip.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

namespace fs = std::filesystem;
using namespace gamestore::packages;

// Small limits keep every input fast while leaving each rule reachable.
ZipLimits fuzz_limits() {
    ZipLimits limits;
    limits.max_archive_bytes = 1024 * 1024;
    limits.max_entries = 64;
    limits.max_total_uncompressed = 1024 * 1024;
    limits.max_ratio = 100.0;
    limits.ratio_min_entry_bytes = 4096;
    return limits;
}

constexpr std::uint64_t kMaxManifestRead = 16 * 1024;

// <tmp>/gamestore-fuzz-zip-XXXXXX/{input.zip, up/up/up/out}: the destination
// sits three levels down, so an entry climbing out with "../" (up to three
// times) lands inside the sandbox, where the walk after each input sees it.
class Sandbox {
  public:
    Sandbox() {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                              "/gamestore-fuzz-zip-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::abort();
        }
        root_ = pattern;
        fs::create_directories(root_ / "up/up/up");
    }
    ~Sandbox() {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    const fs::path& root() const { return root_; }
    fs::path archive() const { return root_ / "input.zip"; }
    fs::path destination() const { return root_ / "up/up/up/out"; }

  private:
    fs::path root_;
};

Sandbox& sandbox() {
    static Sandbox instance;
    return instance;
}

// Removes the destination after each input, also when a check throws during
// the corpus replay.
struct RemoveDestination {
    fs::path path;
    ~RemoveDestination() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

const std::set<std::string> kReasons = {
    "archive_too_large",
    "not_a_zip",
    "corrupt",
    "too_many_entries",
    "total_too_large",
    "ratio",
    "size_mismatch",
    "absolute_path",
    "dot_dot",
    "backslash",
    "bad_name",
    "symlink",
    "special_file",
    "duplicate_name",
    "path_conflict",
    "encrypted",
    "unsupported_compression",
    "destination",
    "io_error",
};

void check_issues(const std::vector<ZipIssue>& issues) {
    for (const auto& issue : issues) {
        FUZZ_CHECK(kReasons.count(issue.reason) == 1);
        FUZZ_CHECK(!issue.message.empty());
    }
}

bool has_component(const std::string& path, std::string_view component) {
    for (const auto& part : fs::path(path)) {
        if (part == component) {
            return true;
        }
    }
    return false;
}

void check_passed_inspection(const ZipInspection& inspection, const ZipLimits& limits) {
    FUZZ_CHECK(inspection.entries.size() <= limits.max_entries);
    FUZZ_CHECK(inspection.total_uncompressed <= limits.max_total_uncompressed);
    std::set<std::string> seen;
    std::set<std::string> files;
    for (const auto& entry : inspection.entries) {
        const std::uint32_t type = entry.unix_mode & S_IFMT;
        FUZZ_CHECK(type != S_IFLNK && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO &&
                   type != S_IFSOCK);
        if (entry.normalized.empty()) {
            FUZZ_CHECK(entry.is_directory);
            continue;
        }
        FUZZ_CHECK(entry.normalized.front() != '/');
        FUZZ_CHECK(entry.normalized.back() != '/');
        FUZZ_CHECK(entry.normalized.find('\\') == std::string::npos);
        FUZZ_CHECK(entry.normalized.find("//") == std::string::npos);
        FUZZ_CHECK(!has_component(entry.normalized, ".."));
        FUZZ_CHECK(!has_component(entry.normalized, "."));
        FUZZ_CHECK(seen.insert(entry.normalized).second);
        if (!entry.is_directory) {
            files.insert(entry.normalized);
        }
    }
    // No file is also used as a directory.
    for (const auto& path : seen) {
        for (auto slash = path.find('/'); slash != std::string::npos;
             slash = path.find('/', slash + 1)) {
            FUZZ_CHECK(files.count(path.substr(0, slash)) == 0);
        }
    }
}

// Everything in the sandbox outside the destination is what the harness put
// there itself; inside it, only directories and regular files.
void check_tree(const Sandbox& box, bool extracted) {
    const std::set<fs::path> expected = {box.archive(), box.root() / "up", box.root() / "up/up",
                                         box.root() / "up/up/up"};
    const fs::path dest = box.destination();
    for (fs::recursive_directory_iterator it(box.root()), end; it != end; ++it) {
        const fs::path& path = it->path();
        const auto relative = path.lexically_relative(dest);
        const bool in_destination = !relative.empty() && *relative.begin() != "..";
        if (!in_destination) {
            FUZZ_CHECK(expected.count(path) == 1);
            continue;
        }
        const auto status = it->symlink_status();
        FUZZ_CHECK(fs::is_directory(status) || fs::is_regular_file(status));
        const auto special = fs::perms::set_uid | fs::perms::set_gid | fs::perms::sticky_bit;
        FUZZ_CHECK((status.permissions() & special) == fs::perms::none);
        if (extracted) {
            const auto mode = status.permissions() & fs::perms::mask;
            if (fs::is_directory(status)) {
                FUZZ_CHECK(mode == fs::perms(0755));
            } else {
                FUZZ_CHECK(mode == fs::perms(0644) || mode == fs::perms(0755));
            }
        }
    }
}

void check_extracted_files(const ZipInspection& inspection, const ZipExtraction& extraction,
                           const fs::path& dest) {
    std::map<std::string, const ZipEntry*> files;
    std::uint64_t bytes = 0;
    for (const auto& entry : inspection.entries) {
        if (!entry.is_directory) {
            files.emplace(entry.normalized, &entry);
            bytes += entry.size;
        }
    }
    FUZZ_CHECK(extraction.files_written == files.size());
    FUZZ_CHECK(extraction.bytes_written == bytes);
    std::size_t found = 0;
    for (fs::recursive_directory_iterator it(dest), end; it != end; ++it) {
        if (!it->is_regular_file()) {
            continue;
        }
        const auto entry = files.find(it->path().lexically_relative(dest).generic_string());
        FUZZ_CHECK(entry != files.end());
        FUZZ_CHECK(it->file_size() == entry->second->size);
        const bool executable =
            (it->symlink_status().permissions() & fs::perms::owner_exec) != fs::perms::none;
        FUZZ_CHECK(executable == entry->second->executable());
        ++found;
    }
    FUZZ_CHECK(found == files.size());

    const ManifestRoot from_entries = find_manifest_root(inspection.entries);
    const ManifestRoot from_directory = find_manifest_root(dest);
    FUZZ_CHECK(from_entries.prefix == from_directory.prefix);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Sandbox& box = sandbox();
    {
        std::ofstream out(box.archive(), std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        FUZZ_CHECK(out.good());
    }
    const ZipLimits limits = fuzz_limits();
    const RemoveDestination cleanup{box.destination()};

    const ZipInspection inspection = inspect_zip(box.archive(), limits);
    check_issues(inspection.issues);
    if (inspection.ok()) {
        check_passed_inspection(inspection, limits);
    }
    const ManifestRoot root = find_manifest_root(inspection.entries);
    FUZZ_CHECK(!root.message.empty());

    try {
        const std::string manifest =
            read_zip_entry(box.archive(), "manifest.json", kMaxManifestRead);
        FUZZ_CHECK(manifest.size() <= kMaxManifestRead);
    } catch (const ZipError& error) {
        FUZZ_CHECK(*error.what() != '\0');
    }

    const ZipExtraction extraction = extract_zip(box.archive(), box.destination(), limits);
    check_issues(extraction.issues);
    if (!inspection.ok()) {
        FUZZ_CHECK(!extraction.ok());
        FUZZ_CHECK(!fs::exists(box.destination()));
    }
    check_tree(box, extraction.ok());
    if (extraction.ok()) {
        FUZZ_CHECK(inspection.ok());
        check_extracted_files(inspection, extraction, box.destination());
    }
    return 0;
}
