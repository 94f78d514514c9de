#pragma once
// Game packages are zip files uploaded by developers and unpacked on the
// server and on players' machines, so every archive is treated as hostile:
// names that escape the destination, links, special files, duplicates and
// decompression bombs are refused before anything is written, and extraction
// counts the bytes it really produces because declared sizes can lie.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gamestore::packages {

struct ZipLimits {
    std::uint64_t max_archive_bytes = 512ull * 1024 * 1024;
    std::uint64_t max_entries = 10000;
    std::uint64_t max_total_uncompressed = 2ull * 1024 * 1024 * 1024;
    // Entries larger than ratio_min_entry_bytes may expand at most this much.
    double max_ratio = 100.0;
    std::uint64_t ratio_min_entry_bytes = 100 * 1024;
};

struct ZipEntry {
    std::string name;        // raw bytes as stored in the archive
    std::string normalized;  // '/'-joined, without "." / empty parts or a trailing '/'
    bool is_directory = false;
    std::uint64_t size = 0;  // declared uncompressed size
    std::uint64_t compressed_size = 0;
    // st_mode bits (type + permissions) from the unix external attributes;
    // 0 when the entry was written by a tool that records no unix mode.
    std::uint32_t unix_mode = 0;

    // Any x bit in the unix mode; extraction then writes the file 0755.
    bool executable() const { return (unix_mode & 0111u) != 0; }
};

// Reason codes (ZipIssue::reason), stable for machines:
//   archive_too_large  the file is bigger than max_archive_bytes
//   not_a_zip          not a zip archive at all
//   corrupt            inconsistent headers, bad CRC, truncated data, read errors
//   too_many_entries   more entries than max_entries
//   total_too_large    declared (or, while extracting, real) bytes over max_total_uncompressed
//   ratio              an entry expands more than max_ratio
//   size_mismatch      an entry yields more (or fewer) bytes than it declares
//   absolute_path      a name starting with '/'
//   dot_dot            a ".." path component
//   backslash          a '\' in a name
//   bad_name           empty name, control characters, a component over 255 bytes
//   symlink            a symbolic link entry
//   special_file       a device, FIFO or socket entry
//   duplicate_name     two entries that normalise to the same path ("a//b", "a/b"; "a/", "a")
//   path_conflict      a file used as a directory ("a" and "a/b")
//   encrypted          an encrypted entry
//   unsupported_compression  a compression method libzip cannot decompress
//   destination        the extraction directory is not usable (exists and is not empty, ...)
//   io_error           writing to the destination failed
struct ZipIssue {
    std::string entry;    // entry name, "" for the whole archive
    std::string reason;   // one of the codes above
    std::string message;  // a sentence for people
};

// "entry 'a/../b': ... (dot_dot)"
std::string format_issue(const ZipIssue& issue);

struct ZipInspection {
    std::vector<ZipEntry> entries;
    std::vector<ZipIssue> issues;          // every problem found, not only the first
    std::uint64_t total_uncompressed = 0;  // declared
    bool ok() const { return issues.empty(); }
};

// Reads the central directory (libzip with ZIP_CHECKCONS) and checks every
// entry against the limits and the naming rules. Writes nothing.
ZipInspection inspect_zip(const std::filesystem::path& zip_path, const ZipLimits& limits = {});

struct ZipExtraction {
    std::vector<ZipIssue> issues;
    std::uint64_t files_written = 0;
    std::uint64_t bytes_written = 0;
    bool ok() const { return issues.empty(); }
};

// Inspects the archive again (from the same open handle it extracts from)
// and, only if that finds nothing, extracts it into `dest_dir`, which must
// not exist yet or be an empty directory (it is created 0755 when missing).
// While extracting it stops at the first entry that yields more bytes than it
// declared, passes max_ratio, or pushes the real total over the cap.
// Directories are created 0755, files 0644, or 0755 when the entry's unix
// mode has an x bit; setuid/setgid/sticky bits are never applied. Symlinks
// are never created nor followed (every path component is opened with
// O_NOFOLLOW relative to its parent), and every target is checked to lie
// under dest_dir.
// On failure dest_dir may hold a partial tree: the caller deletes it (the
// store and the installer extract into a fresh temporary directory and
// rename it into place only on success).
ZipExtraction extract_zip(const std::filesystem::path& zip_path,
                          const std::filesystem::path& dest_dir, const ZipLimits& limits = {});

// Failure of create_zip / read_zip_entry, with a sentence naming the file.
class ZipError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Packs `src_dir` into `out_zip` (replaced if it exists) deterministically:
// entries sorted by relative path, directories included (so empty ones
// survive), fixed timestamps, deflate, unix permission bits kept (x bit
// included; setuid/setgid/sticky dropped). Throws ZipError when src_dir holds
// a symlink or a special file, or on any I/O failure.
void create_zip(const std::filesystem::path& src_dir, const std::filesystem::path& out_zip);

// The bytes of one entry (matched by its normalized name), refusing entries
// larger than max_bytes by real count. Throws ZipError when the archive cannot
// be opened, the entry is missing, or it is too large.
std::string read_zip_entry(const std::filesystem::path& zip_path, std::string_view name,
                           std::uint64_t max_bytes);

// Where manifest.json sits in a package: at the root ("") or inside exactly
// one top-level folder ("wordle/"). A "__MACOSX/" folder is ignored.
struct ManifestRoot {
    std::optional<std::string> prefix;  // set on success: "" or "folder/"
    std::string message;                // where it was found, or why it was not
    bool found() const { return prefix.has_value(); }
};

ManifestRoot find_manifest_root(const std::vector<ZipEntry>& entries);
// The same rule for an unpacked package directory; prefix is relative to it.
ManifestRoot find_manifest_root(const std::filesystem::path& package_dir);

}  // namespace gamestore::packages
