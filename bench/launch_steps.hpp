#pragma once
// The launch measurement that bench_launch_latency and bench_cluster share:
// a room of signed-in players, each following its own room.updated pushes,
// started again and again, timed from the host's room.start until every
// member holds IN_GAME with launch info (docs/BENCHMARKS.md).

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_common.hpp"
#include "platform/client/lobby_client.hpp"

namespace gamestore::bench {

// Follows one player's room: the next room.updated in `wanted` state, or the
// match ending before it got there, wakes `signal`.
struct RoomWatcher {
    std::string wanted;
    std::unique_ptr<boost::asio::steady_timer> signal;
    nlohmann::json last = nlohmann::json::object();
    std::string ended_match;  // match_id of the last match.ended seen

    void attach(client::LobbyClient& client);
};

// Waits until `watcher` holds IN_GAME for `match_id` (true), or the match
// ended first or `deadline` passed (false).
boost::asio::awaitable<bool> wait_in_game(RoomWatcher& watcher, const std::string& match_id,
                                          std::chrono::steady_clock::time_point deadline);

// Zips a copy of a fakegame profile's package published as `title`, playable
// alone (min_players 1).
std::filesystem::path one_player_copy(const std::filesystem::path& package_dir,
                                      const std::filesystem::path& work, const std::string& title,
                                      const std::string& slug);

// A signed-in player and the watcher of its room.
struct LaunchSeat {
    std::shared_ptr<client::LobbyClient> client;
    RoomWatcher watcher;
};

// Signs in `name` on `server` with a watcher on `io`'s clock.
boost::asio::awaitable<std::unique_ptr<LaunchSeat>> launch_seat(boost::asio::io_context& io,
                                                                const BenchServer& server,
                                                                const std::string& name);

struct LaunchSamples {
    std::vector<double> ms;  // room.start -> every member IN_GAME, per match
    int failed = 0;          // matches that ended first or took over 30 s
};

// `matches` times: seats[0] creates a room of `game`, the others join,
// everyone readies, seats[0] starts it (the clock starts here) and every
// member waits for IN_GAME; then everyone leaves, which aborts the match (no
// game client ever connects). Appends to `out`.
boost::asio::awaitable<void> launch_rounds(std::vector<std::unique_ptr<LaunchSeat>>& seats,
                                           std::string game, int matches, LaunchSamples& out);

}  // namespace gamestore::bench
