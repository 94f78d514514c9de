#include "platform/packages/sha256.hpp"

#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace gamestore::packages {

namespace {

void init_or_throw(EVP_MD_CTX* ctx) {
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("OpenSSL could not initialise SHA-256");
    }
}

}  // namespace

void Sha256::CtxDeleter::operator()(evp_md_ctx_st* ctx) const noexcept {
    EVP_MD_CTX_free(ctx);
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_) {
        throw std::runtime_error("OpenSSL could not allocate a digest context");
    }
    init_or_throw(ctx_.get());
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t size) {
    if (!ctx_) {
        throw std::logic_error("Sha256 used after being moved from");
    }
    if (size != 0 && EVP_DigestUpdate(ctx_.get(), data, size) != 1) {
        throw std::runtime_error("OpenSSL SHA-256 update failed");
    }
}

std::string Sha256::hex_digest() {
    if (!ctx_) {
        throw std::logic_error("Sha256 used after being moved from");
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), digest.data(), &length) != 1) {
        throw std::runtime_error("OpenSSL SHA-256 finalisation failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(std::size_t{length} * 2);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0x0f]);
    }
    init_or_throw(ctx_.get());  // ready for the next message
    return out;
}

std::string sha256_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot open " + path.string() +
                                 " to hash it: " + std::strerror(errno));
    }
    Sha256 hasher;
    // 1 MiB chunks: large enough that the per-call overhead vanishes next to
    // SHA-NI throughput, small enough to stay off the heap's slow paths.
    std::string buffer(std::size_t{1} << 20, '\0');
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto got = in.gcount();
        if (got > 0) {
            hasher.update(buffer.data(), static_cast<std::size_t>(got));
        }
    }
    if (in.bad()) {
        throw std::runtime_error("read error while hashing " + path.string());
    }
    return hasher.hex_digest();
}

std::string sha256_hex(std::string_view data) {
    Sha256 hasher;
    hasher.update(data);
    return hasher.hex_digest();
}

}  // namespace gamestore::packages
