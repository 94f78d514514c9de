#include "platform/store/rules.hpp"

#include <fmt/core.h>

namespace gamestore::store {

namespace {

bool is_ascii_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Control characters would let stored text rewrite a player's terminal
// (ANSI escapes) when a CLI prints it.
bool has_forbidden_control(std::string_view text, bool allow_newline_tab) {
    for (const unsigned char c : text) {
        if (c == '\n' || c == '\t') {
            if (!allow_newline_tab)
                return true;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

std::optional<std::string> check_text(std::string_view text, std::string_view what,
                                      std::size_t max_code_points) {
    const auto count = utf8_code_points(text);
    if (!count)
        return fmt::format("{} must be valid UTF-8 text", what);
    if (*count > max_code_points) {
        return fmt::format("{} may be at most {} characters long (it has {})", what,
                           max_code_points, *count);
    }
    if (has_forbidden_control(text, true)) {
        return fmt::format("{} may not contain control characters other than newline and tab",
                           what);
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::size_t> utf8_code_points(std::string_view text) {
    std::size_t count = 0;
    std::size_t i = 0;
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    while (i < text.size()) {
        const unsigned char lead = byte(i);
        std::size_t length = 0;
        char32_t cp = 0;
        if (lead < 0x80) {
            length = 1;
            cp = lead;
        } else if (lead >= 0xc2 && lead <= 0xdf) {
            length = 2;
            cp = lead & 0x1f;
        } else if (lead >= 0xe0 && lead <= 0xef) {
            length = 3;
            cp = lead & 0x0f;
        } else if (lead >= 0xf0 && lead <= 0xf4) {
            length = 4;
            cp = lead & 0x07;
        } else {
            return std::nullopt;  // continuation byte as lead, or 0xc0/0xc1/0xf5+ (overlong/out of
                                  // range)
        }
        if (i + length > text.size())
            return std::nullopt;
        for (std::size_t k = 1; k < length; ++k) {
            const unsigned char next = byte(i + k);
            if ((next & 0xc0) != 0x80)
                return std::nullopt;
            cp = (cp << 6) | (next & 0x3f);
        }
        if ((length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000))
            return std::nullopt;
        if (cp >= 0xd800 && cp <= 0xdfff)
            return std::nullopt;  // UTF-16 surrogates
        if (cp > 0x10ffff)
            return std::nullopt;
        i += length;
        ++count;
    }
    return count;
}

std::optional<std::string> check_account_name(std::string_view name) {
    if (name.size() < kMinNameLength || name.size() > kMaxNameLength) {
        return fmt::format("a user name must be {} to {} characters long", kMinNameLength,
                           kMaxNameLength);
    }
    for (const unsigned char c : name) {
        if (!is_ascii_alnum(c) && c != '_' && c != '.' && c != '-') {
            return std::string("a user name may contain only letters, digits, '_', '.' and '-'");
        }
    }
    if (!is_ascii_alnum(static_cast<unsigned char>(name.front()))) {
        return std::string("a user name must start with a letter or a digit");
    }
    return std::nullopt;
}

std::optional<std::string> check_password(std::string_view password) {
    if (password.size() < kMinPasswordBytes) {
        return fmt::format("a password must be at least {} characters long", kMinPasswordBytes);
    }
    if (password.size() > kMaxPasswordBytes) {
        return fmt::format("a password may be at most {} bytes long", kMaxPasswordBytes);
    }
    return std::nullopt;
}

std::optional<std::string> check_game_name(std::string_view name) {
    if (name.empty())
        return std::string("a game name may not be empty");
    if (name.size() > kMaxGameNameBytes) {
        return fmt::format("a game name may be at most {} bytes long", kMaxGameNameBytes);
    }
    if (!utf8_code_points(name))
        return std::string("a game name must be valid UTF-8 text");
    if (has_forbidden_control(name, false)) {
        return std::string("a game name may not contain control characters");
    }
    if (name.front() == ' ' || name.back() == ' ') {
        return std::string("a game name may not start or end with a space");
    }
    return std::nullopt;
}

std::optional<std::string> check_review_text(std::string_view text) {
    return check_text(text, "a review", kMaxReviewCodePoints);
}

std::optional<std::string> check_long_text(std::string_view text, std::string_view what) {
    return check_text(text, what, kMaxNotesCodePoints);
}

}  // namespace gamestore::store
