// Password hashing with argon2id (libsodium crypto_pwhash). The hash string
// carries its own salt and parameters, so verification needs no settings and
// needs_rehash() tells when a stored hash was made with other costs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "platform/store/result.hpp"

namespace gamestore::store {

// Calls sodium_init() once per process; false if libsodium cannot start
// (no entropy source). Safe to call from any thread, any number of times.
bool ensure_sodium();

class PasswordHasher {
  public:
    enum class Strength {
        Interactive,   // OPSLIMIT/MEMLIMIT_INTERACTIVE: 2 passes, 64 MiB (above the OWASP floor)
        FastForTests,  // OPSLIMIT/MEMLIMIT_MIN: 1 pass, 8 KiB. Never for real accounts.
    };

    // The production setting.
    static PasswordHasher interactive();
    // Opt-in only: makes test suites fast and passwords cheap to brute force.
    // Whoever enables it must log that it is on.
    static PasswordHasher fast_for_tests();

    Strength strength() const noexcept { return strength_; }
    bool is_fast_for_tests() const noexcept { return strength_ == Strength::FastForTests; }

    // A "$argon2id$..." string. Internal only when libsodium fails (out of memory).
    Result<std::string> hash(std::string_view password) const;
    // Constant-time with respect to the password; false for a malformed hash.
    bool verify(std::string_view stored_hash, std::string_view password) const;
    // True when the hash was made with other parameters (or another algorithm)
    // than this hasher's, i.e. it should be replaced after a successful verify.
    bool needs_rehash(std::string_view stored_hash) const;

  private:
    PasswordHasher(Strength strength, unsigned long long opslimit, std::size_t memlimit);
    Strength strength_;
    unsigned long long opslimit_;
    std::size_t memlimit_;
};

}  // namespace gamestore::store
