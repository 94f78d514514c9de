#include "platform/server/request_args.hpp"

#include "platform/server/lobby_error.hpp"

namespace gamestore::server {

using protocol::ErrorCode;

namespace {
const nlohmann::json* find(const nlohmann::json& args, const char* name) {
    if (!args.is_object()) {
        return nullptr;
    }
    const auto it = args.find(name);
    if (it == args.end() || it->is_null()) {
        return nullptr;
    }
    return &*it;
}
}  // namespace

std::optional<std::string> optional_string(const nlohmann::json& args, const char* name, std::size_t max_bytes) {
    const auto* value = find(args, name);
    if (!value) {
        return std::nullopt;
    }
    if (!value->is_string()) {
        throw LobbyError(ErrorCode::BadRequest, std::string("'") + name + "' must be a string");
    }
    auto text = value->get<std::string>();
    if (text.size() > max_bytes) {
        throw LobbyError(ErrorCode::TooLarge, std::string("'") + name + "' is longer than " +
                                                  std::to_string(max_bytes) + " bytes");
    }
    return text;
}

std::string require_string(const nlohmann::json& args, const char* name, std::size_t max_bytes) {
    auto text = optional_string(args, name, max_bytes);
    if (!text) {
        throw LobbyError(ErrorCode::BadRequest, std::string("missing '") + name + "' (a string)");
    }
    return *text;
}

std::optional<std::int64_t> optional_int(const nlohmann::json& args, const char* name) {
    const auto* value = find(args, name);
    if (!value) {
        return std::nullopt;
    }
    if (!value->is_number_integer()) {
        throw LobbyError(ErrorCode::BadRequest, std::string("'") + name + "' must be an integer");
    }
    return value->get<std::int64_t>();
}

std::int64_t require_int(const nlohmann::json& args, const char* name) {
    auto number = optional_int(args, name);
    if (!number) {
        throw LobbyError(ErrorCode::BadRequest, std::string("missing '") + name + "' (an integer)");
    }
    return *number;
}

bool optional_bool(const nlohmann::json& args, const char* name, bool fallback) {
    const auto* value = find(args, name);
    if (!value) {
        return fallback;
    }
    if (!value->is_boolean()) {
        throw LobbyError(ErrorCode::BadRequest, std::string("'") + name + "' must be true or false");
    }
    return value->get<bool>();
}

}  // namespace gamestore::server
