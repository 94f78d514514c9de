#include "validator/dynamic_checks.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <memory>
#include <set>

#include "platform/launch/healthcheck_hosts.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/protocol/redact.hpp"
#include "platform/protocol/text.hpp"
#include "validator/check_names.hpp"
#include "validator/control_plane.hpp"
#include "validator/game_probes.hpp"
#include "validator/io_thread.hpp"
#include "validator/match_launch.hpp"
#include "validator/match_processes.hpp"
#include "validator/output_capture.hpp"
#include "validator/report_checks.hpp"

namespace gamestore::validator {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using protocol::join;
using protocol::ReportStatus;
using std::chrono::milliseconds;

namespace {

// How often the orchestrator re-checks process state while it waits for a
// report (reports themselves wake it at once).
constexpr milliseconds kTick{25};
// How often /proc is scanned for tokens in argv and escaped processes.
constexpr milliseconds kScanEvery{200};

constexpr const char* kSeatTaken =
    "the server seated player1 on a handshake it should have refused (see handshake_rejects_bad_token / "
    "handshake_rejects_stale_match), so player1's seat is taken";

milliseconds scaled(double seconds, double scale) {
    return milliseconds(static_cast<long long>(seconds * scale * 1000.0));
}

// Game output quoted in a check's sentence: enough to recognise it.
constexpr std::size_t kQuotedOutputBytes = 100;

std::string in_quotes(const std::string& text) {
    return protocol::in_quotes(text, kQuotedOutputBytes);
}

struct ClientRun {
    std::string player;
    pid_t pid = -1;
    pid_t pgid = -1;
    std::unique_ptr<OutputCapture> output;
    std::string spawn_error;
    bool stopped_by_us = false;
};

class MatchSession {
  public:
    MatchSession(const DynamicRun& run, CheckBook& book) : run_(run), book_(book) {}
    ~MatchSession() { emergency_cleanup(); }

    DynamicResult execute();

  private:
    // --- waiting -----------------------------------------------------------
    template <typename Done>
    bool wait_until(Done&& done, Clock::time_point deadline) {
        // Bounded by the deadline; reports wake the wait at once, process
        // state is re-checked every kTick.
        for (;;) {
            const auto seen = control_plane_->version();
            tick();
            if (done()) {
                return true;
            }
            const auto now = Clock::now();
            if (now >= deadline) {
                return false;
            }
            control_plane_->wait_for_change(seen, std::min(deadline, now + kTick));
        }
    }

    void tick() {
        processes_->reap();
        if (!server_exit_at_ && processes_->server_status()) {
            server_exit_at_ = Clock::now();
        }
        if (Clock::now() - last_scan_ >= kScanEvery) {
            processes_->scan();
            last_scan_ = Clock::now();
        }
    }

    std::size_t terminal_count() const {
        return control_plane_->count(ReportStatus::End) + control_plane_->count(ReportStatus::Error);
    }

    // After the server's exit, lets the control plane finish the lines it
    // already received (the exit is often seen before the last report).
    void settle_reports() {
        wait_until([&] { return control_plane_->open_connections() == 0; }, Clock::now() + milliseconds(1000));
    }

    std::vector<std::string> secrets() const { return {match_.context.client_token, match_.context.report_token}; }
    // Text from the game, safe to show: tokens redacted, control characters gone.
    std::string shown(const std::string& text) const { return in_quotes(redact_secrets(text, secrets())); }
    std::vector<std::string> log_tail(const OutputCapture& output, std::size_t lines) const {
        auto tail = output.tail(lines);
        for (auto& line : tail) line = protocol::printable(redact_secrets(line, secrets()), 300);
        return tail;
    }

    std::string server_exit_text() const {
        return processes_->server_status() ? describe_wait_status(*processes_->server_status()) : "is still running";
    }

    // --- phases --------------------------------------------------------------
    bool launch_server();
    void wait_for_started();
    void probe_handshakes();
    void probe_valid_player();
    void watch_heartbeats();
    void play_with_clients();
    void stop_server();
    void stop_clients();
    void check_nothing_left();
    void judge_conversation();
    void judge_clients();
    // The heartbeat gap, in intervals, past which heartbeat_cadence fails.
    int kill_factor() const {
        return run_.options.debug_strict_heartbeats ? 1 : kHeartbeatKillFactor;
    }
    // Every player's client gets scripted input (--client-input).
    bool all_clients_fed() const;
    void judge_tokens_in_argv();
    void emergency_cleanup();

    const DynamicRun& run_;
    CheckBook& book_;
    // Declared first so it outlives everything that uses the io thread.
    std::unique_ptr<IoThread> io_;
    ServerMatch match_;
    std::unique_ptr<MockControlPlane> control_plane_;
    std::unique_ptr<MatchProcesses> processes_;
    std::unique_ptr<OutputCapture> server_output_;
    std::unique_ptr<HandshakeTap> tap_;
    std::vector<ClientRun> clients_;
    std::deque<HandshakeOutcome> held_probes_;  // closed once the server is stopped
    bool seat_taken_by_bad_probe_ = false;

    Clock::time_point launched_at_;
    Clock::time_point last_scan_;
    std::optional<Clock::time_point> started_at_;
    std::optional<Clock::time_point> server_exit_at_;
    std::optional<Clock::time_point> stop_sent_at_;
    std::optional<Clock::time_point> clients_launched_at_;
    // The match timeout passed with the server and clients still running
    // (judged after the validator stopped them): the clients may be waiting
    // for a player at the keyboard.
    bool clients_still_playing_ = false;
    std::string no_end_reason_ = "the validator stopped the match before it ended";
    std::string match_end_problem_;  // why the played match did not reach END
};

bool MatchSession::launch_server() {
    io_ = std::make_unique<IoThread>();
    const auto port = find_free_port();
    match_ = prepare_server_match(run_.work_dir / "match", run_.players, port, 0);
    ExpectedMatch expected;
    expected.room_id = match_.context.room_id;
    expected.match_id = match_.context.match_id;
    expected.report_token = match_.context.report_token;
    expected.port = port;
    expected.players = match_.context.players;
    expected.secrets = secrets();
    control_plane_ = std::make_unique<MockControlPlane>(io_->io(), expected);
    match_.context.report_port = control_plane_->port();
    processes_ = std::make_unique<MatchProcesses>(
        match_.marker, std::vector<std::pair<std::string, std::string>>{
                           {"client_token", match_.context.client_token},
                           {"report_token", match_.context.report_token}});
    if (run_.display_pid > 0) {
        processes_->add_helper(run_.display_pid);
    }

    auto prepared = server_launch(run_.manifest, match_, run_.package_root, run_.sandbox);
    if (auto* error = std::get_if<std::string>(&prepared)) {
        book_.fail(checks::kStartedWithinTimeout, "the server could not be launched: " + *error);
        return false;
    }
    auto& launch_plan = std::get<launch::GameServerLaunch>(prepared);
    auto& process = launch_plan.sandboxed.process;
    server_output_ = std::make_unique<OutputCapture>(io_->io(), run_.work_dir / "server.log");
    process.output_fd = server_output_->write_fd();
    launched_at_ = Clock::now();
    last_scan_ = launched_at_;
    auto spawned = launch::spawn_process(process);
    server_output_->writer_spawned();
    launch_plan.sandboxed.descriptors.clear();
    if (auto* error = std::get_if<std::string>(&spawned)) {
        book_.fail(checks::kStartedWithinTimeout,
                   "the server could not be started: " + *error +
                       " (server.command: " + protocol::join(launch_plan.game_argv, " ") + ")");
        return false;
    }
    const auto& server = std::get<launch::SpawnedProcess>(spawned);
    processes_->set_server(server.pid, server.pgid);
    processes_->scan();
    return true;
}

void MatchSession::wait_for_started() {
    const auto limit = scaled(run_.manifest.startup_timeout_sec, run_.options.timeout_scale);
    const auto deadline = launched_at_ + limit;
    wait_until([&] { return control_plane_->first(ReportStatus::Started) || !processes_->server_running(); },
               deadline);
    if (!control_plane_->first(ReportStatus::Started) && !processes_->server_running()) {
        settle_reports();
    }
    const auto started = control_plane_->first(ReportStatus::Started);
    char scale_text[32];
    std::snprintf(scale_text, sizeof scale_text, "%g", run_.options.timeout_scale);
    const std::string scale_note =
        run_.options.timeout_scale == 1.0 ? "" : std::string(" x ") + scale_text + " (--timeout-scale)";
    const std::string limit_text = format_seconds(limit) + ", server.startup_timeout" + scale_note;
    const auto port = match_.context.port;
    if (started) {
        started_at_ = started->at;
        book_.pass(checks::kStartedWithinTimeout,
                   "STARTED arrived " + format_seconds(elapsed_ms(launched_at_, started->at)) + " after launch (limit: " +
                       limit_text + ")",
                   elapsed_ms(launched_at_, started->at));
        return;
    }
    // No STARTED: say whether the server at least listened, so the developer
    // knows which half is missing.
    const auto elapsed = elapsed_ms(launched_at_, Clock::now());
    if (!processes_->server_running()) {
        book_.fail(checks::kStartedWithinTimeout,
                   "the server " + server_exit_text() + " " + format_seconds(elapsed_ms(launched_at_, *server_exit_at_)) +
                       " after launch without sending STARTED; it must report STARTED to REPORT_HOST:REPORT_PORT "
                       "once it listens on PORT and can answer handshakes (see the server log below)",
                   {}, elapsed);
        book_.skip(checks::kServerBindsPort, "the server exited before it could be probed");
        return;
    }
    const auto probe = probe_connect(*io_, "127.0.0.1", port, milliseconds(1000));
    const std::string listening =
        probe.connected ? "it was listening on port " + std::to_string(port) + ", so it bound but never reported"
                        : "nothing was listening on port " + std::to_string(port) + " either";
    book_.fail(checks::kStartedWithinTimeout,
               "the server did not send STARTED within " + limit_text + "; " + listening +
                   "; it must report STARTED to REPORT_HOST:REPORT_PORT as soon as it listens on PORT and can answer "
                   "handshakes (see the server log below)",
               {}, elapsed);
    if (probe.connected) {
        book_.pass(checks::kServerBindsPort,
                   "127.0.0.1:" + std::to_string(port) + " accepts TCP connections (diagnostic only: readiness is "
                   "STARTED)");
    } else {
        book_.warn(checks::kServerBindsPort,
                   "nothing accepted TCP connections on 127.0.0.1:" + std::to_string(port) + " after " +
                       format_seconds(elapsed) + " (" + probe.error +
                       "); bind BIND_HOST:PORT (diagnostic only: readiness is STARTED)");
    }
}

void MatchSession::probe_handshakes() {
    const auto timeout = scaled(3.0, run_.options.timeout_scale);
    const auto port = match_.context.port;
    protocol::HandshakeRequest request;
    request.room_id = match_.context.room_id;
    request.match_id = match_.context.match_id;
    request.player_name = match_.context.players.front();
    request.client_token = random_hex(16);  // wrong on purpose
    request.client_protocol_version = protocol::kHandshakeProtocolVersion;
    // A probe the server wrongly accepts stays open like a seated player, so
    // the game does not see a player leave and the remaining checks still
    // look at a running match.
    held_probes_.push_back(probe_handshake(*io_, port, request, timeout, true));
    const auto& bad = held_probes_.back();

    const std::string where = "127.0.0.1:" + std::to_string(port);
    if (!bad.connected) {
        book_.fail(checks::kHandshakeReadyAtStarted,
                   "STARTED arrived but " + where + " did not accept a connection right after it (" +
                       bad.connect_error + "): send STARTED only once the listen socket is open and handshakes are "
                       "answered",
                   {}, bad.elapsed);
    } else if (bad.timed_out) {
        book_.fail(checks::kHandshakeReadyAtStarted,
                   "right after STARTED, " + where + " accepted the connection but did not answer a handshake within " +
                       format_seconds(timeout) + ": STARTED means the server can already answer handshakes",
                   {}, bad.elapsed);
    } else {
        book_.pass(checks::kHandshakeReadyAtStarted,
                   "right after STARTED, " + where + " answered a handshake within " + format_seconds(bad.elapsed),
                   bad.elapsed);
    }

    // Both refusal probes are judged alike.
    auto judge_refusal = [&](std::string_view check, const HandshakeOutcome& outcome, const std::string& what,
                             const std::string& fix) {
        if (!outcome.connected || outcome.timed_out) {
            book_.skip(check, "the handshake probe got no answer (see handshake_ready_at_started)");
        } else if (outcome.closed_without_reply) {
            book_.warn(check, "the server closed the connection after a handshake with " + what +
                                  " without answering; reply {\"ok\":false,\"reason\":...} first so the client can "
                                  "tell the player why",
                       {}, outcome.elapsed);
        } else if (!outcome.response) {
            book_.fail(check,
                       "the server's reply to a handshake with " + what + " is not a valid handshake response (" +
                           outcome.reply_error + "): " + shown(outcome.reply_line.value_or("")),
                       {}, outcome.elapsed);
        } else if (outcome.response->ok) {
            book_.fail(check, "the server accepted a handshake with " + what + ": " + fix, {}, outcome.elapsed);
        } else {
            book_.pass(check,
                       "a handshake with " + what + " was refused" +
                           (outcome.response->reason ? ": " + in_quotes(*outcome.response->reason) : ""),
                       outcome.elapsed);
        }
    };
    judge_refusal(checks::kHandshakeRejectsBadToken, bad, "a wrong client_token",
                  "compare client_token with CLIENT_TOKEN (or the file at CLIENT_TOKEN_PATH) before accepting anyone");
    seat_taken_by_bad_probe_ = bad.response && bad.response->ok;

    if (seat_taken_by_bad_probe_) {
        // player1's seat is taken by an impostor; what the server does with
        // more handshakes says nothing until the token check is fixed.
        book_.skip(checks::kHandshakeRejectsStaleMatch, kSeatTaken);
    } else {
        request.client_token = match_.context.client_token;
        request.match_id = new_match_id();  // a match that is not this one
        held_probes_.push_back(probe_handshake(*io_, port, request, timeout, true));
        const auto& stale = held_probes_.back();
        judge_refusal(checks::kHandshakeRejectsStaleMatch, stale, "a stale match_id",
                      "compare match_id with MATCH_ID before accepting, so a client of an older match cannot join");
        seat_taken_by_bad_probe_ = stale.response && stale.response->ok;
    }

    // The healthcheck, diagnostic only (docs/MATCHES.md "Readiness"), with
    // the platform's host choice: 127.0.0.1, then healthcheck.host or the
    // advertised host; a bind-only address ({bind_host} = 0.0.0.0) is never
    // a connect target.
    std::vector<std::pair<std::string, std::uint16_t>> targets{{"127.0.0.1", port}};
    try {
        const auto health = packages::render_healthcheck(run_.manifest, match_.context);
        for (const auto& host : launch::healthcheck_hosts(health.host, match_.context.host).connect) {
            const std::pair<std::string, std::uint16_t> target{host, health.port};
            if (std::find(targets.begin(), targets.end(), target) == targets.end()) {
                targets.push_back(target);
            }
        }
    } catch (const std::exception& e) {
        book_.warn(checks::kServerBindsPort, std::string("the healthcheck cannot be rendered: ") + e.what());
        return;
    }
    std::vector<std::string> refused;
    for (const auto& [host, target_port] : targets) {
        const auto outcome = probe_connect(*io_, host, target_port, scaled(2.0, run_.options.timeout_scale));
        if (!outcome.connected) {
            refused.push_back(host + ":" + std::to_string(target_port) + " (" + outcome.error + ")");
        }
    }
    if (refused.empty()) {
        std::vector<std::string> names;
        for (const auto& [host, target_port] : targets) names.push_back(host + ":" + std::to_string(target_port));
        book_.pass(checks::kServerBindsPort,
                   join(names, " and ") + (names.size() == 1 ? " accepts" : " accept") +
                       " TCP connections (diagnostic only: readiness is STARTED)");
    } else {
        book_.warn(checks::kServerBindsPort,
                   "no TCP connection to " + join(refused, ", ") +
                       " although STARTED arrived; check that healthcheck.tcp_port/host name where the server listens "
                       "(diagnostic only: readiness is STARTED)",
                   refused);
    }
}

void MatchSession::probe_valid_player() {
    if (seat_taken_by_bad_probe_) {
        book_.skip(checks::kHandshakeAcceptsValidClient, kSeatTaken);
        return;
    }
    protocol::HandshakeRequest request;
    request.room_id = match_.context.room_id;
    request.match_id = match_.context.match_id;
    request.player_name = match_.context.players.front();
    request.client_token = match_.context.client_token;
    request.client_protocol_version = protocol::kHandshakeProtocolVersion;
    const auto timeout = scaled(3.0, run_.options.timeout_scale);
    held_probes_.push_back(probe_handshake(*io_, match_.context.port, request, timeout, true));
    const auto& outcome = held_probes_.back();
    const std::string who = request.player_name;
    if (!outcome.connected || outcome.timed_out) {
        book_.fail(checks::kHandshakeAcceptsValidClient,
                   "a valid handshake for " + who + " got no answer within " + format_seconds(timeout) + " (" +
                       (outcome.connect_error.empty() ? "no reply" : outcome.connect_error) + ")",
                   {}, outcome.elapsed);
    } else if (outcome.response && outcome.response->ok) {
        book_.pass(checks::kHandshakeAcceptsValidClient,
                   "a valid handshake for " + who + " was accepted" +
                       (outcome.response->assigned_player_index
                            ? " (seat " + std::to_string(*outcome.response->assigned_player_index) + ")"
                            : "") +
                       "; the connection stayed open until the server was stopped",
                   outcome.elapsed);
    } else if (outcome.response) {
        book_.fail(checks::kHandshakeAcceptsValidClient,
                   "the server refused a valid handshake for " + who +
                       (outcome.response->reason ? " (" + in_quotes(*outcome.response->reason) + ")" : "") +
                       ": accept room_id ROOM_ID, match_id MATCH_ID, a player_name from PLAYERS_JSON and client_token "
                       "CLIENT_TOKEN",
                   {}, outcome.elapsed);
    } else if (outcome.closed_without_reply) {
        book_.fail(checks::kHandshakeAcceptsValidClient,
                   "the server closed the connection after a valid handshake for " + who +
                       " without answering; reply {\"ok\":true,...} to a valid handshake",
                   {}, outcome.elapsed);
    } else {
        book_.fail(checks::kHandshakeAcceptsValidClient,
                   "the server's reply to a valid handshake is not a valid handshake response (" + outcome.reply_error +
                       "): " + shown(outcome.reply_line.value_or("")),
                   {}, outcome.elapsed);
    }
}

void MatchSession::watch_heartbeats() {
    const auto interval = milliseconds(static_cast<long long>(run_.manifest.heartbeat_interval_sec * 1000.0));
    const auto slack = scaled(0.25, run_.options.timeout_scale);
    const auto limit = interval * 3 / 2 + slack;
    // Past this gap the platform stops the match (its kill factor, 5x).
    const auto kill_limit = interval * kill_factor() + slack;
    // K whole intervals of time, not just K heartbeats: a burst of early
    // heartbeats must not cut the observation short.
    const auto window_end = *started_at_ + interval * run_.options.heartbeat_cycles;
    auto beats = [&] {
        std::size_t n = 0;
        Clock::time_point last = *started_at_;
        for (const auto at : control_plane_->heartbeat_times()) {
            if (at > *started_at_) {
                ++n;
                last = std::max(last, at);
            }
        }
        return std::pair{n, last};
    };
    // The window closes after K intervals. A silence that is still going on
    // then, after the first heartbeat, is watched on until it ends or the
    // platform would have stopped the match: only that fails. No heartbeat
    // at all ends the watch with the window (or 1.5 intervals after STARTED,
    // so a first heartbeat right at the end of a short window counts): a
    // game may wait for its players before it heartbeats.
    for (;;) {
        if (terminal_count() > 0 || !processes_->server_running()) {
            break;
        }
        const auto [seen, last] = beats();
        const auto now = Clock::now();
        const bool window_over = now >= window_end;
        if (window_over && (seen > 0 ? now < last + limit : now >= last + limit)) {
            break;
        }
        if (now >= last + kill_limit) {
            break;
        }
        const auto deadline = !window_over ? std::min(window_end, last + kill_limit)
                              : seen == 0  ? last + limit
                                           : last + kill_limit;
        wait_until([&] { return beats().first != seen || terminal_count() > 0 || !processes_->server_running(); },
                   deadline);
    }
}

void MatchSession::play_with_clients() {
    if (!processes_->server_running() || terminal_count() > 0) {
        match_end_problem_ = "the server " +
                             (processes_->server_running() ? std::string("ended the match") : server_exit_text()) +
                             " before the clients were launched";
        return;
    }
    tap_ = std::make_unique<HandshakeTap>(*io_, match_.context.port);
    clients_launched_at_ = Clock::now();
    for (const auto& player : match_.context.players) {
        ClientRun client;
        client.player = player;
        const auto dir = run_.work_dir / ("client-" + player);
        const auto launch = prepare_client(dir, match_, player, "127.0.0.1", tap_->port());
        auto spec = client_process_spec(run_.manifest, launch, run_.package_root);
        if (auto* error = std::get_if<std::string>(&spec)) {
            client.spawn_error = *error;
            clients_.push_back(std::move(client));
            continue;
        }
        auto& process = std::get<launch::ProcessSpec>(spec);
        if (!run_.client_display.empty()) {
            std::erase_if(process.env, [](const auto& entry) { return entry.first == "DISPLAY"; });
            process.env.emplace_back("DISPLAY", run_.client_display);
        }
        if (const auto input = run_.options.client_input.find(player);
            input != run_.options.client_input.end()) {
            process.input_file = input->second;
        }
        client.output = std::make_unique<OutputCapture>(io_->io(), run_.work_dir / ("client-" + player + ".log"));
        process.output_fd = client.output->write_fd();
        auto spawned = launch::spawn_process(process);
        client.output->writer_spawned();
        if (auto* error = std::get_if<std::string>(&spawned)) {
            client.spawn_error = *error;
        } else {
            const auto& info = std::get<launch::SpawnedProcess>(spawned);
            client.pid = info.pid;
            client.pgid = info.pgid;
            processes_->add_client(info.pid, info.pgid, player);
        }
        clients_.push_back(std::move(client));
    }

    auto all_clients_done = [&] {
        return std::all_of(clients_.begin(), clients_.end(), [&](const ClientRun& c) {
            return c.pid <= 0 || processes_->client_status(c.pid).has_value();
        });
    };
    const auto deadline = *clients_launched_at_ + scaled(static_cast<double>(run_.options.match_timeout.count()) / 1000.0,
                                                         run_.options.timeout_scale);
    std::optional<Clock::time_point> all_done_at;
    // The platform's watchdog stops a match whose heartbeats stop for its
    // kill factor x the interval: so does this wait (heartbeat_cadence then
    // fails with the gap).
    const auto interval =
        milliseconds(static_cast<long long>(run_.manifest.heartbeat_interval_sec * 1000.0));
    const auto kill_limit = interval * kill_factor() + scaled(0.25, run_.options.timeout_scale);
    const auto heartbeats_stopped = [&] {
        std::vector<Clock::time_point> beats;
        for (const auto at : control_plane_->heartbeat_times()) {
            if (at > *started_at_)
                beats.push_back(at);
        }
        return Clock::now() - heartbeat_silence_from(*started_at_, clients_launched_at_, beats) >
               kill_limit;
    };
    bool silenced = false;
    wait_until(
        [&] {
            if (terminal_count() > 0 || !processes_->server_running()) {
                return true;
            }
            if (heartbeats_stopped()) {
                silenced = true;
                return true;
            }
            if (all_clients_done()) {
                if (!all_done_at) all_done_at = Clock::now();
                // The server gets the grace period to report after the last
                // client left.
                return Clock::now() - *all_done_at >= run_.options.grace;
            }
            return false;
        },
        deadline);
    if (!processes_->server_running()) {
        settle_reports();
    }
    if (terminal_count() > 0) {
        return;
    }
    if (silenced && processes_->server_running()) {
        match_end_problem_ =
            "the server stopped sending HEARTBEAT while the clients played, for longer than the "
            "platform allows (" +
            format_seconds(kill_limit) + "): the platform would stop this match as TIMEOUT";
    } else if (!processes_->server_running()) {
        match_end_problem_ = "the server " + server_exit_text() + " " +
                             format_seconds(elapsed_ms(*clients_launched_at_, *server_exit_at_)) +
                             " after the clients were launched, without END";
    } else if (all_done_at) {
        match_end_problem_ = "every client exited but the server sent no END within " +
                             format_seconds(run_.options.grace) + " (--grace) after the last one";
    } else {
        match_end_problem_ = "no END within " + format_seconds(elapsed_ms(*clients_launched_at_, deadline)) +
                             " (--match-timeout) after the clients were launched";
        clients_still_playing_ = true;
    }
}

void MatchSession::stop_server() {
    tick();
    // A quick match may end between two scans: look once more before the
    // stop, so what left the server's group is seen while it still runs.
    processes_->scan();
    last_scan_ = Clock::now();
    const auto group = processes_->server_group_members();
    const auto marked = processes_->live_marked_outside();
    if (group.empty() && marked.empty()) {
        book_.skip(checks::kSigtermStopsGroup,
                   "the server " + server_exit_text() +
                       " by itself before the validator stopped it, so SIGTERM handling was not exercised" +
                       (run_.launch_clients ? " (run without --players to test it)" : ""));
        return;
    }
    const pid_t pgid = processes_->server_pgid();
    stop_sent_at_ = Clock::now();
    // Exactly the platform's stop: SIGTERM + SIGCONT to the group and to the
    // escaped processes that carry the match's MATCH_ID.
    ::kill(-pgid, SIGTERM);
    ::kill(-pgid, SIGCONT);
    for (const pid_t pid : marked) {
        ::kill(pid, SIGTERM);
        ::kill(pid, SIGCONT);
    }
    const auto grace = run_.options.grace;
    const auto deadline = *stop_sent_at_ + grace;
    for (;;) {
        // /proc has no "group became empty" event: re-check at a bounded cadence.
        const auto seen = control_plane_->version();
        tick();
        // The environment scan for escaped processes is the expensive part:
        // only once the group itself is gone.
        if (processes_->server_group_members().empty() && processes_->live_marked_outside().empty()) {
            break;
        }
        const auto now = Clock::now();
        if (now >= deadline) {
            break;
        }
        control_plane_->wait_for_change(seen, std::min(deadline, now + milliseconds(20)));
    }
    const auto took = elapsed_ms(*stop_sent_at_, Clock::now());
    const auto group_left = processes_->server_group_members();
    const auto marked_left = processes_->live_marked_outside();
    std::vector<std::string> problems;
    if (!group_left.empty()) {
        std::vector<std::string> names;
        for (const pid_t pid : group_left) names.push_back(processes_->describe(pid));
        problems.push_back("the server ignored SIGTERM: " + join(names, ", ") + " still ran " + format_seconds(grace) +
                           " after SIGTERM to its process group; exit promptly on SIGTERM (close sockets, exit 0), "
                           "the platform SIGKILLs the group after the grace period");
    }
    if (!marked_left.empty()) {
        std::vector<std::string> names;
        for (const pid_t pid : marked_left) names.push_back(processes_->describe(pid));
        problems.push_back("a process escaped the process group with setsid and outlived SIGTERM: " +
                           join(names, ", ") + "; keep every child in the server's process group (no setsid, no "
                           "daemonizing) so the platform's stop reaches it");
    }
    if (problems.empty()) {
        std::string note;
        if (!marked.empty()) {
            note = " (including " + std::to_string(marked.size()) +
                   " process(es) outside the group, found only by their MATCH_ID environment entry)";
        }
        book_.pass(checks::kSigtermStopsGroup,
                   "the server's process group was gone " + format_seconds(took) + " after SIGTERM (grace " +
                       format_seconds(grace) + ")" + note,
                   took);
    } else {
        book_.fail(checks::kSigtermStopsGroup, problems.front(), problems, took);
    }
    // Then what the platform does next: SIGKILL whatever is left.
    if (!group_left.empty()) {
        ::kill(-pgid, SIGKILL);
    }
    for (const pid_t pid : marked_left) {
        ::kill(pid, SIGKILL);
    }
    wait_until([&] { return processes_->server_group_members().empty() && processes_->live_marked_outside().empty(); },
               Clock::now() + milliseconds(3000));
}

void MatchSession::stop_clients() {
    if (clients_.empty()) {
        return;
    }
    auto running = [&] {
        std::vector<ClientRun*> out;
        for (auto& client : clients_) {
            if (client.pid > 0 && !processes_->client_status(client.pid)) out.push_back(&client);
        }
        return out;
    };
    // Clients get the grace period to finish by themselves (the player's
    // launcher waits for them too).
    wait_until([&] { return running().empty(); }, Clock::now() + run_.options.grace);
    for (auto* client : running()) {
        client->stopped_by_us = true;
        ::kill(-client->pgid, SIGTERM);
        ::kill(-client->pgid, SIGCONT);
    }
    if (!wait_until([&] { return running().empty(); }, Clock::now() + milliseconds(2000))) {
        for (auto* client : running()) {
            ::kill(-client->pgid, SIGKILL);
        }
        wait_until([&] { return running().empty(); }, Clock::now() + milliseconds(2000));
    }
    // Whatever else is left in the clients' groups.
    if (!processes_->live_client_processes().empty()) {
        for (const auto& client : clients_) {
            if (client.pgid > 1) {
                ::kill(-client.pgid, SIGKILL);
            }
        }
        wait_until([&] { return processes_->live_client_processes().empty(); }, Clock::now() + milliseconds(2000));
    }
}

void MatchSession::check_nothing_left() {
    tick();
    std::set<pid_t> left;
    for (const pid_t pid : processes_->server_group_members()) left.insert(pid);
    for (const pid_t pid : processes_->live_marked_outside()) left.insert(pid);
    for (const pid_t pid : processes_->live_escaped()) left.insert(pid);
    for (const pid_t pid : processes_->live_client_processes()) left.insert(pid);
    if (left.empty() && !processes_->escaped_seen().empty()) {
        std::vector<std::string> names;
        for (const auto& [pid, escaped] : processes_->escaped_seen()) names.push_back(escaped.process);
        book_.warn(checks::kNothingLeftRunning,
                   names.front() + " left the server's process group during the match; it ended in time here, but "
                                   "the platform's stop signals the group, so keep every child in it",
                   names);
        return;
    }
    if (left.empty()) {
        book_.pass(checks::kNothingLeftRunning,
                   "after the stop no process of the match was running: the server's group was empty and nothing "
                   "that left it (by setsid or as an orphan) survived");
        return;
    }
    std::vector<std::string> names;
    for (const pid_t pid : left) {
        names.push_back(processes_->describe(pid));
    }
    book_.fail(checks::kNothingLeftRunning,
               names.front() + " was still running after the match was stopped: it left the server's process group "
                               "(setsid or daemonizing)" +
                   (processes_->live_marked_outside().empty() ? " and does not carry " + match_.marker : "") +
                   ", so the platform cannot find or stop it; keep every child in the server's process group and "
                   "let it end with the server",
               names);
    for (const pid_t pid : left) {
        ::kill(pid, SIGKILL);
    }
    wait_until(
        [&] {
            processes_->reap_orphans();
            return processes_->live_escaped().empty();
        },
        Clock::now() + milliseconds(3000));
    processes_->reap_orphans();
}

void MatchSession::judge_tokens_in_argv() {
    const auto& leaks = processes_->token_leaks();
    if (processes_->scans() == 0) {
        book_.skip(checks::kNoTokensInArgv, "no process of the match could be inspected");
        return;
    }
    if (leaks.empty()) {
        book_.pass(checks::kNoTokensInArgv,
                   "the argv of every process of the match was scanned " + std::to_string(processes_->scans()) +
                       " times while it ran: no client_token or report_token");
        return;
    }
    std::vector<std::string> details;
    for (const auto& leak : leaks) {
        details.push_back("the " + leak.token + " is in the argv of " + leak.process);
    }
    book_.fail(checks::kNoTokensInArgv,
               details.front() + ": any local user can read argv (ps, /proc/PID/cmdline); pass tokens only through "
                                 "the environment or the *_TOKEN_PATH files, also to child processes",
               details);
}

bool MatchSession::all_clients_fed() const {
    return std::all_of(
        match_.context.players.begin(), match_.context.players.end(),
        [&](const std::string& player) { return run_.options.client_input.count(player) > 0; });
}

void MatchSession::judge_clients() {
    if (!run_.launch_clients) {
        const std::string why = !run_.clients_skipped.empty()
                                    ? run_.clients_skipped
                                    : "no clients were launched (pass --players N to play a match "
                                      "with the package's own clients, "
                                      "started with GAMESTORE_BOT=1)";
        book_.skip(checks::kClientHandshake, why);
        book_.skip(checks::kMatchPlaysToEnd, why);
        return;
    }
    if (!started_at_) {
        book_.skip(checks::kClientHandshake, "the server never sent STARTED, so no client was launched");
        book_.skip(checks::kMatchPlaysToEnd, "the server never sent STARTED, so no client was launched");
        book_.skip(checks::kHandshakeAcceptsValidClient, "the server never sent STARTED, so no client was launched");
        return;
    }
    if (clients_.empty()) {
        book_.skip(checks::kClientHandshake, "no client was launched: " + match_end_problem_);
        book_.skip(checks::kHandshakeAcceptsValidClient, "no client was launched: " + match_end_problem_);
        book_.fail(checks::kMatchPlaysToEnd, match_end_problem_ + " (see the server log below)");
        return;
    }

    // What each client said first through the tap, and what the server answered.
    const auto sessions = tap_ ? tap_->sessions() : std::vector<HandshakeTap::Session>{};
    std::vector<std::string> client_problems;
    std::vector<std::string> refusals;
    std::vector<std::string> accepted;
    std::size_t valid_handshakes = 0;
    std::set<std::string> seen_players;
    for (const auto& session : sessions) {
        if (!session.client_line) {
            if (session.ended) {
                client_problems.push_back("a client connected to the server and closed the connection without "
                                          "sending a handshake");
            } else {
                client_problems.push_back("a client connected to the server and never sent its handshake line");
            }
            continue;
        }
        auto parsed = protocol::parse_handshake_request(*session.client_line);
        if (auto* error = std::get_if<std::string>(&parsed)) {
            client_problems.push_back("a client's first line is not a handshake v1: " + *error + " in " +
                                      shown(*session.client_line));
            continue;
        }
        const auto& request = std::get<protocol::HandshakeRequest>(parsed);
        seen_players.insert(request.player_name);
        std::vector<std::string> wrong;
        if (request.room_id != match_.context.room_id) wrong.push_back("room_id " + std::to_string(request.room_id));
        if (request.match_id != match_.context.match_id) wrong.push_back("match_id " + in_quotes(request.match_id));
        if (std::find(match_.context.players.begin(), match_.context.players.end(), request.player_name) ==
            match_.context.players.end()) {
            wrong.push_back("player_name " + in_quotes(request.player_name));
        }
        if (request.client_token != match_.context.client_token) {
            wrong.push_back("a client_token (" + protocol::redact_token(request.client_token) +
                            ") that is not CLIENT_TOKEN");
        }
        if (request.client_protocol_version != protocol::kHandshakeProtocolVersion) {
            wrong.push_back("client_protocol_version " + std::to_string(request.client_protocol_version));
        }
        if (!wrong.empty()) {
            client_problems.push_back(protocol::printable(request.player_name, 40) + "'s client sent " +
                                      join(wrong, ", ") +
                                      " (use ROOM_ID, MATCH_ID, PLAYER_NAME and CLIENT_TOKEN from the environment)");
            continue;
        }
        ++valid_handshakes;
        std::optional<protocol::HandshakeResponse> response;
        if (session.server_line) {
            auto answer = protocol::parse_handshake_response(*session.server_line);
            if (auto* ok = std::get_if<protocol::HandshakeResponse>(&answer)) response = *ok;
        }
        if (!session.server_line) {
            refusals.push_back("the server never answered " + request.player_name + "'s valid handshake");
        } else if (!response) {
            refusals.push_back("the server answered " + request.player_name + "'s valid handshake with " +
                               shown(*session.server_line) + ", which is not a handshake response");
        } else if (!response->ok) {
            refusals.push_back("the server refused " + request.player_name + "'s valid handshake" +
                               (response->reason ? " (" + in_quotes(*response->reason) + ")" : ""));
        } else {
            accepted.push_back(request.player_name);
        }
    }
    for (const auto& client : clients_) {
        if (!client.spawn_error.empty()) {
            client_problems.push_back(client.player + "'s client could not be started: " + client.spawn_error);
        } else if (!seen_players.count(client.player) && sessions.empty()) {
            client_problems.push_back(client.player + "'s client never connected to HOST:PORT");
        }
    }
    if (client_problems.empty() && valid_handshakes >= clients_.size()) {
        book_.pass(checks::kClientHandshake,
                   "every client connected to HOST:PORT and sent a handshake v1 with its ROOM_ID, MATCH_ID, "
                   "PLAYER_NAME and CLIENT_TOKEN");
    } else {
        if (client_problems.empty()) {
            client_problems.push_back(std::to_string(valid_handshakes) + " of " + std::to_string(clients_.size()) +
                                      " clients sent a valid handshake");
        }
        book_.fail(checks::kClientHandshake,
                   client_problems.front() + "; the client must connect to HOST:PORT and send the handshake v1 as "
                                             "its first line",
                   client_problems);
    }
    if (!refusals.empty()) {
        book_.fail(checks::kHandshakeAcceptsValidClient,
                   refusals.front() + ": accept room_id ROOM_ID, match_id MATCH_ID, a player_name from PLAYERS_JSON "
                                      "and client_token CLIENT_TOKEN",
                   refusals);
    } else if (accepted.empty()) {
        book_.skip(checks::kHandshakeAcceptsValidClient, "no client sent a valid handshake (see client_handshake)");
    } else {
        book_.pass(checks::kHandshakeAcceptsValidClient,
                   "the server accepted the valid handshake of " + join(accepted, ", "));
    }

    // The match itself.
    std::vector<std::string> client_notes;
    bool clients_clean = true;
    for (const auto& client : clients_) {
        if (client.pid <= 0) {
            clients_clean = false;
            continue;
        }
        const auto status = processes_->client_status(client.pid);
        std::string note = client.player + "'s client ";
        if (client.stopped_by_us) {
            note += "did not exit by itself and was stopped";
            clients_clean = false;
        } else if (status) {
            note += describe_wait_status(*status);
            if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) clients_clean = false;
        } else {
            note += "is still running";
            clients_clean = false;
        }
        client_notes.push_back(note);
        if (client.output && (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0 || client.stopped_by_us)) {
            for (const auto& line : log_tail(*client.output, 8)) {
                client_notes.push_back("  " + client.player + "> " + line);
            }
        }
    }
    const auto terminals = control_plane_->reports();
    const ReportRecord* end = nullptr;
    const ReportRecord* error = nullptr;
    for (const auto& record : terminals) {
        if (!record.report) continue;
        if (record.report->status == ReportStatus::End && !end && !error) end = &record;
        if (record.report->status == ReportStatus::Error && !end && !error) error = &record;
    }
    if (end) {
        const auto took = elapsed_ms(*clients_launched_at_, end->at);
        // A GUI package's clients drew on this screen (the validator's own
        // Xvfb, or the DISPLAY it was given).
        const std::string screen =
            run_.client_display.empty()
                ? std::string()
                : " (GUI clients on " +
                      (run_.display_pid > 0
                           ? "the validator's virtual display " + run_.client_display
                           : "DISPLAY " + run_.client_display) +
                      ")";
        if (clients_clean) {
            book_.pass(checks::kMatchPlaysToEnd,
                       "the match with " + std::to_string(clients_.size()) +
                           " client(s) reached END " + format_seconds(took) +
                           " after they were launched, and every client exited with code 0" +
                           screen,
                       took, client_notes);
        } else {
            book_.warn(checks::kMatchPlaysToEnd,
                       "the match reached END " + format_seconds(took) +
                           " after the clients were launched, but not every client exited cleanly by itself (see "
                           "below); a client should exit 0 once the match is over",
                       client_notes, took);
        }
    } else if (error) {
        book_.fail(checks::kMatchPlaysToEnd,
                   "the server reported ERROR " + in_quotes(error->report->err_msg.value_or("")) +
                       " instead of playing the match to END with the package's own clients (GAMESTORE_BOT=1)",
                   client_notes, elapsed_ms(*clients_launched_at_, error->at));
    } else if (clients_still_playing_ && !all_clients_fed() && client_problems.empty() &&
               refusals.empty() && accepted.size() == clients_.size()) {
        // Every client is in the match; the platform's players would be at
        // their keyboards: a client that waits for them is no fault of the
        // package.
        book_.skip(checks::kMatchPlaysToEnd,
                   match_end_problem_ +
                       ", with the clients still running: they do not play by themselves, so "
                       "whether the match "
                       "reaches END was not checked; to check it, make the client play alone when "
                       "GAMESTORE_BOT=1 "
                       "is set, or feed each CLI client its moves with --client-input PLAYER=FILE");
    } else {
        book_.fail(checks::kMatchPlaysToEnd,
                   match_end_problem_ + "; the clients (GAMESTORE_BOT=1" +
                       (run_.options.client_input.empty() ? std::string()
                                                          : ", and the --client-input files") +
                       ") must be able to play the match until the server reports END (see the "
                       "client notes and "
                       "the server log below)",
                   client_notes);
    }
}

void MatchSession::judge_conversation() {
    Conversation conversation;
    conversation.reports = control_plane_->reports();
    conversation.connections = control_plane_->connections();
    conversation.expected.room_id = match_.context.room_id;
    conversation.expected.match_id = match_.context.match_id;
    conversation.expected.report_token = match_.context.report_token;
    conversation.expected.port = match_.context.port;
    conversation.expected.players = match_.context.players;
    conversation.launched_at = launched_at_;
    conversation.heartbeat_interval_sec = run_.manifest.heartbeat_interval_sec;
    conversation.heartbeat_slack = scaled(0.25, run_.options.timeout_scale);
    conversation.heartbeat_limit =
        milliseconds(static_cast<long long>(run_.manifest.heartbeat_interval_sec * 1500.0)) +
        conversation.heartbeat_slack;
    conversation.heartbeat_cycles = run_.options.heartbeat_cycles;
    conversation.heartbeat_kill_factor = kill_factor();
    conversation.clients_launched_at = clients_launched_at_;
    // Heartbeats count until the first of: END/ERROR, the server's own exit,
    // the validator's SIGTERM.
    auto end = Clock::now();
    if (stop_sent_at_) end = std::min(end, *stop_sent_at_);
    if (server_exit_at_ && (!stop_sent_at_ || *server_exit_at_ < *stop_sent_at_)) {
        end = std::min(end, *server_exit_at_);
        conversation.server_exit = server_exit_text();
    }
    const auto terminals = conversation.terminals();
    if (!terminals.empty()) {
        end = std::min(end, terminals.front()->at);
    }
    conversation.observation_end = end;
    if (run_.launch_clients && !match_end_problem_.empty()) {
        no_end_reason_ = match_end_problem_;
    } else if (conversation.server_exit) {
        no_end_reason_ = "the server " + *conversation.server_exit + " without one";
    }
    conversation.no_end_reason = no_end_reason_;

    judge_started_fields(conversation, book_);
    if (started_at_) {
        judge_heartbeat_cadence(conversation, book_);
        judge_end_results(conversation, book_);
        judge_single_terminal(conversation, book_);
    }
    judge_reports_authenticated(conversation, book_);
    judge_control_plane_hygiene(conversation, book_);
}

void MatchSession::emergency_cleanup() {
    // Only reached with something still running when a step threw: never
    // leave a game process behind.
    if (!processes_) {
        return;
    }
    if (processes_->server_pgid() > 1 && !processes_->server_group_members().empty()) {
        ::kill(-processes_->server_pgid(), SIGKILL);
    }
    for (const pid_t pid : processes_->live_marked_outside()) ::kill(pid, SIGKILL);
    for (const auto& client : clients_) {
        if (client.pgid > 1) ::kill(-client.pgid, SIGKILL);
    }
    for (const pid_t pid : processes_->live_escaped()) ::kill(pid, SIGKILL);
    // Reap what we killed (bounded).
    const auto deadline = Clock::now() + milliseconds(2000);
    while (Clock::now() < deadline && (!processes_->live_escaped().empty() ||
                                       !processes_->server_group_members().empty())) {
        processes_->reap();
        processes_->reap_orphans();
        ::poll(nullptr, 0, 10);
    }
    processes_->reap();
    processes_->reap_orphans();
}

DynamicResult MatchSession::execute() {
    DynamicResult result;
    const auto remember_match = [&] { result.match_id = match_.context.match_id; };
    const std::string never_started = "the server never sent STARTED";
    const bool launched = launch_server();
    remember_match();
    if (!launched) {
        book_.skip_undecided({checks::kServerBindsPort, checks::kStartedFields, checks::kStartedPortEcho,
                              checks::kHandshakeReadyAtStarted, checks::kHandshakeRejectsBadToken,
                              checks::kHandshakeRejectsStaleMatch, checks::kHandshakeAcceptsValidClient,
                              checks::kHeartbeatCadence, checks::kClientHandshake, checks::kMatchPlaysToEnd,
                              checks::kEndResultsSchema, checks::kSingleTerminalReport,
                              checks::kReportsAuthenticated, checks::kControlPlaneHygiene, checks::kNoTokensInArgv,
                              checks::kSigtermStopsGroup, checks::kNothingLeftRunning},
                             "the server could not be launched");
        if (server_output_) result.server_log_tail = log_tail(*server_output_, 20);
        return result;
    }
    wait_for_started();
    if (started_at_) {
        probe_handshakes();
        if (run_.launch_clients) {
            // As on the platform: the clients right after STARTED, and the
            // heartbeats judged while they play (a fault that strikes after
            // a quick match has ended never shows on the platform either).
            play_with_clients();
        } else {
            probe_valid_player();
            watch_heartbeats();
        }
    } else {
        book_.skip_undecided({checks::kHandshakeReadyAtStarted, checks::kHandshakeRejectsBadToken,
                              checks::kHandshakeRejectsStaleMatch, checks::kHandshakeAcceptsValidClient,
                              checks::kHeartbeatCadence, checks::kEndResultsSchema, checks::kSingleTerminalReport},
                             never_started);
    }
    stop_server();
    stop_clients();
    for (auto& probe : held_probes_) {
        close_held(*io_, probe);
    }
    if (tap_) tap_->close();
    check_nothing_left();
    settle_reports();
    control_plane_->shutdown();
    judge_conversation();
    judge_clients();
    judge_tokens_in_argv();
    if (server_output_) result.server_log_tail = log_tail(*server_output_, 20);
    return result;
}

}  // namespace

DynamicResult run_dynamic_checks(const DynamicRun& run, CheckBook& book) {
    MatchSession session(run, book);
    return session.execute();
}

}  // namespace gamestore::validator
