// `fakegame server`: a game server built on the C++ SDK that behaves well by
// default and misbehaves on request (ServerOptions). The order of the steps
// below is the order of a real server's life: env, bind, STARTED, players,
// moves, END, exit.
#include <poll.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "fakegames/control_plane_abuse.hpp"
#include "fakegames/helper_processes.hpp"
#include "fakegames/options.hpp"
#include "fakegames/sandbox_probes.hpp"
#include "fakegames/scoreboard.hpp"
#include "gamestore/sdk.hpp"

namespace gamestore::fakegames {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class Logger {
  public:
    void set_match(const std::string& match_id) {
        prefix_ = "fakegame server [match " + match_id + "]: ";
    }
    void operator()(const std::string& line) const {
        // One write per line so concurrent threads do not interleave.
        const std::string text = prefix_ + line + "\n";
        std::fwrite(text.data(), 1, text.size(), stderr);
    }

  private:
    std::string prefix_ = "fakegame server: ";
};

// Waits `d` unless the stop fd fires first. Returns false if it fired.
bool wait_or_stop(std::chrono::milliseconds d, int stop_fd) {
    const auto deadline = Clock::now() + d;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            return true;
        }
        pollfd p{stop_fd, POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
        if (rc > 0) {
            return false;
        }
    }
}

// Reads one move line from every player, all at once, until `timeout`.
// Returns false if the stop fd fired.
bool collect_moves(std::vector<sdk::PlayerConnection>& players, std::chrono::milliseconds timeout,
                   int stop_fd, std::vector<PlayerMove>& moves, const Logger& log) {
    moves.clear();
    std::vector<std::size_t> pending;
    for (std::size_t i = 0; i < players.size(); ++i) {
        moves.push_back({players[i].name, players[i].index, std::nullopt, false});
        pending.push_back(i);
    }
    const auto deadline = Clock::now() + timeout;
    while (!pending.empty()) {
        // poll_line first: a move may already sit in the buffer behind the
        // handshake line, where poll() cannot see it.
        std::vector<std::size_t> still;
        for (const auto i : pending) {
            auto r = players[i].connection.poll_line();
            if (r.status == sdk::ReadStatus::Timeout) {
                still.push_back(i);
            } else if (r.ok()) {
                moves[i].move = parse_move(r.line);
                if (!moves[i].move) {
                    log(players[i].name + " sent an invalid move: " + r.line.substr(0, 100));
                }
            } else {
                moves[i].left = true;
                log(players[i].name + " left before moving (" + sdk::to_string(r.status) + ")");
            }
        }
        pending = std::move(still);
        if (pending.empty()) {
            break;
        }
        if (Clock::now() >= deadline) {
            for (const auto i : pending) {
                moves[i].left = true;
                log(players[i].name + " sent no move in time");
            }
            break;
        }
        std::vector<pollfd> fds{{stop_fd, POLLIN, 0}};
        for (const auto i : pending) {
            fds.push_back({players[i].connection.fd(), POLLIN, 0});
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(0, left.count()) + 1));
        if (fds[0].revents != 0) {
            return false;
        }
    }
    return true;
}

int other_port(int port) {
    return port < 65535 ? port + 1 : port - 1;
}

}  // namespace

int run_server(const ServerOptions& o) {
    Logger log;
    // SIGTERM is how the platform stops a match; --ignore-sigterm makes the
    // platform escalate to SIGKILL.
    if (o.ignore_sigterm) {
        ::signal(SIGTERM, SIG_IGN);
    }
    auto& stop = o.ignore_sigterm ? sdk::StopSignal::install({SIGINT})
                                  : sdk::StopSignal::install({SIGTERM, SIGINT});

    sdk::ServerOverrides overrides;
    overrides.port = o.port;
    std::optional<sdk::ServerContext> loaded;
    try {
        loaded = sdk::ServerContext::from_env(overrides);
    } catch (const sdk::ContextError& e) {
        log(e.what());
        return kExitUsage;
    }
    const sdk::ServerContext& ctx = *loaded;
    log.set_match(ctx.match_id());
    std::string names;
    for (const auto& p : ctx.players()) {
        names += (names.empty() ? "" : ",") + p;
    }
    log("room " + std::to_string(ctx.room_id()) + ", players [" + names + "], report to " +
        ctx.report_host() + ":" + std::to_string(ctx.report_port()) + " with token " +
        sdk::redact(ctx.report_token()));

    SandboxProbes probes(o.sandbox, [&log](const std::string& line) { log(line); });
    if (!probes.at_startup(ctx.match_id())) {
        return kExitProbeFailed;
    }
    int helpers_started = 0;  // --attack counts them as part of its own match
    if (o.grandchild) {
        try {
            const pid_t pid = spawn_escaped_grandchild(ctx.match_id(), o.grandchild_lifetime_sec);
            ++helpers_started;
            log("spawned escaped grandchild pid " + std::to_string(pid) + " (" + kGrandchildMarker +
                "=" + ctx.match_id() + ")");
        } catch (const std::exception& e) {
            log(std::string("could not spawn the grandchild: ") + e.what());
        }
    }
    if (o.token_in_argv) {
        // Before any thread exists: the child's death signal follows the
        // forking thread, and this one lives until the server exits.
        try {
            const pid_t pid = spawn_token_holder(ctx.report_token(), o.grandchild_lifetime_sec);
            ++helpers_started;
            log("spawned child pid " + std::to_string(pid) +
                " with REPORT_TOKEN in its argv (--token-in-argv)");
        } catch (const std::exception& e) {
            log(std::string("could not spawn the token-holder child: ") + e.what());
        }
    }
    for (int i = 0; i < o.stdout_spam; ++i) {
        std::printf("fakegame stdout spam line %d: the quick brown fox jumps over the lazy dog\n",
                    i);
    }
    std::fflush(stdout);

    sdk::ReportTarget target = sdk::ReportTarget::from(ctx);
    target.game = "fakegame";
    const sdk::ReportTarget honest_target = target;
    if (o.stale_match_id) {
        target.match_id = ctx.match_id() + "-stale";
    }
    if (o.wrong_report_token) {
        target.report_token = "fakegame-wrong-report-token";
    }
    if (o.heartbeat_interval) {
        target.heartbeat_interval = *o.heartbeat_interval;
    }
    sdk::ReporterOptions reporter_options;
    reporter_options.auto_heartbeat = !o.stop_heartbeats_after.has_value();
    reporter_options.log = [&log](std::string_view line) { log("reporter: " + std::string(line)); };
    sdk::Reporter reporter(target, reporter_options);

    bool started_sent = false;
    const auto report_started = [&](int port) {
        reporter.started(port);
        if (o.duplicate_started) {
            reporter.started(port);
        }
        started_sent = true;
        log("reported STARTED with port " + std::to_string(port));
    };
    if (o.started_before_bind && !o.never_started) {
        // The classic readiness bug: "ready" before the port is even open.
        if (ctx.port() == 0) {
            log("--started-before-bind-ms needs a fixed PORT (STARTED must name it before the bind)");
            return kExitUsage;
        }
        report_started(o.started_wrong_port ? other_port(ctx.port()) : ctx.port());
        log("binding " + std::to_string(o.started_before_bind->count()) +
            " ms after STARTED (--started-before-bind-ms)");
        if (!wait_or_stop(*o.started_before_bind, stop.fd())) {
            log("stopped before binding");
            return kExitOk;
        }
    }

    if (o.delay_bind.count() > 0) {
        log("delaying bind by " + std::to_string(o.delay_bind.count()) + " ms");
        if (!wait_or_stop(o.delay_bind, stop.fd())) {
            log("stopped before binding");
            return kExitOk;
        }
    }
    std::optional<sdk::GameServerSocket> listener;
    try {
        listener.emplace(ctx.bind_host(), ctx.port());
    } catch (const sdk::NetError& e) {
        log(e.what());
        return kExitBindFailed;
    }
    log("listening on " + ctx.bind_host() + ":" + std::to_string(listener->port()));
    if (o.exit_before_started) {
        log("exiting before STARTED with code " + std::to_string(*o.exit_before_started));
        return *o.exit_before_started;
    }

    sdk::HandshakeValidator validator(ctx);

    AbuseOptions abuse_options;
    abuse_options.flood_rate = o.flood_rate;
    abuse_options.flood_seconds = o.flood_seconds;
    abuse_options.oversized_line = o.oversized_line;
    abuse_options.malformed_json = o.malformed_json;
    abuse_options.slowloris_bytes = o.slowloris_bytes;
    abuse_options.slowloris_interval = o.slowloris_interval;
    ControlPlaneAbuse abuse(honest_target, abuse_options,
                            [&log](const std::string& line) { log(line); });

    // Bound, listening, validator ready: handshakes can be answered now.
    if (o.never_started) {
        log("never reporting STARTED (--never-started)");
    } else if (!started_sent) {
        report_started(o.started_wrong_port ? other_port(listener->port()) : listener->port());
    }

    std::jthread manual_heartbeats;
    if (o.stop_heartbeats_after && !o.never_started) {
        manual_heartbeats = std::jthread([&,
                                          limit = *o.stop_heartbeats_after](std::stop_token token) {
            std::mutex m;
            std::condition_variable_any cv;
            std::unique_lock lock(m);
            for (int sent = 0; sent < limit; ++sent) {
                cv.wait_for(lock, token, target.heartbeat_interval, [] { return false; });
                if (token.stop_requested()) {
                    return;
                }
                reporter.heartbeat();
            }
            log("stopped heartbeats after " + std::to_string(limit) + " (--stop-heartbeats-after)");
        });
    }
    std::jthread crash_timer;
    if (o.exit_after_started) {
        // STARTED must be on the platform's side before the crash, or this
        // would just be --exit-before-started.
        reporter.flush(5s);
        crash_timer = std::jthread([&, delay = *o.exit_after_started](std::stop_token token) {
            std::mutex m;
            std::condition_variable_any cv;
            std::unique_lock lock(m);
            cv.wait_for(lock, token, delay, [] { return false; });
            if (!token.stop_requested()) {
                log("exiting " + std::to_string(delay.count()) +
                    " ms after STARTED (--exit-after-started-ms)");
                std::_Exit(kExitCrashAfterStarted);
            }
        });
    }
    abuse.start();

    const AttackContext attack{ctx.match_id(), ctx.report_host(), ctx.report_port(),
                               helpers_started};
    if (const auto code = probes.after_started(attack, stop.fd(), [&] {
            manual_heartbeats = {};
            reporter.stop_heartbeats();
        })) {
        abuse.stop();
        return *code;
    }

    if (o.started_before_accept && !o.never_started) {
        // Connections queue in the listen backlog; nobody answers them yet.
        log("answering no handshake for " + std::to_string(o.started_before_accept->count()) +
            " ms after STARTED (--started-before-accept-ms)");
        if (!wait_or_stop(*o.started_before_accept, stop.fd())) {
            log("stopping on signal before answering any handshake");
            abuse.stop();
            return kExitOk;
        }
    }

    const sdk::AdmitFunction admit = [&](std::string_view line) {
        if (o.reject_all_clients) {
            sdk::HandshakeDecision d;
            d.reason = "this server refuses every player (--reject-all-clients)";
            return d;
        }
        if (o.accept_wrong_token || o.accept_stale_match_id) {
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_object()) {
                // Overwrite what the server should have checked, so the
                // validator's other checks still apply.
                if (o.accept_wrong_token && j.contains("client_token")) {
                    j["client_token"] = ctx.client_token();
                }
                if (o.accept_stale_match_id && j.contains("match_id")) {
                    j["match_id"] = ctx.match_id();
                }
                return validator.validate(j.dump());
            }
        }
        return validator.validate(line);
    };
    const sdk::ReleaseFunction release = [&](const std::string& player) {
        validator.release(player);
    };
    sdk::AcceptOptions accept_options;
    accept_options.timeout = o.player_timeout;
    accept_options.handshake_timeout = o.handshake_timeout;
    accept_options.interrupt_fd = stop.fd();
    accept_options.on_decision = [&log, &probes](const std::string& peer,
                                                 const sdk::HandshakeDecision& d) {
        if (d.ok) {
            probes.player_joined(d.player_name, d.player_index);
        }
        log(d.ok ? "handshake from " + peer + ": accepted " + d.player_name + " as seat " +
                       std::to_string(d.player_index)
                 : "handshake from " + peer + ": rejected (" + d.reason + ")");
    };
    auto joined =
        sdk::accept_players(*listener, ctx.player_count(), admit, release, accept_options);
    if (joined.status == sdk::AcceptStatus::Interrupted) {
        log("stopping on signal while waiting for players");
        abuse.stop();
        return kExitOk;
    }
    if (joined.status == sdk::AcceptStatus::TimedOut) {
        const std::string why =
            "timed out waiting for players: " + std::to_string(joined.players.size()) + " of " +
            std::to_string(ctx.player_count()) + " joined";
        log(why);
        reporter.error(why);
        reporter.flush(5s);
        abuse.stop();
        return kExitTimeout;
    }
    log("all " + std::to_string(joined.players.size()) + " players joined");

    std::vector<PlayerMove> moves;
    if (!collect_moves(joined.players, o.move_timeout, stop.fd(), moves, log)) {
        log("stopping on signal while waiting for moves");
        abuse.stop();
        return kExitOk;
    }
    auto results = score_moves(moves);
    for (auto& p : joined.players) {
        if (auto error = p.connection.try_send_line(scoreboard_line(results, p.name), 2s);
            !error.empty()) {
            log("could not send the scoreboard to " + p.name + ": " + error);
        }
    }
    if (o.result_missing_player && !results.empty()) {
        log("leaving " + results.back().player + " out of END's results (--result-missing-player)");
        results.pop_back();
    }
    if (o.result_duplicate_player && !results.empty()) {
        log("naming " + results.front().player +
            " twice in END's results (--result-duplicate-player)");
        results.push_back(results.front());
    }
    if (o.result_non_member) {
        sdk::PlayerResult stranger;
        stranger.player = *o.result_non_member;
        stranger.outcome = sdk::Outcome::Lose;
        stranger.rank = static_cast<int>(results.size()) + 1;
        stranger.score = 0;
        results.push_back(stranger);
    }
    nlohmann::json extra{{"reason", "scripted exchange finished"}};
    for (const auto& r : results) {
        if (r.outcome == sdk::Outcome::Win) {
            extra["winner"] = r.player;
        }
    }
    manual_heartbeats = {};  // joins: no heartbeat may follow END
    reporter.end(results, extra);
    if (o.end_twice) {
        reporter.end(results, extra);
    }
    if (o.end_then_error) {
        reporter.error("fakegame reports ERROR after END (--end-then-error)");
    }
    log("reported END with " + std::to_string(results.size()) + " results");
    probes.match_ended(results.size());
    if (!reporter.flush(10s)) {
        log("END not acknowledged within 10 s");
    }
    abuse.finish(std::chrono::milliseconds(static_cast<long long>(o.flood_seconds * 1000)) + 5s,
                 stop.fd());
    return kExitOk;
}

}  // namespace gamestore::fakegames
