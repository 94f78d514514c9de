#pragma once
// One row of a cluster node's part of the shared lobby (docs/SCALING.md),
// as the nodes exchange them: "room:ID" or "player:NAME", and its JSON
// (RoomPublic, PlayerRow), or nullopt for a removal.

#include <optional>
#include <string>

namespace gamestore::server {

struct LobbyItem {
    std::string item;
    std::optional<std::string> row_json;
};

}  // namespace gamestore::server
