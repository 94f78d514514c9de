#include "platform/store/types.hpp"

#include <array>
#include <chrono>
#include <utility>

#include "platform/store/result.hpp"

namespace gamestore::store {

namespace {

constexpr std::array<std::pair<MatchStatus, std::string_view>, 7> kMatchStatusNames = {{
    {MatchStatus::Open, "OPEN"},
    {MatchStatus::End, "END"},
    {MatchStatus::Error, "ERROR"},
    {MatchStatus::Aborted, "ABORTED"},
    {MatchStatus::Timeout, "TIMEOUT"},
    {MatchStatus::Crashed, "CRASHED"},
    {MatchStatus::LaunchFailed, "LAUNCH_FAILED"},
}};

}  // namespace

UnixMs unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string_view to_string(Role role) {
    return role == Role::Player ? "player" : "developer";
}

std::optional<Role> parse_role(std::string_view text) {
    if (text == "player")
        return Role::Player;
    if (text == "developer")
        return Role::Developer;
    return std::nullopt;
}

std::string_view to_string(GameType type) {
    return type == GameType::Cli ? "CLI" : "GUI";
}

std::optional<GameType> parse_game_type(std::string_view text) {
    if (text == "CLI")
        return GameType::Cli;
    if (text == "GUI")
        return GameType::Gui;
    return std::nullopt;
}

std::string_view to_string(MatchStatus status) {
    for (const auto& [value, name] : kMatchStatusNames) {
        if (value == status)
            return name;
    }
    return "OPEN";
}

std::optional<MatchStatus> parse_match_status(std::string_view text) {
    for (const auto& [value, name] : kMatchStatusNames) {
        if (name == text)
            return value;
    }
    return std::nullopt;
}

std::string_view to_string(StoreError::Code code) {
    switch (code) {
        case StoreError::Code::NotFound:
            return "NOT_FOUND";
        case StoreError::Code::Conflict:
            return "CONFLICT";
        case StoreError::Code::Forbidden:
            return "FORBIDDEN";
        case StoreError::Code::Invalid:
            return "INVALID";
        case StoreError::Code::Unauthenticated:
            return "UNAUTHENTICATED";
        case StoreError::Code::Internal:
            return "INTERNAL";
    }
    return "INTERNAL";
}

}  // namespace gamestore::store
