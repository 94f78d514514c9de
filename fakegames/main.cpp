// fakegame: one binary, two roles (server, client), faults chosen by flags.
// Without flags it is a well-behaved protocol v1 game; see docs/SDK.md and
// fakegames/packages/profiles.json for the fault catalogue.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "fakegames/options.hpp"

namespace fg = gamestore::fakegames;

namespace {

// CLI11 fills plain integers; the options hold durations.
struct MsFlag {
    long long value = -1;
    bool set() const { return value >= 0; }
    std::chrono::milliseconds ms() const { return std::chrono::milliseconds(value); }
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("fakegame: a gamestore protocol v1 game server/client with selectable faults");
    app.require_subcommand(1);

    fg::ServerOptions s;
    MsFlag player_timeout, handshake_timeout, move_timeout, delay_bind, exit_after_started,
        heartbeat_interval, slowloris_interval, started_before_bind, started_before_accept;
    int port = -1;
    auto* server =
        app.add_subcommand("server", "run the game server (env: ROOM_ID, MATCH_ID, PORT, ...)");
    server->add_option("--port", port, "listen port (overrides env PORT)")
        ->check(CLI::Range(0, 65535));
    server
        ->add_option("--player-timeout-ms", player_timeout.value,
                     "wait this long for all players (default 30000)")
        ->check(CLI::Range(1LL, 3600000LL));
    server
        ->add_option("--handshake-timeout-ms", handshake_timeout.value,
                     "a connection must handshake within this (default 10000)")
        ->check(CLI::Range(1LL, 3600000LL));
    server
        ->add_option("--move-timeout-ms", move_timeout.value,
                     "wait this long for every move (default 30000)")
        ->check(CLI::Range(1LL, 3600000LL));
    auto* faults = "Server faults";
    server->add_option("--delay-bind-ms", delay_bind.value, "sleep N ms before binding the port")
        ->check(CLI::Range(0LL, 3600000LL))
        ->group(faults);
    server
        ->add_option("--exit-before-started", s.exit_before_started,
                     "bind, then exit with CODE (default 1) without STARTED")
        ->expected(0, 1)
        ->default_str("1")
        ->check(CLI::Range(0, 255))
        ->group(faults);
    server
        ->add_option("--exit-after-started-ms", exit_after_started.value,
                     "report STARTED, then exit with code 1 after N ms")
        ->check(CLI::Range(0LL, 3600000LL))
        ->group(faults);
    server->add_flag("--never-started", s.never_started, "never report STARTED")->group(faults);
    server
        ->add_option("--stop-heartbeats-after", s.stop_heartbeats_after,
                     "send N heartbeats, then none")
        ->check(CLI::Range(0, 1000000))
        ->group(faults);
    server
        ->add_option("--heartbeat-interval-ms", heartbeat_interval.value,
                     "heartbeat cadence instead of HEARTBEAT_INTERVAL_SEC")
        ->check(CLI::Range(1LL, 3600000LL))
        ->group(faults);
    server->add_flag("--stale-match-id", s.stale_match_id, "reports carry a different match_id")
        ->group(faults);
    server
        ->add_flag("--wrong-report-token", s.wrong_report_token,
                   "reports carry a wrong report_token")
        ->group(faults);
    server->add_flag("--duplicate-started", s.duplicate_started, "report STARTED twice")
        ->group(faults);
    server->add_flag("--end-twice", s.end_twice, "report END twice")->group(faults);
    server->add_flag("--end-then-error", s.end_then_error, "report END, then ERROR")->group(faults);
    server
        ->add_option("--result-non-member", s.result_non_member,
                     "END also lists NAME, who is not a player")
        ->group(faults);
    server
        ->add_flag("--started-wrong-port", s.started_wrong_port,
                   "STARTED carries a port we do not listen on")
        ->group(faults);
    server
        ->add_option("--flood-rate", s.flood_rate,
                     "send N heartbeats/s on an extra control connection")
        ->check(CLI::Range(0, fg::kMaxFloodRate))
        ->group(faults);
    server->add_option("--flood-seconds", s.flood_seconds, "flood duration (default 2)")
        ->check(CLI::Range(0.0, fg::kMaxFloodSeconds))
        ->group(faults);
    server
        ->add_option("--oversized-line", s.oversized_line, "send one control-plane line of N bytes")
        ->check(CLI::Range(std::size_t{1}, fg::kMaxOversizedLine))
        ->group(faults);
    server
        ->add_option("--malformed-json", s.malformed_json,
                     "send N malformed lines, then one valid heartbeat")
        ->check(CLI::Range(0, fg::kMaxMalformedLines))
        ->group(faults);
    server
        ->add_option("--slowloris-bytes", s.slowloris_bytes,
                     "dribble N bytes on an extra control connection, never a newline")
        ->check(CLI::Range(std::size_t{1}, fg::kMaxSlowlorisBytes))
        ->group(faults);
    server
        ->add_option("--slowloris-interval-ms", slowloris_interval.value,
                     "pause between slowloris bytes (default 100)")
        ->check(CLI::Range(1LL, 60000LL))
        ->group(faults);
    server->add_flag("--ignore-sigterm", s.ignore_sigterm, "ignore SIGTERM (only SIGKILL stops us)")
        ->group(faults);
    server
        ->add_flag(
            "--grandchild", s.grandchild,
            "leave a grandchild that called setsid() (env FAKEGAME_GRANDCHILD_OF=<match_id>)")
        ->group(faults);
    server
        ->add_option("--grandchild-lifetime-sec", s.grandchild_lifetime_sec,
                     "the grandchild exits by itself after this (default 600)")
        ->check(CLI::Range(1, 86400))
        ->group(faults);
    server
        ->add_flag("--accept-wrong-token", s.accept_wrong_token,
                   "admit clients whatever their client_token")
        ->group(faults);
    server->add_flag("--reject-all-clients", s.reject_all_clients, "refuse every handshake")
        ->group(faults);
    server->add_option("--stdout-spam", s.stdout_spam, "print N junk lines on stdout at start")
        ->check(CLI::Range(0, fg::kMaxStdoutSpam))
        ->group(faults);
    server
        ->add_flag("--token-in-argv", s.token_in_argv,
                   "run a child process whose argv contains REPORT_TOKEN")
        ->group(faults);
    server
        ->add_flag("--accept-stale-match-id", s.accept_stale_match_id,
                   "admit clients whatever match_id their handshake names")
        ->group(faults);
    server
        ->add_option("--started-before-bind-ms", started_before_bind.value,
                     "report STARTED (with PORT), then bind N ms later")
        ->check(CLI::Range(0LL, 3600000LL))
        ->group(faults);
    server
        ->add_option("--started-before-accept-ms", started_before_accept.value,
                     "listen and report STARTED, but answer no handshake for N ms")
        ->check(CLI::Range(0LL, 3600000LL))
        ->group(faults);
    server
        ->add_flag("--result-missing-player", s.result_missing_player,
                   "END has no result for the last player")
        ->group(faults);
    server
        ->add_flag("--result-duplicate-player", s.result_duplicate_player,
                   "END names the first player twice")
        ->group(faults);
    // Sandbox probes (fakegames/sandbox_probes.hpp): each prints its outcome
    // as one line on stdout.
    auto* attack =
        server
            ->add_flag("--attack", s.sandbox.attack,
                       "after STARTED, try to escape the sandbox and print ATTACK {json}")
            ->group(faults);
    server
        ->add_option("--attack-db", s.sandbox.attack_db,
                     "--attack reads the first 16 bytes of PATH (the platform's database)")
        ->needs(attack)
        ->type_name("PATH")
        ->group(faults);
    server
        ->add_option("--attack-store", s.sandbox.attack_store,
                     "--attack creates a file in DIR (repeatable)")
        ->allow_extra_args(false)
        ->needs(attack)
        ->type_name("DIR")
        ->group(faults);
    server
        ->add_option("--attack-matches", s.sandbox.attack_matches,
                     "--attack reads other matches' token files in DIR (a data dir's matches/)")
        ->needs(attack)
        ->type_name("DIR")
        ->group(faults);
    server
        ->add_option("--attack-signal", s.sandbox.attack_signal,
                     "--attack tries kill(PID, 0) (repeatable)")
        ->allow_extra_args(false)
        ->check(CLI::PositiveNumber)
        ->needs(attack)
        ->type_name("PID")
        ->group(faults);
    server
        ->add_flag("--fork-loop", s.sandbox.fork_loop,
                   "after STARTED, stop heartbeats and fork idle children until fork fails")
        ->group(faults);
    server
        ->add_option("--write-file-mb", s.sandbox.write_file_mb,
                     "after STARTED, write N MiB to big.bin in the current directory")
        ->check(CLI::Range(1, fg::kMaxWriteFileMb))
        ->group(faults);
    server
        ->add_option("--allocate-mb", s.sandbox.allocate_mb,
                     "after STARTED, allocate and touch N MiB, held until the match ends")
        ->check(CLI::Range(1, fg::kMaxAllocateMb))
        ->group(faults);
    server
        ->add_option("--write-beside", s.sandbox.write_beside,
                     "at start-up, create DIR (relative to the current directory) and log "
                     "events to DIR/server.log")
        ->check([](const std::string& dir) {
            return dir.empty() ? std::string("DIR must not be empty") : std::string();
        })
        ->type_name("DIR")
        ->group(faults);

    fg::ClientOptions c;
    MsFlag connect_timeout, result_timeout, hold, think;
    int client_port = -1;
    auto* client =
        app.add_subcommand("client", "run a game client (env: ROOM_ID, MATCH_ID, HOST, PORT, ...)");
    client->add_option("--host", c.host, "server host (overrides env HOST)");
    client->add_option("--port", client_port, "server port (overrides env PORT)")
        ->check(CLI::Range(1, 65535));
    client->add_option("--player-name", c.player_name, "player name (overrides env PLAYER_NAME)");
    client->add_option("--move", c.move, "the number to play (default: derived from the name)");
    client
        ->add_option("--connect-timeout-ms", connect_timeout.value,
                     "retry refused connects this long (default 5000)")
        ->check(CLI::Range(1LL, 3600000LL));
    client
        ->add_option("--result-timeout-ms", result_timeout.value,
                     "wait this long for the scoreboard (default 60000)")
        ->check(CLI::Range(1LL, 3600000LL));
    auto* client_faults = "Client faults";
    client
        ->add_flag("--connect-before-in-game", c.connect_before_in_game,
                   "one immediate connect + handshake attempt; print what happened")
        ->group(client_faults);
    client->add_flag("--wrong-token", c.wrong_token, "handshake with a wrong client_token")
        ->group(client_faults);
    client->add_flag("--no-handshake", c.no_handshake, "connect and never send the handshake")
        ->group(client_faults);
    client->add_option("--think-ms", think.value, "wait N ms after the handshake before moving (env FAKEGAME_THINK_MS)")
        ->check(CLI::Range(0LL, 600000LL));
    client
        ->add_option("--hold-ms", hold.value,
                     "how long --no-handshake holds the socket (default 30000)")
        ->check(CLI::Range(1LL, 3600000LL))
        ->group(client_faults);

    int lifetime = 600;
    auto* grandchild = app.add_subcommand("grandchild", "body of the --grandchild process");
    grandchild->group("");  // internal: hidden from --help
    grandchild->add_option("--lifetime-sec", lifetime)->check(CLI::Range(1, 86400));
    // The --token-in-argv child. Its --report-token is never read: carrying
    // it in argv is the whole fault.
    std::string carried_token;
    auto* token_holder =
        app.add_subcommand("token-holder", "body of the --token-in-argv child process");
    token_holder->group("");
    token_holder->add_option("--report-token", carried_token)->required();
    token_holder->add_option("--lifetime-sec", lifetime)->check(CLI::Range(1, 86400));

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help exits 0; every real parse error is a usage error (2), not
        // CLI11's internal code, so scripts can rely on the documented codes.
        return app.exit(e) == 0 ? fg::kExitOk : fg::kExitUsage;
    }

    if (*server) {
        if (port >= 0) {
            s.port = port;
        }
        if (player_timeout.set())
            s.player_timeout = player_timeout.ms();
        if (handshake_timeout.set())
            s.handshake_timeout = handshake_timeout.ms();
        if (move_timeout.set())
            s.move_timeout = move_timeout.ms();
        if (delay_bind.set())
            s.delay_bind = delay_bind.ms();
        if (exit_after_started.set())
            s.exit_after_started = exit_after_started.ms();
        if (heartbeat_interval.set())
            s.heartbeat_interval = heartbeat_interval.ms();
        if (slowloris_interval.set())
            s.slowloris_interval = slowloris_interval.ms();
        if (started_before_bind.set())
            s.started_before_bind = started_before_bind.ms();
        if (started_before_accept.set())
            s.started_before_accept = started_before_accept.ms();
        return fg::run_server(s);
    }
    if (*client) {
        if (client_port >= 0) {
            c.port = client_port;
        }
        if (connect_timeout.set())
            c.connect_timeout = connect_timeout.ms();
        if (result_timeout.set())
            c.result_timeout = result_timeout.ms();
        if (hold.set())
            c.hold = hold.ms();
        if (think.set()) {
            c.think = think.ms();
        } else if (const char* env = std::getenv("FAKEGAME_THINK_MS")) {
            char* end = nullptr;
            const long value = std::strtol(env, &end, 10);
            if (end == env || *end != '\0' || value < 0 || value > 600000) {
                std::cerr << "fakegame: FAKEGAME_THINK_MS must be 0..600000, got '" << env << "'\n";
                return fg::kExitUsage;
            }
            c.think = std::chrono::milliseconds(value);
        }
        return fg::run_client(c);
    }
    return fg::run_helper_body(lifetime);
}
