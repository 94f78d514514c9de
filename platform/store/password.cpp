#include "platform/store/password.hpp"

#include <sodium.h>

#include <string>

namespace gamestore::store {

bool ensure_sodium() {
    // sodium_init() is itself thread-safe and idempotent; caching the outcome
    // just avoids the call on every hash.
    static const bool ok = sodium_init() >= 0;
    return ok;
}

PasswordHasher::PasswordHasher(Strength strength, unsigned long long opslimit, std::size_t memlimit)
    : strength_(strength), opslimit_(opslimit), memlimit_(memlimit) {}

PasswordHasher PasswordHasher::interactive() {
    return PasswordHasher(Strength::Interactive, crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE);
}

PasswordHasher PasswordHasher::fast_for_tests() {
    return PasswordHasher(Strength::FastForTests, crypto_pwhash_argon2id_OPSLIMIT_MIN,
                          crypto_pwhash_argon2id_MEMLIMIT_MIN);
}

Result<std::string> PasswordHasher::hash(std::string_view password) const {
    if (!ensure_sodium()) {
        return StoreError{StoreError::Code::Internal,
                          "the password could not be hashed: libsodium failed to initialise"};
    }
    char out[crypto_pwhash_argon2id_STRBYTES];
    if (crypto_pwhash_argon2id_str(out, password.data(), password.size(), opslimit_, memlimit_) !=
        0) {
        return StoreError{StoreError::Code::Internal,
                          "the password could not be hashed: the server is out of memory"};
    }
    return std::string(out);
}

bool PasswordHasher::verify(std::string_view stored_hash, std::string_view password) const {
    if (!ensure_sodium())
        return false;
    // libsodium wants a NUL-terminated string; the copy also bounds the length.
    if (stored_hash.empty() || stored_hash.size() >= crypto_pwhash_argon2id_STRBYTES)
        return false;
    const std::string terminated(stored_hash);
    // The generic verify also accepts argon2i hashes, so an old algorithm
    // still logs in and is then upgraded via needs_rehash().
    return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

bool PasswordHasher::needs_rehash(std::string_view stored_hash) const {
    if (!ensure_sodium())
        return false;
    if (stored_hash.empty() || stored_hash.size() >= crypto_pwhash_argon2id_STRBYTES)
        return true;
    const std::string terminated(stored_hash);
    // 0: same algorithm and parameters; 1: other parameters; -1: not argon2id.
    return crypto_pwhash_argon2id_str_needs_rehash(terminated.c_str(), opslimit_, memlimit_) != 0;
}

}  // namespace gamestore::store
