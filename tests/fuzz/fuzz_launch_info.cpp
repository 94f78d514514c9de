// Fuzzing the player's reading of a room's launch information, which comes
// from the lobby server over the network. The input is the room snapshot as
// JSON (its "launch" object, or the whole document when it has none, is the
// launch). Anything either becomes a context whose fields hold what
// launch_info.hpp promises, or is refused with a LaunchInfoError naming the
// field; no other exception escapes.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "platform/packages/launch_info.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace gamestore::packages;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const nlohmann::json room = nlohmann::json::parse(input, nullptr, false);
    if (room.is_discarded()) {
        return 0;
    }
    const nlohmann::json& launch =
        room.is_object() && room.contains("launch") ? room.at("launch") : room;
    const std::filesystem::path match_dir = "/run/gamestore/matches/m-1";

    LaunchContext context;
    try {
        context = client_context_from_launch(launch, room, "bob", match_dir);
    } catch (const LaunchInfoError& error) {
        const std::string_view message = error.what();
        FUZZ_CHECK(message.find("the launch information") == 0);
        FUZZ_CHECK(message.find('\'') != std::string_view::npos);
        return 0;
    }
    FUZZ_CHECK(launch.is_object());
    FUZZ_CHECK(context.room_id >= 0);
    FUZZ_CHECK(context.room_id == launch.at("room_id").get<std::int64_t>());
    FUZZ_CHECK(context.port >= 1);
    FUZZ_CHECK(context.port == launch.at("port").get<std::int64_t>());
    FUZZ_CHECK(!context.match_id.empty() && context.match_id == launch.at("match_id"));
    FUZZ_CHECK(!context.host.empty() && context.host == launch.at("host"));
    FUZZ_CHECK(!context.client_token.empty() && context.client_token == launch.at("client_token"));
    FUZZ_CHECK(context.player_name == "bob");
    FUZZ_CHECK(context.match_dir == match_dir);
    FUZZ_CHECK(context.client_token_path == match_dir / "client_token");
    // Seats come from the room's members, one per member, whatever their shape.
    const bool has_members =
        room.is_object() && room.contains("members") && room.at("members").is_array();
    FUZZ_CHECK(context.players.size() == (has_members ? room.at("members").size() : 0));
    // The context renders the client's values without throwing.
    const PlaceholderValues values = context.placeholders(64);
    FUZZ_CHECK(values.at("client_token") == context.client_token);
    FUZZ_CHECK(nlohmann::json::parse(context.players_json()).size() == context.players.size());
    return 0;
}
