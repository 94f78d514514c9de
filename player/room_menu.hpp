#pragma once
// The lobby and room screens of gamestore-player's menus (docs/CLI.md).
//
// Rooms: list the rooms and join one / create a room for an installed game /
// join a room by id / players online / back. Inside a room: ready or not /
// start (host) / chat / show the room / leave. While a screen waits for
// input, room changes, chat and the match's start appear; on IN_GAME the
// game client launches exactly as `play` launches it, and afterwards the
// player is back on the room screen.

#include "platform/cli/console.hpp"

namespace gamestore::cli {
class ToolSession;
}  // namespace gamestore::cli

namespace gamestore::cli::player {

MenuStep rooms_menu(ToolSession& session);

}  // namespace gamestore::cli::player
