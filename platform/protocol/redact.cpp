#include "platform/protocol/redact.hpp"

#include <algorithm>

namespace gamestore::protocol {

namespace {

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026
constexpr std::size_t kTokenPrefix = 6;

// Length of the valid UTF-8 sequence starting at text[i], or 0 if invalid
// (overlong forms, surrogates and values above U+10FFFF count as invalid).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    unsigned char min_second = 0x80;
    unsigned char max_second = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) {
            min_second = 0xA0;
        } else if (lead == 0xED) {
            max_second = 0x9F;
        }
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) {
            min_second = 0x90;
        } else if (lead == 0xF4) {
            max_second = 0x8F;
        }
    } else {
        return 0;
    }
    if (i + length > text.size()) {
        return 0;
    }
    if (byte(i + 1) < min_second || byte(i + 1) > max_second) {
        return 0;
    }
    for (std::size_t k = 2; k < length; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) {
            return 0;
        }
    }
    return length;
}

bool printable_ascii(unsigned char c) {
    return c >= 0x20 && c < 0x7F;
}

}  // namespace

std::string redact_token(std::string_view token) {
    if (token.empty()) {
        return "(empty)";
    }
    const std::size_t shown = std::min(kTokenPrefix, token.size() / 2);
    std::string out;
    out.reserve(shown + kEllipsis.size());
    for (std::size_t i = 0; i < shown; ++i) {
        const auto c = static_cast<unsigned char>(token[i]);
        out += printable_ascii(c) ? static_cast<char>(c) : '?';
    }
    out += kEllipsis;
    return out;
}

std::string printable(std::string_view text, std::size_t max_bytes) {
    std::string out;
    out.reserve(std::min(text.size(), max_bytes) + kEllipsis.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t length = 1;
        if (c >= 0x80) {
            length = utf8_sequence_length(text, i);
        }
        const std::size_t emitted = length == 0 ? 1 : length;
        if (out.size() + emitted > max_bytes) {
            out += kEllipsis;
            return out;
        }
        if (length == 0 || (length == 1 && !printable_ascii(c))) {
            out += '?';
        } else {
            out.append(text.substr(i, length));
        }
        i += emitted;
    }
    return out;
}

}  // namespace gamestore::protocol
