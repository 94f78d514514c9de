#include "platform/server/json_log.hpp"

#include <cctype>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace gamestore::server {

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

// "room 12:" (or "room 12 ") anywhere in the message, as the room and
// match code write it.
std::optional<long long> room_id_in(std::string_view text) {
    for (auto at = text.find("room "); at != std::string_view::npos;
         at = text.find("room ", at + 1)) {
        if (at > 0 && text[at - 1] != ' ' && text[at - 1] != '(') {
            continue;
        }
        std::size_t end = at + 5;
        while (end < text.size() && is_digit(text[end]) && end - at < 24) {
            ++end;
        }
        if (end > at + 5) {
            return std::stoll(std::string(text.substr(at + 5, end - at - 5)));
        }
    }
    return std::nullopt;
}

std::optional<std::string> match_id_in(std::string_view text) {
    for (auto at = text.find("m-"); at != std::string_view::npos; at = text.find("m-", at + 1)) {
        if (at > 0 && (std::isalnum(static_cast<unsigned char>(text[at - 1])) != 0 ||
                       text[at - 1] == '-' || text[at - 1] == '_')) {
            continue;
        }
        std::size_t end = at + 2;
        while (end < text.size() && is_hex(text[end])) {
            ++end;
        }
        if (end - at - 2 >= 8) {
            return std::string(text.substr(at, end - at));
        }
    }
    return std::nullopt;
}

}  // namespace

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t t = static_cast<std::time_t>(seconds.count());
    std::tm utc{};
    ::gmtime_r(&t, &utc);
    const std::string_view text(msg.payload.data(), msg.payload.size());
    const auto level = spdlog::level::to_string_view(msg.level);

    nlohmann::json line = {
        {"time",
         fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis)},
        {"level", std::string(level.data(), level.size())},
        {"message", std::string(text)},
    };
    if (const auto room = room_id_in(text)) {
        line["room_id"] = *room;
    }
    if (auto match = match_id_in(text)) {
        line["match_id"] = std::move(*match);
    }
    // Invalid UTF-8 (a game's name, a peer's bytes) is replaced, never thrown.
    const auto rendered = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(rendered.data(), rendered.data() + rendered.size());
    dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
    return std::make_unique<JsonLogFormatter>();
}

}  // namespace gamestore::server
