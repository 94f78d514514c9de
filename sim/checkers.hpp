#pragma once
// The invariant checkers of docs/SIM.md (I1..I9). The runner feeds them what
// it observes as it happens (every event and room view a simulated player
// receives, every client it launches, every token it learns) and calls the
// after-the-run checks; each check counts, each violation is kept with a
// sentence naming the room, match, player, process or file concerned.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/results.hpp"

namespace gamestore::sim {

enum class Inv { I1, I2, I3, I4, I5, I6, I7, I8, I9 };

class Checkers {
public:
    using Clock = std::chrono::steady_clock;
    explicit Checkers(Clock::time_point t0) : t0_(t0) {}

    void check(Inv inv, std::uint64_t times = 1);
    void violate(Inv inv, std::string message);

    // Every room view a player receives (room.updated events and room.*
    // responses): I2 (launch details exactly when IN_GAME), I3 (the first
    // WAITING after a match has every ready flag cleared), and the IN_GAME
    // sightings I1 needs.
    void on_room_view(const std::string& player, const nlohmann::json& room);
    // Any other payload a player receives (lobby deltas, room.list, store
    // pages): no token may appear in it (I2).
    void on_public_payload(const std::string& player, const nlohmann::json& payload, const std::string& what);
    // match.ended: exactly one per match per member (I8).
    void on_match_ended(const std::string& player, const nlohmann::json& ended);

    // I1: a client is launched for `player` with `launch`; it must follow an
    // IN_GAME sighting of that match with the same port and token.
    void on_client_launch(const std::string& player, const nlohmann::json& launch);
    // I1: what the fakegame client printed; "connect_failed" means the game
    // server was not accepting when the platform said IN_GAME.
    void on_client_result(const std::string& player, const std::string& match_id, const nlohmann::json& result);

    // I8 at the end: each member still connected saw exactly one match.ended.
    void expect_one_end(const std::string& match_id, const std::vector<std::string>& players);
    std::uint64_t ends_seen(const std::string& match_id, const std::string& player) const;

    // I9: secrets (client/report/session tokens) to look for.
    void add_secret(const std::string& secret, const std::string& what);
    void retire_secret(const std::string& secret);  // its match is over: no more argv scans for it
    // Every process's argv against the live secrets.
    void scan_argv();
    // Every file against every secret ever learnt (full-token match only).
    void scan_files(const std::vector<std::filesystem::path>& files);

    std::vector<InvariantResult> results(const std::vector<std::string>& checked,
                                         const std::vector<std::string>& expected_broken) const;

private:
    double now_ms() const;
    struct RoomTrack {
        bool in_match = false;       // saw STARTING/IN_GAME/ENDING since the last WAITING
        std::string match_id;
    };
    Clock::time_point t0_;
    std::array<InvariantResult, 9> inv_{};
    std::map<std::pair<std::string, std::int64_t>, RoomTrack> rooms_;  // (player, room_id)
    // (player, match_id) -> the launch object seen with IN_GAME
    std::map<std::pair<std::string, std::string>, nlohmann::json> in_game_seen_;
    std::map<std::pair<std::string, std::string>, int> ends_;  // (match_id, player) -> match.ended count
    std::map<std::string, std::string> live_secrets_;   // secret -> what
    std::map<std::string, std::string> all_secrets_;
};

const char* inv_name(Inv inv);

}  // namespace gamestore::sim
