#pragma once
// Rooms and matches (docs/MATCHES.md: state machine, readiness, launch,
// stop): the room state and the operations that move it. The room.* ops
// (room_ops.cpp) only read their arguments, call these and answer.
//
// Everything here lives on the lobby's single I/O thread, so a snapshot is
// always consistent without locks. Blocking work (the store) goes to the
// blocking pool and comes back. Game servers are started and stopped by a
// MatchHost (match_host.hpp; on this machine, local_match_host.hpp). Deciding
// that a match is over and stopping it are separate steps: a match is marked
// terminal here at once, the host's stop proceeds asynchronously, and the
// room returns to WAITING when the stop is done.
//
// States: WAITING -> STARTING (host started; match_id visible, port and
// tokens hidden) -> IN_GAME (STARTED accepted; members get host, port,
// client_token) -> ENDING (END/ERROR/exit/timeout: one reset path; ready
// cleared, results pushed) -> WAITING (process group gone, port and match
// dir freed, history written). A failed launch goes STARTING -> ENDING ->
// WAITING the same way.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/asio/asio.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/packages/manifest.hpp"
#include "platform/protocol/report.hpp"
#include "platform/protocol/report_rules.hpp"
#include "platform/server/lobby_item.hpp"
#include "platform/server/match_host.hpp"
#include "platform/server/platform_services.hpp"
#include "platform/store/types.hpp"

namespace gamestore::packages {
struct LaunchContext;
}

namespace gamestore::server {

class LobbySession;
struct SignedIn;

enum class RoomState { Waiting, Starting, InGame, Ending };
std::string_view to_string(RoomState state);

struct RoomMember {
    store::AccountId account_id = 0;
    std::string name;
    bool ready = false;
    bool connected = true;
};

// A match's diagnostic TCP healthcheck (match_lifecycle.cpp). Shared by the
// match and the probing coroutine; whoever concludes it sets `done` and logs
// the result, exactly once.
struct HealthcheckProbe {
    std::vector<std::string> targets;  // "host:port", in the order tried
    std::chrono::milliseconds timeout{10'000};
    int attempts = 0;
    std::string last_error;
    bool done = false;
};

struct ActiveMatch {
    std::string match_id;
    std::string client_token;
    std::string report_token;
    std::uint16_t port = 0;
    std::vector<RoomMember> players;         // seat order at start
    std::int64_t pid = -1;                   // the match host's process id, for the admin view
    bool spawned = false;                    // the match host started the game server
    bool started = false;                    // STARTED accepted
    bool terminal = false;                   // END/ERROR/exit/timeout seen: cleanup under way
    bool exited = false;                     // the game server process was reaped
    std::optional<std::string> exit_status;  // how it exited, while the report grace runs
    std::chrono::steady_clock::time_point launched_at;  // room.start
    std::chrono::steady_clock::time_point spawned_at;   // the startup clock starts here
    std::chrono::steady_clock::time_point started_at;
    std::optional<std::int64_t> in_game_at;  // Unix ms of IN_GAME: the match counts as played
    std::chrono::steady_clock::time_point last_heartbeat;
    bool heartbeat_warned = false;
    std::chrono::milliseconds startup_timeout{10'000};
    std::chrono::milliseconds heartbeat_interval{5'000};
    std::shared_ptr<HealthcheckProbe> healthcheck;
    // Players whose launcher said their game client has exited (match.client).
    std::set<store::AccountId> clients_exited;
    // Since when no player has been in the match (everyone_left()), while
    // the match is live: the everyone-left grace runs from here.
    std::optional<std::chrono::steady_clock::time_point> everyone_left_since;
};

struct Room {
    std::int64_t id = 0;
    store::GameId game_id = 0;
    std::string game_name;
    store::VersionId version_id = 0;
    std::string version;
    packages::Manifest manifest;
    std::filesystem::path package_root;  // the server's read-only extracted copy
    std::vector<RoomMember> members;     // join order; members[host_index()] is the host
    store::AccountId host = 0;
    RoomState state = RoomState::Waiting;
    std::optional<ActiveMatch> match;
    std::string last_error;      // why the last start failed, for the host
    nlohmann::json last_result;  // the last match's outcome, null before any
    std::chrono::system_clock::time_point created_at;
};

// Whether `account` is one of the room's members (not merely a player of its match).
bool has_member(const Room& room, store::AccountId account);

struct RoomTuning {
    // The stop and log settings are the local match host's (LocalHostTuning).
    std::chrono::milliseconds stop_grace{5000};
    std::chrono::milliseconds end_grace{2000};  // after END/ERROR, time to exit on its own
    // After SIGKILL, how long the group may take to disappear before the
    // stop is logged as having left processes behind.
    std::chrono::milliseconds kill_wait{3000};
    // A game server that exits while its match is live may still have its
    // END/ERROR in flight (sent on a one-shot connection just before exit):
    // the match waits this long for it before it is called CRASHED.
    std::chrono::milliseconds report_grace{500};
    double heartbeat_warn_factor = 3.0;
    double heartbeat_kill_factor = 5.0;
    std::optional<std::chrono::milliseconds> startup_timeout_override;
    std::size_t match_log_cap_bytes = 1024 * 1024;
    std::chrono::milliseconds watchdog_tick{100};
    // A live match none of whose players is in it any more (client exited,
    // left the room, or launcher disconnected) is ABORTED after this long
    // without END: a game that waits forever must not hold its port.
    std::chrono::milliseconds everyone_left_grace{60'000};
    // How long a result missed by a disconnected member waits for its next
    // sign-in (match.ended pushed then).
    std::chrono::milliseconds missed_result_keep{3'600'000};
    // Test-only fault switch used to prove the sim's checkers can fail.
    bool debug_keep_ready_after_match = false;
};

struct MatchCounters {
    std::uint64_t launched = 0;
    std::uint64_t started = 0;
    std::uint64_t finished = 0;
    // Refused reports, by reason (indexed by protocol::index_of).
    std::array<std::uint64_t, protocol::kReportRefusalCount> refused{};
    std::uint64_t reports_after_exit = 0;      // END/ERROR accepted within the report grace
    std::uint64_t healthchecks_passed = 0;     // a TCP connect succeeded
    std::uint64_t healthchecks_failed = 0;     // none within healthcheck.timeout_sec
    std::uint64_t sandbox_failures = 0;        // bwrap could not start a game server
    std::uint64_t healthchecks_abandoned = 0;  // the match ended first

    std::uint64_t refusals(protocol::ReportRefusal reason) const {
        return refused[protocol::index_of(reason)];
    }
    // server.stats' three sums: a match_id that is not the room's current
    // match, the right match with a wrong report_token, and every other
    // refusal (bad port echo, bad names in END, after the end).
    std::uint64_t stale_reports() const { return refusals(protocol::ReportRefusal::StaleMatch); }
    std::uint64_t forged_reports() const { return refusals(protocol::ReportRefusal::WrongToken); }
    std::uint64_t rejected_reports() const;
};

// The lobby deltas so far (server.stats "lobby").
struct LobbyCounters {
    std::uint64_t seq = 0;              // the last delta's sequence number
    std::uint64_t flushes = 0;          // batches pushed (one per coalescing window with changes)
    std::uint64_t pushed_bytes = 0;     // delta bytes queued, summed over every recipient
    std::uint64_t dropped_batches = 0;  // batches not queued to a reader that had fallen behind
    std::uint64_t caught_up = 0;  // snapshots asked mid-fan-out, before their connection's turn
};

class RoomService {
  public:
    RoomService(PlatformServices& services, MatchHost& host, RoomTuning tuning);

    // After a crash: close open matches as ABORTED, kill their recorded
    // process groups (after checking the process start time), clear stale
    // match dirs. Blocking; run before serving.
    void reconcile_after_restart();
    void start_watchdog();
    // Aborts every match and waits for their cleanup; then `done`.
    void shutdown(std::function<void()> done);
    // Where new room ids come from: a cluster node's ids are unique across
    // the cluster (ClusterLink::next_room_id); nullopt refuses the room
    // (UNAVAILABLE). Unset: 1, 2, 3... as a single server counts.
    void set_room_ids(std::function<std::optional<std::int64_t>()> source) {
        room_ids_ = std::move(source);
    }
    // --- a cluster node's part of the shared lobby (docs/SCALING.md)
    // From now on, this node's own lobby rows that change are handed to
    // `share` (for the other nodes), starting with all of them.
    void share_lobby(std::function<void(std::vector<LobbyItem>)> share);
    // Another node's rows (ClusterLink::Events::lobby): merged into the lobby
    // clients see, as the same deltas as local changes.
    void apply_remote_lobby(const std::string& node_id, bool reset,
                            const std::vector<LobbyItem>& items);
    // The node a room of the shared lobby lives on, when it is not this one.
    std::optional<std::string> room_node(std::int64_t room_id) const;
    // The lobby address of a live node, for MOVED answers (ClusterService).
    void set_node_addresses(std::function<std::optional<std::string>(const std::string&)> lookup) {
        node_address_ = std::move(lookup);
    }
    // Ends every live match as ABORTED with `reason` (a cluster node that
    // lost the cluster); rooms stay.
    void abort_all(const std::string& reason);

    // The control plane's handler: nullopt accepts, else why not (its
    // sentence is the reply). The rules are protocol::check_report's; this
    // applies an accepted report to the match and counts refusals.
    std::optional<protocol::Refusal> handle_report(const protocol::Report& report);

    // How long the report connection of the match `report` speaks for may
    // stay quiet: as long as the watchdog lets the match go without a
    // heartbeat (kill factor x its heartbeat interval). nullopt when the
    // room has no such match any more.
    std::optional<std::chrono::milliseconds> report_idle_allowance(
        const protocol::Report& report) const;

    void on_session_closed(LobbySession& session);
    void on_session_signed_in(LobbySession& session);
    void on_session_signed_out(const SignedIn& who);

    // --- the operations behind the room.* ops (room_service.cpp). Each
    // refuses with a LobbyError saying why.
    Room& require_room(std::int64_t room_id);
    // Before `requester` creates or joins a room: when its account is still
    // a member of a room that no live connection of the account has entered
    // (its launcher died, a terminal closed), the account is taken out of
    // that room and its {room_id, game} returned. CONFLICT when a live
    // connection of the account is in a room.
    std::optional<nlohmann::json> release_stale_room(const LobbySession& requester);
    // A WAITING room of `version` (chosen by released_version) hosted by `creator`.
    Room& create_room(const SignedIn& creator, const store::Game& game,
                      const store::Version& version);
    // Joining the room one is already in is no change.
    Room& join_room(std::int64_t room_id, const SignedIn& joiner);
    // Returns the id of the room left.
    std::int64_t leave_room(store::AccountId account);
    Room& set_ready(store::AccountId account, bool ready);
    // The host starts their room's match: WAITING -> STARTING, then the
    // launch. Returns once the match is recorded and its server spawned, with
    // `host`'s view of the room as it was when the match started (STARTING).
    boost::asio::awaitable<nlohmann::json> start(const LobbySession& host);
    void chat(const SignedIn& sender, const std::string& text);
    // A launcher tells whether its player's game client runs: "exited" takes
    // the player out of the match for the everyone-left rule, "running"
    // (e.g. after a reconnect) puts them back. Refused when `match_id` is
    // not the current match of the sender's room or they do not play in it.
    void client_state(const SignedIn& sender, const std::string& match_id, bool running);

    nlohmann::json public_view(const Room& room) const;
    nlohmann::json member_view(const Room& room, const LobbySession& session) const;
    nlohmann::json lobby_players() const;
    nlohmann::json lobby_rooms() const;
    // The lobby as of the last delta sent (docs/PROTOCOL.md "Lobby deltas"):
    // {seq, rooms:[RoomPublic] by room_id, players:[row] by name}. Changes
    // not pushed yet are not in it; they follow as deltas.
    nlohmann::json lobby_snapshot() const;
    // Before a snapshot is answered on `session`: the batch still being fanned
    // out reaches it first, so every delta up to the snapshot's seq precedes
    // the answer on its stream.
    void catch_up_lobby(LobbySession& session);
    const LobbyCounters& lobby_counters() const { return lobby_counters_; }

    const MatchCounters& counters() const { return counters_; }
    std::size_t room_count() const { return rooms_.size(); }
    // Whether `account` is a member of a room on this node.
    bool has_room(store::AccountId account) const;
    // Rooms per state, indexed by RoomState.
    std::array<std::size_t, 4> rooms_by_state() const;
    // Every room with its members and, when one runs, its match (pid,
    // ages): the admin dashboard's view (docs/OPERATIONS.md).
    nlohmann::json admin_view() const;
    // The admin stops the room's running match (ABORTED, players told);
    // false when the room has none that is still live.
    bool admin_stop_match(std::int64_t room_id);
    std::size_t ports_in_use() const { return host_.in_use(); }
    std::size_t cleanups_in_flight() const { return cleanups_in_flight_; }

  private:
    // --- membership and events (room_service.cpp)
    Room* room_of(store::AccountId account);
    const Room* room_of(store::AccountId account) const;
    // The room `account` is in; NOT_FOUND when none.
    Room& room_of_member(store::AccountId account);
    // CONFLICT when `who` is already in a room, here or (as the shared lobby
    // lists it) on another node.
    void require_no_room(const SignedIn& who);
    void remove_member(Room& room, store::AccountId account, const std::string& why);
    void publish_room(const Room& room);
    // Calls fn for every signed-in player connection of a member of `room`.
    void for_each_member_session(const Room& room, const std::function<void(LobbySession&)>& fn);
    void send_to_members(const Room& room, std::string_view event, const nlohmann::json& data);

    // --- the lobby as deltas (room_service.cpp). Changes mark rows dirty;
    // a 50 ms window later flush_lobby() compares each dirty row with what
    // was last published and pushes one numbered delta per difference.
    // The room's row and its members' rows (also those who just left it).
    void mark_room(std::int64_t room_id);
    void mark_player(const std::string& name);
    void schedule_lobby_flush(std::chrono::milliseconds within = std::chrono::milliseconds(50));
    void flush_lobby();
    // Offers fanout_batch_ to the next slice of connections, then yields to
    // the I/O loop until the rest; the next batch waits for the last slice.
    void continue_fanout();
    // fanout_batch_ to one connection, unless it was offered it already.
    void offer_lobby_batch(LobbySession& session);
    // The current rows of the players named in `only`, or of everyone.
    std::map<std::string, nlohmann::json> player_rows(const std::set<std::string>* only) const;

    // --- matches (match_lifecycle.cpp)
    // WAITING -> STARTING with a fresh match id, tokens and a place from
    // the match host; returns the id. launch() then records and starts it.
    std::string start_match(Room& room);
    boost::asio::awaitable<void> launch(std::int64_t room_id, std::string match_id);
    // Whether `match_id` is still the live match of room `room_id`.
    bool is_live(std::int64_t room_id, const std::string& match_id) const;
    void on_process_exit(std::int64_t room_id, const std::string& match_id, std::string how);
    // The report grace is over: no END/ERROR came, the match CRASHED.
    void on_report_grace_over(std::int64_t room_id, const std::string& match_id);
    boost::asio::awaitable<void> record_in_game(std::string match_id, std::int64_t at);
    // Diagnostic only: never gates IN_GAME, never touches room state.
    void start_healthcheck(Room& room, const packages::LaunchContext& context);
    boost::asio::awaitable<void> run_healthcheck(std::int64_t room_id, std::string match_id,
                                                 std::vector<std::string> hosts, std::uint16_t port,
                                                 std::shared_ptr<HealthcheckProbe> probe);
    void conclude_abandoned_healthcheck(const Room& room, ActiveMatch& match);
    // The one reset path. False if the match was already terminal or is not current.
    bool finish(Room& room, const std::string& match_id, store::MatchStatus status,
                std::string reason, nlohmann::json results);
    boost::asio::awaitable<void> cleanup(std::int64_t room_id, ActiveMatch match,
                                         store::MatchStatus status, std::string reason,
                                         std::string results_json);
    // Looks at every live match; returns how soon it must look again: every
    // tuning_.watchdog_tick while a match waits for STARTED or no player is
    // in it, else a tenth of the shortest heartbeat allowance (kill factor x
    // interval), at most a second. With 2,000 heartbeating matches that is
    // 2 scans a second rather than 10 (docs/MATCHES.md "Timeouts").
    std::chrono::milliseconds watchdog_tick();
    // Brings the next look forward to tuning_.watchdog_tick (a match was
    // spawned: its startup clock runs).
    void watch_closely();
    void arm_watchdog(std::chrono::milliseconds after);
    // Whether no player of the room's live match is in it any more: each
    // has left the room, is disconnected, or their client has exited.
    bool everyone_left(const Room& room) const;
    // Keeps match.ended for members who were disconnected when it happened.
    void keep_missed_result(const Room& room, const nlohmann::json& ended);

    PlatformServices& services_;
    MatchHost& host_;
    RoomTuning tuning_;
    std::map<std::int64_t, Room> rooms_;
    std::int64_t next_room_id_ = 1;
    std::function<std::optional<std::int64_t>()> room_ids_;
    std::optional<nlohmann::json> remote_room(std::int64_t room_id) const;
    std::optional<nlohmann::json> merged_player(const std::string& name,
                                                const std::optional<nlohmann::json>& local) const;
    struct RemotePart {
        std::map<std::int64_t, nlohmann::json> rooms;
        std::map<std::string, nlohmann::json> players;
    };
    std::map<std::string, RemotePart> remote_lobby_;  // by node id
    std::function<std::optional<std::string>(const std::string&)> node_address_;
    std::function<void(std::vector<LobbyItem>)> share_lobby_;
    std::map<std::string, nlohmann::json> shared_rows_;  // what the other nodes were last given
    std::size_t cleanups_in_flight_ = 0;
    std::function<void()> on_drained_;
    bool shutting_down_ = false;
    MatchCounters counters_;
    boost::asio::steady_timer watchdog_;
    std::chrono::steady_clock::time_point watchdog_due_{};
    boost::asio::steady_timer lobby_update_;
    bool lobby_update_pending_ = false;
    // The batch being fanned out (null when none) and the session ids it has
    // yet to reach: [fanout_next_, fanout_end_).
    std::shared_ptr<const std::string> fanout_batch_;
    std::uint64_t fanout_next_ = 0;
    std::uint64_t fanout_end_ = 0;
    bool flush_after_fanout_ = false;
    boost::asio::steady_timer lobby_fanout_;
    struct MissedResult {
        nlohmann::json ended;
        std::chrono::steady_clock::time_point at;
    };
    std::map<store::AccountId, MissedResult> missed_results_;
    std::set<std::int64_t> dirty_rooms_;
    std::set<std::string> dirty_players_;
    std::map<std::int64_t, nlohmann::json> published_rooms_;
    std::map<std::string, nlohmann::json> published_players_;
    LobbyCounters lobby_counters_;
};

}  // namespace gamestore::server
