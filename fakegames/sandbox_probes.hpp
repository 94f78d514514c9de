#pragma once
// Faults that test the sandbox a platform runs game servers in, rather than
// the protocol. Each one is what a malicious or careless game would do:
//   --attack          try to read the platform's database and other matches'
//                     secrets, write into the package store, see and signal
//                     processes outside the match, and forge an END for a
//                     match that is not ours; print what worked.
//   --fork-loop       fork until fork fails (a process limit must stop it).
//   --write-file-mb   write a big file (a file-size limit must stop it).
//   --allocate-mb     allocate and touch memory (a memory limit must stop it).
//   --write-beside    keep a log directory next to the server, in the package
//                     directory (a sandbox that makes it read-only breaks the
//                     game).
// Every outcome is one line on stdout with a fixed prefix (ATTACK, FORK_LOOP,
// WRITE_FILE, ALLOCATE, WRITE_BESIDE), flushed at once, so a test reads it
// from the server's captured output even when the process is killed next.
// docs/SDK.md "fakegame: the SDK with faults" lists the lines.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakegames/options.hpp"
#include "gamestore/sdk/net.hpp"

namespace gamestore::fakegames {

// What --attack knows about its own match.
struct AttackContext {
    std::string own_match_id;  // MATCH_ID: the one match it may read
    std::string report_host;   // where the forged END goes
    int report_port = 0;
    // Processes this server started itself (helpers of other faults): the
    // "processes" attempt counts them as its own match.
    int processes_started = 0;
};

// Runs every --attack attempt and returns the object printed after
// "ATTACK ": one key per attempt (db, store, tokens, environ, processes,
// signal, forge), each {"ok": bool, "detail": text}; ok means the attack
// succeeded. "processes" also has "count".
nlohmann::json run_attack(const SandboxProbeOptions& options, const AttackContext& context);

class SandboxProbes {
  public:
    using Log = std::function<void(const std::string&)>;

    SandboxProbes(SandboxProbeOptions options, Log log);

    // Before binding: creates --write-beside's DIR/server.log. False (after
    // printing WRITE_BESIDE: ...) when the server must exit with
    // kExitProbeFailed.
    bool at_startup(const std::string& match_id);

    // After STARTED, in this order: --attack, --write-file-mb,
    // --allocate-mb, --fork-loop. Returns the exit code when the server must
    // end now (a failed write; --fork-loop once stop_fd fires), nullopt to
    // play the match on. `stop_heartbeats` is called before --fork-loop
    // starts forking.
    std::optional<int> after_started(const AttackContext& context, int stop_fd,
                                     const std::function<void()>& stop_heartbeats);

    // --write-beside events; a failed write ends the process (exit 1).
    void player_joined(const std::string& player, int seat);
    void match_ended(std::size_t results);

  private:
    void beside_event(const std::string& line);

    SandboxProbeOptions options_;
    Log log_;
    sdk::UniqueFd beside_log_;
    std::string beside_path_;  // as printed: DIR/server.log
    // --allocate-mb's memory, held until the server returns.
    std::vector<std::unique_ptr<char[]>> held_;
};

}  // namespace gamestore::fakegames
