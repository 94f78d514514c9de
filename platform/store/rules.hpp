// Input rules the store enforces, exposed so clients can check input before
// a round trip. Each returns std::nullopt when the input is fine, else a
// sentence saying what to change.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace gamestore::store {

inline constexpr std::size_t kMinNameLength = 3;
inline constexpr std::size_t kMaxNameLength = 32;
inline constexpr std::size_t kMinPasswordBytes = 8;
inline constexpr std::size_t kMaxPasswordBytes = 128;
inline constexpr std::size_t kMaxGameNameBytes = 64;
inline constexpr std::size_t kMaxReviewCodePoints = 2000;
inline constexpr std::size_t kMaxNotesCodePoints = 4000;  // version notes and descriptions
inline constexpr int kMinRating = 1;
inline constexpr int kMaxRating = 5;

// 3..32 characters of [A-Za-z0-9_.-], starting with a letter or a digit.
std::optional<std::string> check_account_name(std::string_view name);
// 8..128 bytes, any content.
std::optional<std::string> check_password(std::string_view password);
// 1..64 bytes of UTF-8, no control characters, no leading or trailing space.
std::optional<std::string> check_game_name(std::string_view name);
// Valid UTF-8, at most 2000 code points, no control characters but newline and tab.
std::optional<std::string> check_review_text(std::string_view text);
// Valid UTF-8, at most 4000 code points, no control characters but newline and tab.
// `what` names the field in the sentence ("release notes", "the description").
std::optional<std::string> check_long_text(std::string_view text, std::string_view what);

// Number of code points if `text` is valid UTF-8 (no overlong forms, no
// surrogates, nothing above U+10FFFF), else std::nullopt.
std::optional<std::size_t> utf8_code_points(std::string_view text);

}  // namespace gamestore::store
