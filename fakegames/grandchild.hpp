#pragma once
// The --grandchild fault: a process the server leaves behind that has
// escaped its process group and session, the way a careless game's helper
// daemon would. The platform's cleanup cannot reach it by killing the
// server's group, so it shows whether orphan detection works.

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

}  // namespace gamestore::fakegames
