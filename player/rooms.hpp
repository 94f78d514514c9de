#pragma once
// The lobby half of gamestore-player (docs/CLI.md): listing rooms
// and online players, following one's room through pushed events, and
// `play`, the scriptable whole flow (install -> room -> ready -> start ->
// launch the client on IN_GAME -> result). The room menu uses the same
// pieces.

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "platform/protocol/lobby.hpp"

namespace gamestore::cli {
class ToolSession;
}  // namespace gamestore::cli

namespace gamestore::cli::player {

int list_rooms(ToolSession& session, bool json);
int list_players(ToolSession& session, bool json);

struct PlayOptions {
    std::string game;
    bool new_room = false;              // --new-room
    std::optional<std::int64_t> join;   // --join ID
    std::optional<int> start_at;        // --start-at N (default: the room's min_players)
    bool json = false;                  // --json
    std::chrono::seconds timeout{600};  // --timeout SEC, for the whole flow
};

// The whole flow; returns the exit code (0: the match ended with END and the
// client exited 0; 1: it ended otherwise, or the server refused; 2 local
// error; 3 unreachable).
int play_game(ToolSession& session, const PlayOptions& options);

// "Room 3: Connect Four 1.0.0, WAITING, host alice; alice (ready), bob" —
// one line for listings and event echoes.
std::string describe_room(const nlohmann::json& room);
// How many members are ready.
int ready_count(const nlohmann::json& room);
bool is_host(const nlohmann::json& room, const std::string& user);
std::int64_t room_id_of(const nlohmann::json& room);

// Prints a pushed event for the player watching their room: room changes
// (only when the description changed since `last_description`), chat, the
// match's end. The lobby deltas are ignored here.
void print_room_event(const protocol::Event& event, std::string& last_description);

}  // namespace gamestore::cli::player
