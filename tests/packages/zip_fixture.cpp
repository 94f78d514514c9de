#include "tests/packages/zip_fixture.hpp"

#include <zip.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace gamestore::packages::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
    std::string pattern = (fs::temp_directory_path() / "gamestore-packages-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    // Extraction tests leave read-only or odd permissions behind; make sure
    // everything can be removed.
    for (auto it = fs::recursive_directory_iterator(path_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) {
            fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
        }
    }
    fs::remove_all(path_, ec);
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string());
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_file(const fs::path& path, std::string_view content) {
    if (path.has_parent_path()) {
        fs::create_directories(path.parent_path());
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

std::string incompressible(std::size_t size, std::uint32_t seed) {
    std::string out(size, '\0');
    std::uint32_t x = seed;
    for (auto& c : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x & 0xff);
    }
    return out;
}

void write_zip(const fs::path& zip, const std::vector<RawEntry>& entries) {
    int error = 0;
    zip_t* archive = zip_open(zip.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
    if (archive == nullptr) {
        throw std::runtime_error("zip_open failed: " + std::to_string(error));
    }
    for (const auto& entry : entries) {
        zip_int64_t index = 0;
        if (!entry.name.empty() && entry.name.back() == '/' && entry.data.empty()) {
            index = zip_dir_add(archive, entry.name.c_str(), ZIP_FL_ENC_RAW);
        } else {
            zip_source_t* source =
                zip_source_buffer(archive, entry.data.data(), entry.data.size(), 0);
            index = zip_file_add(archive, entry.name.c_str(), source, ZIP_FL_ENC_RAW);
            if (index < 0) {
                zip_source_free(source);
            }
        }
        if (index < 0) {
            const std::string message = zip_strerror(archive);
            zip_discard(archive);
            throw std::runtime_error("cannot add " + entry.name + ": " + message);
        }
        const auto i = static_cast<zip_uint64_t>(index);
        zip_set_file_compression(archive, i, entry.store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0);
        if (entry.unix_mode) {
            zip_file_set_external_attributes(archive, i, 0, ZIP_OPSYS_UNIX, *entry.unix_mode << 16);
        } else {
            zip_file_set_external_attributes(archive, i, 0, ZIP_OPSYS_DOS, 0);
        }
        if (entry.encrypt &&
            zip_file_set_encryption(archive, i, ZIP_EM_AES_256, "fixture-password") != 0) {
            zip_discard(archive);
            throw std::runtime_error("cannot encrypt " + entry.name);
        }
    }
    if (zip_close(archive) != 0) {
        const std::string message = zip_strerror(archive);
        zip_discard(archive);
        throw std::runtime_error("zip_close failed: " + message);
    }
}

namespace {

std::uint32_t get32(const std::string& b, std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
}
std::uint16_t get16(const std::string& b, std::size_t at) {
    return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) |
                                      static_cast<unsigned char>(b[at + 1]) << 8);
}
void put32(std::string& b, std::size_t at, std::uint32_t v) {
    for (int k = 0; k < 4; ++k) {
        b[at + k] = static_cast<char>((v >> (8 * k)) & 0xff);
    }
}
void put16(std::string& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<char>(v & 0xff);
    b[at + 1] = static_cast<char>(v >> 8);
}

// Calls patch(bytes, central_header_offset, local_header_offset) for the entry
// named `entry`, walking the central directory from the end-of-central-
// directory record (no zip64: the fixtures are small).
void patch_entry(const fs::path& zip, std::string_view entry,
                 const std::function<void(std::string&, std::size_t, std::size_t)>& patch) {
    std::string bytes = read_file(zip);
    const std::size_t eocd = bytes.rfind(std::string("PK\x05\x06", 4));
    if (eocd == std::string::npos) {
        throw std::runtime_error("no end of central directory in " + zip.string());
    }
    const std::uint16_t count = get16(bytes, eocd + 10);
    std::size_t at = get32(bytes, eocd + 16);
    bool found = false;
    for (std::uint16_t i = 0; i < count; ++i) {
        if (get32(bytes, at) != 0x02014b50) {
            throw std::runtime_error("bad central directory header");
        }
        const std::uint16_t name_length = get16(bytes, at + 28);
        const std::uint16_t extra_length = get16(bytes, at + 30);
        const std::uint16_t comment_length = get16(bytes, at + 32);
        const std::size_t local = get32(bytes, at + 42);
        if (std::string_view(bytes).substr(at + 46, name_length) == entry && !found) {
            if (get32(bytes, local) != 0x04034b50) {
                throw std::runtime_error("bad local header");
            }
            patch(bytes, at, local);
            found = true;
        }
        at += 46 + name_length + extra_length + comment_length;
    }
    if (!found) {
        throw std::runtime_error("no entry " + std::string(entry) + " in " + zip.string());
    }
    write_file(zip, bytes);
}

}  // namespace

void patch_declared_size(const fs::path& zip, std::string_view entry, std::uint32_t declared) {
    patch_entry(zip, entry, [&](std::string& b, std::size_t central, std::size_t local) {
        put32(b, central + 24, declared);
        put32(b, local + 22, declared);
    });
}

void patch_name(const fs::path& zip, std::string_view from, std::string_view to) {
    if (from.size() != to.size()) {
        throw std::invalid_argument("patch_name needs names of equal length");
    }
    patch_entry(zip, from, [&](std::string& b, std::size_t central, std::size_t local) {
        b.replace(central + 46, to.size(), to);
        b.replace(local + 30, to.size(), to);
    });
}

void patch_method(const fs::path& zip, std::string_view entry, std::uint16_t method) {
    patch_entry(zip, entry, [&](std::string& b, std::size_t central, std::size_t local) {
        put16(b, central + 10, method);
        put16(b, local + 8, method);
    });
}

}  // namespace gamestore::packages::testing
