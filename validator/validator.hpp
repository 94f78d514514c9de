#pragma once
// validate_game_package as a library: the conformance checks a game developer
// runs locally (`validate_game_package`, `gamestore-dev validate`) before
// publishing. Static checks read the package; dynamic checks launch the game
// server exactly as the platform does (same launcher, same environment, same
// per-match directory) against a mock control plane of our own, and probe it
// the way the platform and the players' clients will. docs/VALIDATOR.md
// describes every check, its tolerance and the output formats.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/launch/sandbox.hpp"
#include "platform/packages/zip.hpp"

namespace gamestore::validator {

enum class CheckStatus {
    Pass,
    Fail,     // the package would misbehave on the platform: exit code 1
    Warn,     // works, but something deserves the developer's attention
    Skipped,  // could not be checked (the message says why)
};

// "pass", "fail", "warn", "skipped" (the --json / JUnit spelling).
std::string_view to_string(CheckStatus status);

struct CheckResult {
    std::string name;     // stable identifier, see check_names.hpp
    CheckStatus status = CheckStatus::Skipped;
    std::string message;  // one sentence a game developer can act on
    // Every individual problem when there are several (manifest issues with
    // their JSON paths, offending processes, ...), one line each.
    std::vector<std::string> details;
    std::chrono::milliseconds duration{0};
};

struct ValidationOptions {
    std::filesystem::path package;  // a package directory or a .zip
    // Players in the match (player1..playerN). Unset: the manifest's
    // min_players, and no clients are launched.
    std::optional<int> players;
    // With `players` set, launch the package's own client once per player
    // (with GAMESTORE_BOT=1) and play the match to its END. --no-clients
    // turns that off.
    bool launch_clients = true;
    // --client-input PLAYER=FILE: that player's client reads FILE as its
    // stdin (scripted moves for a client that does not play by itself);
    // the others read /dev/null.
    std::map<std::string, std::filesystem::path> client_input;
    bool static_only = false;  // skip every dynamic check
    // TEST ONLY (--debug-strict-heartbeats): heartbeat_cadence fails at
    // 1x the interval instead of the platform's 5x, a rule stricter than the
    // platform's, so the conformance suite can show it catches a validator
    // that disagrees with the platform.
    bool debug_strict_heartbeats = false;
    // The package limits zip_safety / package_size apply: the server's
    // defaults, or what a server started with --max-package-bytes,
    // --max-package-entries or --max-package-uncompressed enforces.
    packages::ZipLimits zip_limits;
    std::chrono::milliseconds grace{5000};  // SIGTERM -> gone
    int heartbeat_cycles = 3;               // heartbeat intervals observed
    double timeout_scale = 1.0;             // multiplies every timeout (slow machines)
    std::chrono::milliseconds match_timeout{60000};  // clients launched -> END (scaled)
    bool keep_temp = false;  // keep the temp dir (logs, match dir, extracted zip)
    // The game server runs in the sandbox the platform uses (docs/SECURITY.md).
    launch::SandboxSettings sandbox;
    // Called as each check is decided (progress output); may be empty.
    std::function<void(const CheckResult&)> on_check;
};

struct Summary {
    int passed = 0;
    int failed = 0;
    int warned = 0;
    int skipped = 0;
};

struct ValidationReport {
    std::string package;  // as given
    std::string game_name;
    std::string version;
    // False when the package could not be checked at all (unreadable path,
    // not a zip, no manifest.json): `fatal_error` says why, exit code 2.
    bool checkable = true;
    std::string fatal_error;
    std::vector<CheckResult> checks;  // in the order of check_names.hpp
    // Last lines of the game server's output (shown when a dynamic check
    // failed), and where the full logs are when the temp dir was kept.
    std::vector<std::string> server_log_tail;
    std::string match_id;  // of the validation match ("" when none ran), for logs
    std::filesystem::path kept_temp_dir;
    std::chrono::milliseconds elapsed{0};

    Summary summary() const;
    // 0: nothing failed; 1: a check failed; 2: the package could not be checked.
    int exit_code() const;
    const CheckResult* find(std::string_view name) const;
};

// Runs every check. Blocking (several seconds: the heartbeat checks watch
// `heartbeat_cycles` intervals). Makes the calling process a child subreaper
// (PR_SET_CHILD_SUBREAPER) so processes that escape the game server's group
// are reparented to it and can be found and stopped. Throws
// std::invalid_argument for bad options (players < 1, heartbeat_cycles < 1,
// timeout_scale <= 0, ...).
ValidationReport validate_package(const ValidationOptions& options);

// Interrupted validations (Ctrl-C, a CI timeout): the game's processes live
// in sessions/groups of their own, so the terminal's signal does not reach
// them. A program running validate_package() should stop them before it
// exits on a signal:
// - from a thread that waits for signals (sigwait): abort_running_validations()
//   kills every process of the validations in progress (escaped ones
//   included) and removes their temp dirs (unless keep_temp);
// - from a plain signal handler: kill_running_games_from_signal_handler()
//   SIGKILLs the server and client process groups only (async-signal-safe:
//   atomics and kill()).
void abort_running_validations();
void kill_running_games_from_signal_handler() noexcept;

// Output formats (docs/VALIDATOR.md).
std::string format_table(const ValidationReport& report);
std::string format_json(const ValidationReport& report);  // one JSON document, pretty-printed
std::string format_junit(const ValidationReport& report);

}  // namespace gamestore::validator
