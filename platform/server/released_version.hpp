#pragma once
// Which version of a game a player gets, whether to download it or to open a
// room for it: the version asked for, else the live one; never a hidden one,
// never one of a delisted game. One rule, so a room is only ever made of what
// a player may download (docs/PROTOCOL.md, "Lobby operations").

#include <optional>
#include <string>

#include "platform/store/store.hpp"
#include "platform/store/types.hpp"

namespace gamestore::server {

// What the version is wanted for: only the refusal of a delisted game differs.
enum class VersionUse {
    Download,  // NOT_FOUND: a delisted game is gone from the store
    NewRoom,   // FORBIDDEN: the game is known (players may have it installed) but takes no rooms
};

struct ReleasedVersion {
    store::Game game;
    store::Version version;
};

// Blocking (SQLite): run it on the blocking pool. Refuses with a LobbyError:
// NOT_FOUND for an unknown game or version, a hidden version, or no live
// version when none was asked for; a delisted game as `use` says.
ReleasedVersion released_version(store::Store& store, const std::string& game_name,
                                 const std::optional<std::string>& wanted, VersionUse use);

}  // namespace gamestore::server
