#pragma once
// gamestore-player without a command: numbered menus (docs/CLI.md). The top
// level is a list of MenuEntry built by player_main_menu(), so another area
// (rooms) is one more entry there.

#include <vector>

#include "platform/cli/console.hpp"

namespace gamestore::cli {
class ToolSession;
}  // namespace gamestore::cli

namespace gamestore::cli::player {

// Signs in (offering to create the account first when nothing is saved),
// then runs the main menu until Quit, sign-out or end of input.
int run_player_menu(ToolSession& session);

// The main menu's entries (at most 5).
std::vector<MenuEntry> player_main_menu(ToolSession& session);

// Sub-menus, usable from other areas (e.g. a room's game details).
MenuStep browse_store_menu(ToolSession& session);
MenuStep installed_games_menu(ToolSession& session);

}  // namespace gamestore::cli::player
