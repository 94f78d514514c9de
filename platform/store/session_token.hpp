// Session tokens: 256 random bits as 64 lower-case hex characters. Only a
// SHA-256 of the token is stored: a leaked database does not let anyone
// resume a session, and a fast hash is enough because the token has 256 bits
// of entropy (nothing to brute force, unlike a password). Log tokens only
// through protocol::redact_token.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace gamestore::store {

inline constexpr std::size_t kSessionTokenHexChars = 64;

// std::nullopt only when libsodium cannot initialise.
std::optional<std::string> generate_session_token();
bool is_well_formed_session_token(std::string_view token);
std::array<unsigned char, 32> hash_session_token(std::string_view token);

}  // namespace gamestore::store
