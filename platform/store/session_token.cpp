#include "platform/store/session_token.hpp"

#include <sodium.h>

#include "platform/store/password.hpp"

namespace gamestore::store {

std::optional<std::string> generate_session_token() {
    if (!ensure_sodium())
        return std::nullopt;
    unsigned char bytes[kSessionTokenHexChars / 2];
    randombytes_buf(bytes, sizeof bytes);
    char hex[kSessionTokenHexChars + 1];
    sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
    sodium_memzero(bytes, sizeof bytes);
    return std::string(hex, kSessionTokenHexChars);
}

bool is_well_formed_session_token(std::string_view token) {
    if (token.size() != kSessionTokenHexChars)
        return false;
    for (const char c : token) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

std::array<unsigned char, 32> hash_session_token(std::string_view token) {
    static_assert(crypto_hash_sha256_BYTES == 32);
    std::array<unsigned char, 32> digest{};
    crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(token.data()),
                       token.size());
    return digest;
}

}  // namespace gamestore::store
