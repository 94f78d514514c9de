#pragma once
// A gamestore-sim scenario (docs/SIM.md): what server to run, which fake game
// packages with which fault mix, how many developers / players / rooms and
// rounds, how players arrive, what abuse traffic and server kills to inject,
// and what the run must show. Loaded from TOML; every problem is reported with
// its key path and what is wrong.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace gamestore::sim {

// [server]: settings of the gamestore-server the sim starts.
struct ServerSettings {
    double startup_timeout_sec = 3;        // --startup-timeout
    double stop_grace_sec = 1;             // --stop-grace
    double end_grace_sec = 2;              // --end-grace
    double heartbeat_warn_factor = 3;      // --heartbeat-warn-factor
    double heartbeat_kill_factor = 5;      // --heartbeat-kill-factor
    double report_rate = 50;               // --report-rate (messages/s per connection)
    double auth_deadline_sec = 10;         // --auth-deadline
    std::uint64_t match_log_cap = 1 << 20; // --match-log-cap (bytes)
    int game_port_count =
        200;  // size of the --game-ports range the sim picks (split between nodes)
    // Cluster nodes (docs/SCALING.md) on one PostgreSQL database (needs
    // gamestore-sim --postgres); 1: a single server.
    int nodes = 1;
    std::vector<std::string> extra_args;   // appended verbatim (e.g. a debug fault flag)
};

// [[games]]: one fakegame fault profile in the mix.
struct GameMix {
    std::string profile;               // fakegame profile = package dir name
    double weight = 1;                 // relative frequency among rounds
    std::vector<std::string> expect;   // acceptable match.ended statuses (END, ERROR, CRASHED, TIMEOUT, ...)
    int min_members = 1;               // room size bounds for this game
    int max_members = 3;
    // How long each player's fakegame client thinks before its move
    // (FAKEGAME_THINK_MS): long enough, mid-match faults get to happen.
    int think_ms = 0;
    // When set, every member leaves the room this long after IN_GAME (the
    // "everyone left" exit path: the match is aborted and the room deleted
    // once its processes are stopped). Expect ABORTED. -1: never.
    int abandon_after_ms = -1;
};

enum class Arrival { Burst, Uniform, Poisson };

// [workload]
struct Workload {
    int developers = 1;
    int players = 4;                 // players in rooms + browsing-only players
    int rooms = 2;                   // concurrent room drivers
    int rounds = 2;                  // matches per room driver
    Arrival arrival = Arrival::Burst;
    double arrival_window_sec = 1;   // players arrive within this window (Uniform/Poisson)
    double review_probability = 0.5; // a member of an ended match posts a review
    double browse_interval_sec = 1;  // idle players browse this often
    double match_timeout_sec = 60;   // longest a round may wait for its match to end
};

// [abuse]: hostile traffic during [start_sec, start_sec + duration_sec).
struct Abuse {
    double start_sec = 0;
    double duration_sec = 0;          // 0: no abuse window
    int lobby_flood_connections = 0;  // each sends pings as fast as it can
    int lobby_oversized_lines = 0;    // connections sending one line over the limit
    int lobby_slowloris = 0;          // connections dribbling bytes, never a newline
    int lobby_malformed_lines = 0;    // malformed JSON lines on one connection
    int report_flood_connections = 0; // control-plane floods with bogus reports
    int report_oversized_lines = 0;
    int report_slowloris = 0;
    int report_malformed_lines = 0;
    int forged_reports = 0;           // forged/stale reports aimed at live matches (I4)
};

// [[kills]]: a server `kill -9` + restart.
struct KillPoint {
    std::optional<double> at_sec;            // this long after the run started ...
    std::optional<int> after_matches;        // ... or once this many matches have ended
    int node = 0;                            // which cluster node (0-based)
};

// [expect]
struct Expectations {
    double ping_p99_ms = 250;      // I6 bound during abuse
    int min_matches = 1;           // matches that must have ended
    std::vector<std::string> invariants;  // checked; empty: all of I1..I9
    std::vector<std::string> broken;      // invariants this scenario expects to break (checker proofs)
};

struct Scenario {
    std::string name;
    std::string description;
    std::filesystem::path file;
    double time_limit_sec = 240;   // the whole scenario's deadline
    ServerSettings server;
    Workload workload;
    std::vector<GameMix> games;
    Abuse abuse;
    std::vector<KillPoint> kills;
    Expectations expect;
};

// The invariants of docs/SIM.md, in order.
const std::vector<std::string>& invariant_names();
// One line saying what an invariant means (for tables and JUnit).
std::string invariant_summary(const std::string& name);

// Parses a scenario; throws ScenarioError listing every problem found.
Scenario parse_scenario(const std::string& toml_text, const std::filesystem::path& file);
Scenario load_scenario(const std::filesystem::path& file);

struct ScenarioError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace gamestore::sim
