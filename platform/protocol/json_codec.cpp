#include "platform/protocol/json_codec.hpp"

#include <charconv>
#include <limits>

namespace gamestore::protocol {

namespace {

// Nesting depth of the text, ignoring brackets inside strings. Exact for
// valid JSON; for invalid JSON it only decides whether we bother parsing.
bool nesting_exceeds(std::string_view text, std::size_t limit) {
    std::size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        switch (c) {
            case '"':
                in_string = true;
                break;
            case '[':
            case '{':
                if (++depth > limit) {
                    return true;
                }
                break;
            case ']':
            case '}':
                if (depth > 0) {
                    --depth;
                }
                break;
            default:
                break;
        }
    }
    return false;
}

}  // namespace

std::optional<nlohmann::json> parse_json_text(std::string_view text, std::string& error) {
    if (nesting_exceeds(text, kMaxJsonDepth)) {
        error = "nests arrays/objects deeper than " + std::to_string(kMaxJsonDepth) + " levels";
        return std::nullopt;
    }
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
            error = "is empty";
        } else if (e.byte > text.size()) {
            error = "is not valid JSON (it ends before the value is complete)";
        } else {
            // e.byte is 1-based: the first byte the parser could not accept.
            error = "is not valid JSON (syntax error at byte " + std::to_string(e.byte) + ")";
        }
    } catch (const nlohmann::json::exception&) {
        // out_of_range 406: a number literal beyond what a double can hold.
        error = "is not valid JSON (a number is out of range)";
    }
    return std::nullopt;
}

std::string dump_json(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string_view json_type_name(const nlohmann::json& value) {
    switch (value.type()) {
        case nlohmann::json::value_t::null:
            return "null";
        case nlohmann::json::value_t::boolean:
            return "boolean";
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned:
            return "integer";
        case nlohmann::json::value_t::number_float:
            return "number";
        case nlohmann::json::value_t::string:
            return "string";
        case nlohmann::json::value_t::array:
            return "array";
        case nlohmann::json::value_t::object:
            return "object";
        case nlohmann::json::value_t::binary:
            return "binary";
        case nlohmann::json::value_t::discarded:
            return "discarded";
    }
    return "unknown";
}

std::optional<std::int64_t> json_to_int64(const nlohmann::json& value) {
    if (value.is_number_unsigned()) {
        const auto u = value.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return std::nullopt;
        }
        return static_cast<std::int64_t>(u);
    }
    if (value.is_number_integer()) {
        return value.get<std::int64_t>();
    }
    return std::nullopt;
}

std::optional<std::int64_t> decimal_digits_to_int64(std::string_view text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

JsonLineWriter& JsonLineWriter::field(std::string_view key, const nlohmann::json& value) {
    if (text_.size() > 1) {
        text_ += ',';
    }
    text_ += dump_json(nlohmann::json(key));
    text_ += ':';
    text_ += dump_json(value);
    return *this;
}

std::string JsonLineWriter::finish() {
    std::string line = std::move(text_);
    line += "}\n";
    text_ = "{";
    return line;
}

}  // namespace gamestore::protocol
