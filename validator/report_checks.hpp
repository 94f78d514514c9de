#pragma once
// Verdicts on a game server's control-plane conversation, from the records
// of the mock control plane. Pure functions of the records (no sockets, no
// processes), so they are unit tested with made-up conversations.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "validator/check_book.hpp"
#include "validator/control_plane.hpp"

namespace gamestore::validator {

// The platform's heartbeat watchdog factors (defaults of RoomTuning,
// docs/MATCHES.md "Timeouts"): a warning after 3 intervals without a
// heartbeat, TIMEOUT after 5.
inline constexpr int kHeartbeatWarnFactor = 3;
inline constexpr int kHeartbeatKillFactor = 5;

struct Conversation {
    using Clock = std::chrono::steady_clock;

    std::vector<ReportRecord> reports;
    std::vector<ConnectionRecord> connections;
    ExpectedMatch expected;

    Clock::time_point launched_at;
    // Where heartbeats stop counting: the first END/ERROR, the server's own
    // exit, or the moment the validator sent SIGTERM.
    Clock::time_point observation_end;
    // Set when the server exited by itself before the validator stopped it:
    // "exited with code 1".
    std::optional<std::string> server_exit;

    double heartbeat_interval_sec = 5.0;
    // Above this gap: a warning (slower than declared).
    std::chrono::milliseconds heartbeat_limit{7750};  // 1.5 x interval + slack
    // The platform's watchdog factors (RoomTuning): above kill_factor x
    // interval (+ slack) the platform stops the match, which fails.
    int heartbeat_warn_factor = kHeartbeatWarnFactor;
    int heartbeat_kill_factor = kHeartbeatKillFactor;
    // When the validator launched the package's clients, if it did.
    std::optional<Clock::time_point> clients_launched_at;
    std::chrono::milliseconds heartbeat_slack{250};
    int heartbeat_cycles = 3;
    // Why there may be no END (for skipped messages), e.g. "the validator
    // stopped the match before it ended".
    std::string no_end_reason;

    // The first well-formed STARTED, if any.
    const ReportRecord* started() const;
    // Well-formed END and ERROR reports, in arrival order.
    std::vector<const ReportRecord*> terminals() const;
};

// Where heartbeat_cadence starts counting the silence after the heartbeats
// `beats` (those after STARTED, in arrival order): the last of them; with
// none, STARTED, or the clients' launch if there was one (a game may start
// its heartbeats once its players are in, and the validator launches them
// later than the platform would); and the same launch when the first
// heartbeat came only after it. The wait for END counts from here too, so
// it gives up on a silent server at exactly the gap this check fails.
Conversation::Clock::time_point heartbeat_silence_from(
    Conversation::Clock::time_point started,
    std::optional<Conversation::Clock::time_point> clients_launched_at,
    const std::vector<Conversation::Clock::time_point>& beats);

void judge_started_fields(const Conversation& conversation, CheckBook& book);
void judge_heartbeat_cadence(const Conversation& conversation, CheckBook& book);
void judge_reports_authenticated(const Conversation& conversation, CheckBook& book);
void judge_control_plane_hygiene(const Conversation& conversation, CheckBook& book);
void judge_end_results(const Conversation& conversation, CheckBook& book);
void judge_single_terminal(const Conversation& conversation, CheckBook& book);

}  // namespace gamestore::validator
