#pragma once
// Test helpers that build zip files the way an attacker would: arbitrary
// names, unix modes (symlinks, setuid), encryption, and headers patched after
// libzip wrote them (lying sizes, exact duplicate names, odd methods).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gamestore::packages::testing {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

struct RawEntry {
    std::string name;  // written byte for byte (ZIP_FL_ENC_RAW)
    std::string data;
    std::optional<std::uint32_t> unix_mode;  // st_mode incl. type; none = DOS attributes
    bool store = false;                      // store instead of deflate
    bool encrypt = false;                    // AES-256 with a fixed password
};

void write_zip(const std::filesystem::path& zip, const std::vector<RawEntry>& entries);

// Rewrites the uncompressed size of `entry` in both its local header and the
// central directory, so libzip (even with ZIP_CHECKCONS) believes the lie.
void patch_declared_size(const std::filesystem::path& zip, std::string_view entry,
                         std::uint32_t declared);
// Renames `from` to `to` (same length) in both headers, e.g. to make two
// entries carry the exact same name, which libzip refuses to write.
void patch_name(const std::filesystem::path& zip, std::string_view from, std::string_view to);
// Sets the compression method field of `entry` in both headers.
void patch_method(const std::filesystem::path& zip, std::string_view entry, std::uint16_t method);

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, std::string_view content);
// Deterministic bytes that deflate cannot shrink.
std::string incompressible(std::size_t size, std::uint32_t seed = 12345);

}  // namespace gamestore::packages::testing
