#include "platform/server/released_version.hpp"

#include "platform/server/lobby_error.hpp"
#include "platform/server/store_views.hpp"

namespace gamestore::server {

using protocol::ErrorCode;

ReleasedVersion released_version(store::Store& store, const std::string& game_name,
                                 const std::optional<std::string>& wanted, VersionUse use) {
    auto game = unwrap(store.find_game(game_name));
    if (game.delisted) {
        if (use == VersionUse::Download) {
            throw LobbyError(ErrorCode::NotFound,
                             "the game '" + game.name + "' has been delisted by its developer");
        }
        throw LobbyError(ErrorCode::Forbidden,
                         "'" + game.name + "' has been delisted; it accepts no new rooms");
    }
    if (!wanted && !game.live_version) {
        throw LobbyError(ErrorCode::NotFound,
                         "the game '" + game.name + "' has no live version yet");
    }
    auto version = unwrap(store.get_version(game.id, wanted ? *wanted : *game.live_version));
    if (version.hidden) {
        throw LobbyError(ErrorCode::NotFound,
                         "version " + version.version + " of '" + game.name + "' is not released");
    }
    return {std::move(game), std::move(version)};
}

}  // namespace gamestore::server
