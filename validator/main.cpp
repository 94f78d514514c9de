// validate_game_package PATH [options]: the conformance checks a game
// developer runs before publishing (docs/VALIDATOR.md).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <fstream>
#include <iostream>
#include <mutex>

#include <CLI/CLI.hpp>

#include "platform/launch/sandbox_options.hpp"

#include "validator/validator.hpp"

namespace {

// Ctrl-C or a CI timeout: the game's processes run in sessions/groups of
// their own, so stop them (and remove the temp dir) before going down. The
// signals are blocked everywhere and taken by this thread with sigwait, so
// the cleanup is not limited to async-signal-safe calls.
// Held by whoever finishes the process: the signal thread (abort) or main
// (printing the report), so an interrupted run never prints a report made of
// the processes the abort just killed.
std::mutex g_finish;

void start_signal_thread() {
    sigset_t signals;
    sigemptyset(&signals);
    for (const int signo : {SIGINT, SIGTERM, SIGHUP}) {
        sigaddset(&signals, signo);
    }
    // Before any other thread exists, so every thread inherits the mask.
    ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread([signals] {
        int signo = 0;
        if (::sigwait(&signals, &signo) == 0) {
            g_finish.lock();  // never unlocked: this thread ends the process
            gamestore::validator::abort_running_validations();
            std::fprintf(stderr, "validate_game_package: interrupted (signal %d)\n", signo);
            std::_Exit(128 + signo);
        }
    }).detach();
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
    namespace v = gamestore::validator;
    // A game closing a socket on us must not kill the validator.
    ::signal(SIGPIPE, SIG_IGN);
    start_signal_thread();

    CLI::App app{
        "validate_game_package: check a game package (directory or .zip) the way the gamestore platform will run "
        "it.\nExit status: 0 nothing failed, 1 a check failed, 2 the package could not be checked."};
    std::string package;
    int players = 0;
    bool no_clients = false;
    bool json = false;
    bool static_only = false;
    bool keep_temp = false;
    std::string junit;
    double grace = 5.0;
    int heartbeat_cycles = 3;
    double timeout_scale = 1.0;
    double match_timeout = 60.0;
    app.add_option("PATH", package, "package directory or zip file")->required();
    app.add_option("--players", players,
                   "players in the match (default: min_players); also launches the package's client once per player "
                   "with GAMESTORE_BOT=1 and plays the match to its END")
        ->check(CLI::Range(1, 64));
    std::vector<std::string> client_input;
    app.add_option("--client-input", client_input,
                   "PLAYER=FILE: that player's client reads FILE as its stdin (scripted moves for "
                   "a client that does "
                   "not play by itself); repeatable")
        ->type_name("PLAYER=FILE");
    bool debug_strict_heartbeats = false;
    app.add_flag("--debug-strict-heartbeats", debug_strict_heartbeats,
                 "TEST ONLY: fail heartbeat gaps over 1x the interval (stricter than the platform, "
                 "to prove the "
                 "conformance suite catches a disagreement)");
    app.add_flag("--no-clients", no_clients, "with --players: do not launch clients (server checks only)");
    app.add_flag("--json", json, "print the results as JSON instead of a table");
    app.add_option("--junit", junit, "also write the results as JUnit XML to FILE");
    app.add_option("--grace", grace, "seconds the server gets to exit after SIGTERM")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 600.0));
    app.add_option("--heartbeat-cycles", heartbeat_cycles, "heartbeat intervals to watch")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    app.add_option("--timeout-scale", timeout_scale, "multiply every timeout (slow machines, sanitizers)")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 100.0));
    app.add_option("--match-timeout", match_timeout, "seconds the clients' match may take to reach END")
        ->capture_default_str()
        ->check(CLI::Range(1.0, 3600.0));
    gamestore::packages::ZipLimits zip_limits;
    // The server's own flags: a store whose operator lowered them refuses
    // more than the defaults, so the validator can judge by the same numbers.
    app.add_option("--max-package-bytes", zip_limits.max_archive_bytes,
                   "largest zip the server accepts (gamestore-server --max-package-bytes)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--max-package-entries", zip_limits.max_entries,
                   "most files and directories in one package (gamestore-server --max-package-entries)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--max-package-uncompressed", zip_limits.max_total_uncompressed,
                   "largest unpacked size of one package (gamestore-server --max-package-uncompressed)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    gamestore::launch::SandboxSettings sandbox;
    gamestore::launch::SandboxOptionValues sandbox_values;
    gamestore::launch::add_sandbox_options(app, sandbox, sandbox_values);
    app.add_flag("--static-only", static_only, "only the static checks (no process is started)");
    app.add_flag("--keep-temp", keep_temp, "keep the temp dir (logs, match directory, unpacked zip)");
    try {
        app.parse(argc, argv);
        gamestore::launch::finish_sandbox_options(sandbox, sandbox_values);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }

    v::ValidationOptions options;
    options.package = package;
    if (players > 0) {
        options.players = players;
    }
    options.launch_clients = !no_clients;
    options.debug_strict_heartbeats = debug_strict_heartbeats;
    for (const auto& entry : client_input) {
        const auto equals = entry.find('=');
        if (equals == std::string::npos || equals == 0 || equals + 1 == entry.size()) {
            std::cerr << "--client-input needs PLAYER=FILE, got '" << entry << "'\n";
            return 2;
        }
        const std::filesystem::path file = entry.substr(equals + 1);
        if (!std::filesystem::is_regular_file(file)) {
            std::cerr << "--client-input: " << file.string() << " is not a readable file\n";
            return 2;
        }
        options.client_input[entry.substr(0, equals)] = std::filesystem::absolute(file);
    }
    options.static_only = static_only;
    options.grace = std::chrono::milliseconds(static_cast<long long>(grace * 1000.0));
    options.heartbeat_cycles = heartbeat_cycles;
    options.timeout_scale = timeout_scale;
    options.match_timeout = std::chrono::milliseconds(static_cast<long long>(match_timeout * 1000.0));
    options.keep_temp = keep_temp;
    options.zip_limits = zip_limits;
    options.sandbox = sandbox;
    if (!json && ::isatty(STDERR_FILENO)) {
        options.on_check = [](const v::CheckResult& check) {
            std::fprintf(stderr, "  %-32s %s\n", check.name.c_str(), std::string(v::to_string(check.status)).c_str());
        };
        std::fprintf(stderr, "validating %s ...\n", package.c_str());
    }

    v::ValidationReport report;
    try {
        report = v::validate_package(options);
    } catch (const std::invalid_argument& e) {
        std::cerr << "validate_game_package: " << e.what() << "\n";
        return 2;
    }
    const std::lock_guard finishing(g_finish);
    std::cout << (json ? v::format_json(report) : v::format_table(report)) << std::flush;
    if (!junit.empty() && !write_file(junit, v::format_junit(report))) {
        std::cerr << "validate_game_package: cannot write " << junit << "\n";
        return 2;
    }
    return report.exit_code();
}
