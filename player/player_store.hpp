#pragma once
// The store half of gamestore-player: browsing, installs and updates, and
// reviews. Each function prints its result (JSON with `json`) and returns
// the exit code, or throws CliFailure with a sentence. The menus call the
// same functions.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "player/installer.hpp"

namespace gamestore::cli {
class ToolSession;
}  // namespace gamestore::cli

namespace gamestore::cli::player {

// The signed-in player's installed games (<home>/player/<user>).
GameLibrary installed_games(ToolSession& session);

// Every listed game of the store, following store.list's pages.
nlohmann::json list_store_games(ToolSession& session);
int store_list(ToolSession& session, bool json);
int store_show(ToolSession& session, const std::string& game, bool json);
int install_game(ToolSession& session, const std::string& game,
                 const std::optional<std::string>& version);
// Every installed game when `game` is empty.
int update_games(ToolSession& session, const std::optional<std::string>& game);
int list_installed(ToolSession& session, bool json);
int uninstall_game(ToolSession& session, const std::string& game);
int post_review(ToolSession& session, const std::string& game, int rating, const std::string& text);
int delete_review(ToolSession& session, const std::string& game);

// How an installed game relates to the store's live version.
struct InstallStatus {
    std::string code;  // up_to_date | update_available | rollback_available | delisted | unknown
    std::string text;  // "update available: 1.1.0"
    std::optional<nlohmann::json> live;  // the live Version object when known
};
InstallStatus install_status(ToolSession& session, const InstalledGame& installed);

}  // namespace gamestore::cli::player
