#pragma once
// Dynamic checks: one match of the package, launched as the platform launches
// it, against the validator's own control plane. The sequence, and why:
//   1. launch the server; wait for STARTED (startup timeout);
//   2. right at STARTED: handshakes with a wrong token and a stale match_id
//      (must be refused), the diagnostic TCP connect;
//   3. without clients: a valid handshake as player1, kept open (a game may
//      treat a disconnect as a forfeit);
//   4. watch K heartbeat intervals;
//   5. with clients: launch one client per player through a handshake tap
//      and wait for END;
//   6. SIGTERM the server's process group (the platform's stop) and watch
//      the grace period; stop the clients; look for anything left behind;
//   7. judge the whole control-plane conversation.

#include <filesystem>
#include <string>
#include <vector>

#include "platform/launch/sandbox.hpp"
#include "platform/packages/manifest.hpp"
#include "validator/check_book.hpp"

namespace gamestore::validator {

struct DynamicRun {
    const ValidationOptions& options;
    const packages::Manifest& manifest;
    std::filesystem::path package_root;
    std::filesystem::path work_dir;  // private temp dir: match dir, logs
    int players = 1;
    bool launch_clients = false;
    // A GUI package's clients: the DISPLAY they draw on ("" leaves the base
    // environment's), and the validator's own virtual display process when it
    // started one (not part of the match: never reported as left running).
    std::string client_display;
    pid_t display_pid = -1;
    // Why the package's clients were not launched although --players asked
    // for them (a GUI package with no display); "" otherwise.
    std::string clients_skipped;
    // The sandbox the platform would run the server in (checked to work).
    const launch::Sandbox& sandbox;
};

struct DynamicResult {
    std::vector<std::string> server_log_tail;
    std::string match_id;
};

// Decides every dynamic check in `book`. Throws std::runtime_error when the
// validator itself cannot run the match (no socket, no temp space).
DynamicResult run_dynamic_checks(const DynamicRun& run, CheckBook& book);

}  // namespace gamestore::validator
