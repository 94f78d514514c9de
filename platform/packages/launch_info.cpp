#include "platform/packages/launch_info.hpp"

#include <nlohmann/json.hpp>

namespace gamestore::packages {

namespace {

const nlohmann::json& field(const nlohmann::json& launch, const char* name) {
    if (!launch.is_object() || !launch.contains(name)) {
        throw LaunchInfoError(std::string("the launch information has no '") + name + "'");
    }
    return launch.at(name);
}

std::string text_field(const nlohmann::json& launch, const char* name) {
    const auto& value = field(launch, name);
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        throw LaunchInfoError(std::string("the launch information's '") + name + "' is not a non-empty string");
    }
    return value.get<std::string>();
}

std::int64_t integer_field(const nlohmann::json& launch, const char* name, std::int64_t min, std::int64_t max) {
    const auto& value = field(launch, name);
    if (!value.is_number_integer() || value.get<std::int64_t>() < min || value.get<std::int64_t>() > max) {
        throw LaunchInfoError(std::string("the launch information's '") + name + "' is not an integer from " +
                              std::to_string(min) + " to " + std::to_string(max));
    }
    return value.get<std::int64_t>();
}

}  // namespace

LaunchContext client_context_from_launch(const nlohmann::json& launch, const nlohmann::json& room,
                                         const std::string& player_name, const std::filesystem::path& match_dir) {
    LaunchContext context;
    context.room_id = integer_field(launch, "room_id", 0, INT64_MAX);
    context.match_id = text_field(launch, "match_id");
    context.host = text_field(launch, "host");
    context.port = static_cast<std::uint16_t>(integer_field(launch, "port", 1, 65535));
    context.client_token = text_field(launch, "client_token");
    context.player_name = player_name;
    context.match_dir = match_dir;
    context.client_token_path = match_dir / "client_token";
    if (room.is_object() && room.contains("members") && room.at("members").is_array()) {
        for (const auto& member : room.at("members")) {
            const auto name = member.is_object() ? member.value("name", nlohmann::json()) : nlohmann::json();
            context.players.push_back(name.is_string() ? name.get<std::string>() : std::string());
        }
    }
    return context;
}

}  // namespace gamestore::packages
