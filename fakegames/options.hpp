#pragma once
// Command-line options of `fakegame server` and `fakegame client`. Every
// fault is off by default: without flags fakegame is a well-behaved game.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace gamestore::fakegames {

using std::chrono::milliseconds;

// Faults that probe the sandbox a platform runs the server in: escapes
// (reading other matches' secrets, writing where only the platform may) and
// exhaustion (processes, disk, memory). See fakegames/sandbox_probes.hpp.
struct SandboxProbeOptions {
    bool attack = false;                        // try every escape, print ATTACK {json}
    std::optional<std::string> attack_db;       // file to read (the platform's database)
    std::vector<std::string> attack_store;      // directories to create a file in
    std::optional<std::string> attack_matches;  // a data directory's matches/
    std::vector<int> attack_signal;             // pids to kill(pid, 0)
    bool fork_loop = false;                     // fork until fork fails
    std::optional<int> write_file_mb;           // write big.bin of N MiB into the cwd
    std::optional<int> allocate_mb;             // allocate and touch N MiB
    std::optional<std::string> write_beside;    // keep DIR/server.log next to the server
};

struct ServerOptions {
    std::optional<int> port;                // --port, else env PORT
    milliseconds player_timeout{30000};     // wait for all PLAYER_COUNT handshakes
    milliseconds handshake_timeout{10000};  // per connection, until its first line
    milliseconds move_timeout{30000};       // wait for every player's move

    // Faults, each usable alone or combined.
    milliseconds delay_bind{0};                      // sleep before binding
    std::optional<int> exit_before_started;          // bind, then exit with this code
    std::optional<milliseconds> exit_after_started;  // STARTED, then exit 1 after N ms
    bool never_started = false;                      // never report STARTED
    std::optional<int> stop_heartbeats_after;        // send N heartbeats, then none
    std::optional<milliseconds> heartbeat_interval;  // cadence other than declared
    bool stale_match_id = false;                     // reports carry another match_id
    bool wrong_report_token = false;                 // reports carry a wrong token
    bool duplicate_started = false;                  // STARTED twice
    bool end_twice = false;                          // END twice
    bool end_then_error = false;                     // END, then ERROR
    std::optional<std::string> result_non_member;    // END names a stranger
    bool started_wrong_port = false;                 // STARTED carries another port
    int flood_rate = 0;                              // msg/s on an extra connection
    double flood_seconds = 2.0;
    std::size_t oversized_line = 0;   // one line of N bytes
    int malformed_json = 0;           // N malformed lines
    std::size_t slowloris_bytes = 0;  // dribble N bytes, never '\n'
    milliseconds slowloris_interval{100};
    bool ignore_sigterm = false;
    bool grandchild = false;            // leave an escaped process behind
    int grandchild_lifetime_sec = 600;  // its safety net
    bool accept_wrong_token = false;    // admit any client_token
    bool reject_all_clients = false;    // refuse every handshake
    int stdout_spam = 0;                // print N junk lines on stdout
    bool token_in_argv = false;         // a child with REPORT_TOKEN in its argv
    bool accept_stale_match_id = false;  // admit any match_id in handshakes
    // STARTED this long before binding the port (not listening yet).
    std::optional<milliseconds> started_before_bind;
    // STARTED this long before answering handshakes (listening, not accepting).
    std::optional<milliseconds> started_before_accept;
    bool result_missing_player = false;    // END leaves out the last player
    bool result_duplicate_player = false;  // END names the first player twice
    SandboxProbeOptions sandbox;
};

struct ClientOptions {
    std::optional<std::string> host;
    std::optional<int> port;
    std::optional<std::string> player_name;
    std::optional<int> move;             // default: derived from the player name
    milliseconds connect_timeout{5000};  // retry refused connects this long
    milliseconds result_timeout{60000};  // wait for the scoreboard
    // A player thinking before the move (--think-ms, or env FAKEGAME_THINK_MS
    // so a launcher such as gamestore-sim can vary it without touching the
    // package's command): keeps the match running long enough for
    // mid-match faults (crash after STARTED, silent heartbeats) to happen.
    milliseconds think{0};

    // Faults.
    bool connect_before_in_game = false;  // one immediate attempt, report what happened
    bool wrong_token = false;             // handshake with a wrong client_token
    bool no_handshake = false;            // connect, say nothing, hold the socket
    milliseconds hold{30000};             // how long --no-handshake holds
};

// Upper bounds that keep a typo from turning a fault into a denial of service
// on the machine running the tests.
inline constexpr int kMaxFloodRate = 100000;
inline constexpr double kMaxFloodSeconds = 60.0;
inline constexpr std::size_t kMaxOversizedLine = 64 * 1024 * 1024;
inline constexpr int kMaxMalformedLines = 100000;
inline constexpr std::size_t kMaxSlowlorisBytes = 1024 * 1024;
inline constexpr int kMaxStdoutSpam = 1000000;
inline constexpr int kMaxWriteFileMb = 64 * 1024;
inline constexpr int kMaxAllocateMb = 64 * 1024;
// --fork-loop never forks more children than this in total, so that run
// without a process limit (outside a sandbox) it cannot exhaust the machine.
inline constexpr int kForkLoopCap = 4096;

int run_server(const ServerOptions& options);
int run_client(const ClientOptions& options);
// Body of the helper processes (`fakegame grandchild`, `fakegame
// token-holder`): wait for a signal, at most lifetime_sec.
int run_helper_body(int lifetime_sec);

// Exit codes, documented in docs/SDK.md and fakegames/packages/profiles.json.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;       // bad flags or launch environment
inline constexpr int kExitTimeout = 3;     // server: players/moves missing; client: cannot connect
inline constexpr int kExitRejected = 4;    // client: handshake refused
inline constexpr int kExitProtocol = 5;    // client: no or bad reply from the server
inline constexpr int kExitBindFailed = 6;  // server: cannot listen
inline constexpr int kExitCrashAfterStarted = 1;  // server --exit-after-started-ms
// server: --write-beside or --write-file-mb could not write
inline constexpr int kExitProbeFailed = 1;

}  // namespace gamestore::fakegames
