#pragma once
// The client side of a launch: what a player's launcher knows once its room
// is IN_GAME (the room's `launch` object and its members), turned into the
// context the manifest's client command is rendered with. One reading of the
// wire shape for gamestore-player, the sim and the tests.

#include <filesystem>
#include <stdexcept>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "platform/packages/command_template.hpp"

namespace gamestore::packages {

// The launch object lacks a field or has one of the wrong type; what()
// names it.
class LaunchInfoError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// `launch` = {room_id, match_id, host, port, client_token, ...} (unknown
// fields ignored); `room` = the room snapshot whose `members[].name` give the
// seat order (may be null). Sets client_token_path = match_dir/"client_token"
// but writes nothing: the caller creates match_dir (0700) and the token file
// (0600) before spawning.
LaunchContext client_context_from_launch(const nlohmann::json& launch, const nlohmann::json& room,
                                         const std::string& player_name, const std::filesystem::path& match_dir);

}  // namespace gamestore::packages
