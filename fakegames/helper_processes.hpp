#pragma once
// Processes a fakegame server starts on purpose, each one a fault that only
// shows from outside the server:
//   --grandchild     a process that escaped the server's process group and
//                    session, the way a careless game's helper daemon would;
//                    killing the server's group cannot reach it.
//   --token-in-argv  a child that stays in the server's group but carries
//                    REPORT_TOKEN in its argv, where any local user can read
//                    it (ps, /proc/PID/cmdline).
// Both are `fakegame` itself, re-executed with a hidden subcommand whose body
// is run_helper_body() (options.hpp).

#include <sys/types.h>

#include <string>

namespace gamestore::fakegames {

// Environment marker naming the match whose server spawned the grandchild;
// tests and the sim find the process by it in /proc/<pid>/environ.
inline constexpr const char* kGrandchildMarker = "FAKEGAME_GRANDCHILD_OF";

// Double-forks `fakegame grandchild`: the middle process exits at once, so
// the grandchild is reparented to init (or the nearest subreaper); the
// grandchild calls setsid() before exec, so it leads its own session and
// group. Returns its pid after it has exec'ed; throws std::runtime_error.
// Call before starting threads (only async-signal-safe work after fork).
pid_t spawn_escaped_grandchild(const std::string& match_id, int lifetime_sec);

// Forks `fakegame token-holder --report-token <token> ...`: a direct child in
// the server's process group (a SIGTERM to the group stops it) that dies
// with the server (PR_SET_PDEATHSIG), so it leaks nothing but the token.
// Returns its pid after it has exec'ed; throws std::runtime_error. Call from
// the main thread before starting threads: the death signal follows the
// thread that forked.
pid_t spawn_token_holder(const std::string& report_token, int lifetime_sec);

}  // namespace gamestore::fakegames
