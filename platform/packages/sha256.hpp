#pragma once
// SHA-256 over OpenSSL EVP: packages are stored content-addressed by their
// digest, and installs verify it after download.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace gamestore::packages {

// Incremental hasher. hex_digest() finalises; after it the object is reset and
// can hash a new message. Errors from OpenSSL (which do not happen with the
// built-in provider) are reported as std::runtime_error.
class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, std::size_t size);
    void update(std::string_view data) { update(data.data(), data.size()); }
    // Lower-case hex, 64 characters.
    std::string hex_digest();

  private:
    struct CtxDeleter {
        void operator()(evp_md_ctx_st* ctx) const noexcept;
    };
    std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx_;
};

// Hex digest of a whole file, read in chunks. Throws std::runtime_error with
// the path and the reason when the file cannot be read.
std::string sha256_file(const std::filesystem::path& path);

std::string sha256_hex(std::string_view data);

}  // namespace gamestore::packages
