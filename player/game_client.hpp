#pragma once
// The player's side of a match (docs/MANIFEST.md for the launch, docs/CLI.md for play): launch the
// installed game client for an IN_GAME room with the one launcher
// (platform/launch/process_launcher.hpp) and watch it alongside the lobby
// connection until the client has exited and the platform announced the
// match's end.
//
// Launch rules:
// - argv/env/cwd come from render_client_launch of the INSTALLED package's
//   manifest; the environment is base_environment() (PATH, HOME, LANG, TERM
//   ...) plus GAMESTORE_BOT / GAMESTORE_BOT_SEED when the player set them,
//   plus the rendered variables;
// - the client token lives in <player dir>/matches/<match_id>/client_token
//   (dir 0700, file 0600) and reaches the client as CLIENT_TOKEN(_PATH),
//   never in argv; the directory is removed when the match is over;
// - CLI games get the terminal (stdin/stdout/stderr, the player's process
//   group) and gamestore-player ignores SIGINT/SIGQUIT while they run, like a
//   shell; GUI games run in their own process group with stdin from
//   /dev/null and their output in the match directory's client.log, with
//   GAMESTORE_WINDOW_TITLE proposing "<game> - <player>" as their window's
//   title (the one gamestore-player names when it says the game is playing
//   in a window).

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "platform/protocol/lobby.hpp"

namespace gamestore::cli {
class ToolSession;
}  // namespace gamestore::cli

namespace gamestore::cli::player {

struct InstalledGame;

// The installed package of `game` at exactly `version`, installing (or
// replacing the installed version with) it first when needed.
InstalledGame ensure_installed_version(ToolSession& session, const std::string& game,
                                       const std::string& version);

struct MatchRunOptions {
    // --json: stdout must carry only the final JSON object, so a CLI game's
    // output (and ours) goes to stderr.
    bool json = false;
    // The whole flow's deadline.
    std::chrono::steady_clock::time_point deadline;
    // How long a client may keep running once the match has ended.
    std::chrono::milliseconds client_linger{10'000};
    // How long a dropped lobby connection is tried again mid-match; 0: not
    // at all (the menus hold the connection and watch it themselves).
    std::chrono::milliseconds reconnect_window{0};
};

struct MatchRun {
    std::int64_t room_id = 0;
    std::string match_id;
    std::string game;
    std::string version;
    // match.ended's data ({room_id, match_id, status, reason, results}), when it came.
    std::optional<nlohmann::json> ended;
    bool client_launched = false;
    std::optional<int>
        client_exit_code;        // the client's exit code (negative: killed by that signal)
    std::string client_problem;  // why the client failed, a sentence; "" when it did not
    bool timed_out = false;      // the flow's deadline passed first
    bool connection_lost = false;
    bool out_of_room = false;  // ... and the player was no longer in the room
    int stop_signal = 0;       // SIGTERM/SIGHUP/SIGINT stopped the run (stop_signals.hpp)
};

// Runs the match of `room` (a room.updated snapshot in IN_GAME carrying
// `launch`): launches the client, then waits (bounded by options.deadline)
// for the client to exit and for match.ended. Every other event is handed to
// `on_event`. A client that cannot start or fails early is reported in the
// result; the player stays in the room either way.
MatchRun run_match(ToolSession& session, const nlohmann::json& room, const MatchRunOptions& options,
                   const std::function<void(const protocol::Event&)>& on_event);

// The exit code of a finished match for gamestore-player (0: END and the
// client exited 0; 1: anything else; 3: the connection was lost).
int match_exit_code(const MatchRun& run);

// Prints the result: status, reason and per-player results with the player
// highlighted; or, with `json`, one JSON object.
void print_match_result(const MatchRun& run, const std::string& player, bool json,
                        std::ostream& out);

// The same object print_match_result prints with `json`.
nlohmann::json match_result_json(const MatchRun& run, const std::string& player);

}  // namespace gamestore::cli::player
