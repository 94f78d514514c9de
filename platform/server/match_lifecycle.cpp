// Matches: start, reports, the watchdog, and the one reset path. Starting
// and stopping game servers is the match host's (match_host.hpp).

#include <sodium.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "platform/launch/healthcheck_hosts.hpp"
#include "platform/packages/command_template.hpp"
#include "platform/protocol/redact.hpp"
#include "platform/protocol/text.hpp"
#include "platform/server/blocking.hpp"
#include "platform/server/lobby_error.hpp"
#include "platform/server/lobby_session.hpp"
#include "platform/server/room_service.hpp"
#include "platform/server/store_views.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;
using protocol::ErrorCode;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// Pause between two rounds of healthcheck connects, and the most one connect
// attempt may take.
constexpr std::chrono::milliseconds kHealthcheckRetry{100};
constexpr std::chrono::milliseconds kHealthcheckAttempt{1000};

// One TCP connect to host:port within `limit`: success, or why not.
asio::awaitable<boost::system::error_code> connect_once(const std::string& host, std::uint16_t port,
                                                        std::chrono::milliseconds limit) {
    auto executor = co_await asio::this_coro::executor;
    boost::system::error_code ec;
    std::vector<tcp::endpoint> endpoints;
    const auto address = asio::ip::make_address(host, ec);
    if (!ec) {
        endpoints.emplace_back(address, port);
    } else {
        // A host name (healthcheck.host may be one). getaddrinfo cannot be
        // interrupted, so a slow resolver can stretch one attempt; the
        // probe's overall deadline is checked again after it.
        tcp::resolver resolver(executor);
        const std::string service = std::to_string(port);  // no temporaries in co_await (GCC 12)
        const auto results =
            co_await resolver.async_resolve(host, service, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            co_return ec;
        }
        for (const auto& entry : results) {
            endpoints.push_back(entry.endpoint());
        }
    }
    for (const auto& endpoint : endpoints) {
        auto socket = std::make_shared<tcp::socket>(executor);
        auto expired = std::make_shared<bool>(false);
        asio::steady_timer timer(executor, limit);
        timer.async_wait([socket, expired](const boost::system::error_code& timer_ec) {
            if (!timer_ec) {
                *expired = true;
                boost::system::error_code ignored;
                socket->close(ignored);
            }
        });
        co_await socket->async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
        timer.cancel();
        if (*expired) {
            ec = asio::error::timed_out;
        }
        boost::system::error_code ignored;
        socket->close(ignored);
        if (!ec) {
            co_return ec;
        }
    }
    co_return ec;
}

constexpr const char* kMatchIdPrefix = "m-";
constexpr std::size_t kMatchIdHexDigits = 24;

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> raw(bytes);
    randombytes_buf(raw.data(), raw.size());
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes * 2);
    for (unsigned char c : raw) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

bool same_secret(const std::string& expected, const std::string& given) {
    return expected.size() == given.size() && sodium_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

std::chrono::milliseconds seconds_to_ms(double seconds) {
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
}

double ms_to_seconds(std::chrono::milliseconds ms) {
    return static_cast<double>(ms.count()) / 1000.0;
}

json results_json(const std::vector<protocol::PlayerResult>& results) {
    json list = json::array();
    for (const auto& r : results) {
        json row = {{"player", r.player}, {"outcome", std::string(protocol::to_string(r.outcome))}};
        row["rank"] = r.rank ? json(*r.rank) : json(nullptr);
        row["score"] = r.score ? json(*r.score) : json(nullptr);
        if (r.player_id) {
            row["player_id"] = *r.player_id;
        }
        if (!r.extra.is_null()) {
            row["extra"] = r.extra;
        }
        list.push_back(std::move(row));
    }
    return list;
}

// One warning per refused report; the reason's counter is in server.stats
// (matches.refusals). Stale and forged reports show the token they carried,
// redacted, to tell a late report from a forgery.
void log_refusal(const protocol::Report& report, const protocol::Refusal& refusal) {
    using protocol::ReportRefusal;
    const auto status = protocol::to_string(report.status);
    const std::string match_id = protocol::printable(report.match_id);
    switch (refusal.reason) {
        case ReportRefusal::StaleMatch:
            spdlog::warn(
                "control plane: stale {} for room {} match {} (token {}): not the room's current "
                "match; "
                "ignored",
                status, report.room_id, match_id, protocol::redact_token(report.report_token));
            return;
        case ReportRefusal::WrongToken:
            spdlog::warn(
                "control plane: {} for room {} match {} with a wrong report token ({}); ignored",
                status, report.room_id, match_id, protocol::redact_token(report.report_token));
            return;
        case ReportRefusal::MatchEnded:
            spdlog::warn("control plane: {} for room {} match {} after the match ended; ignored",
                         status, report.room_id, match_id);
            return;
        case ReportRefusal::AlreadyStarted:
            spdlog::warn("room {}: match {}: duplicate STARTED ignored", report.room_id, match_id);
            return;
        case ReportRefusal::ServerExited:
            spdlog::warn("room {}: match {}: STARTED after the game server exited; ignored",
                         report.room_id, match_id);
            return;
        case ReportRefusal::WrongPort:
            spdlog::warn(
                "room {}: match {}: STARTED names port {} but the match was given port {}; ignored",
                report.room_id, match_id, report.port.value_or(0), refusal.port);
            return;
        case ReportRefusal::NotAPlayer:
        case ReportRefusal::NamedTwice:
        case ReportRefusal::WinnerIsLoser:
            spdlog::warn("room {}: match {}: END refused: {}", report.room_id, match_id,
                         protocol::refusal_sentence(refusal));
            return;
    }
}

}  // namespace

std::string new_match_id() {
    return kMatchIdPrefix + random_hex(kMatchIdHexDigits / 2);
}

std::optional<std::string> match_id_in(std::string_view text) {
    const std::string_view prefix = kMatchIdPrefix;
    const std::size_t length = prefix.size() + kMatchIdHexDigits;
    for (auto at = text.find(prefix); at != std::string_view::npos && at + length <= text.size();
         at = text.find(prefix, at + 1)) {
        const auto digits = text.substr(at + prefix.size(), kMatchIdHexDigits);
        if (digits.find_first_not_of("0123456789abcdef") == std::string_view::npos) {
            return std::string(text.substr(at, length));
        }
    }
    return std::nullopt;
}

std::string RoomService::start_match(Room& room) {
    ActiveMatch match;
    // Generated and stored before anything is spawned, so even an instant
    // STARTED is validated against them (docs/MATCHES.md, "Identity and secrets of a match").
    match.match_id = new_match_id();
    auto placement = host_.reserve(match.match_id);
    if (auto* why = std::get_if<std::string>(&placement)) {
        throw LobbyError(ErrorCode::Unavailable, *why);
    }
    match.client_token = random_hex(16);
    match.report_token = random_hex(16);
    match.port = std::get<MatchPlacement>(placement).port;
    match.players = room.members;
    match.launched_at = Clock::now();
    match.startup_timeout = tuning_.startup_timeout_override.value_or(seconds_to_ms(room.manifest.startup_timeout_sec));
    match.heartbeat_interval = seconds_to_ms(room.manifest.heartbeat_interval_sec);
    room.last_error.clear();
    room.state = RoomState::Starting;
    const std::string match_id = match.match_id;
    spdlog::info("room {}: WAITING -> STARTING (match {}, port {}, report token {}, client token {})", room.id,
                 match_id, match.port, protocol::redact_token(match.report_token),
                 protocol::redact_token(match.client_token));
    room.match = std::move(match);
    ++counters_.launched;
    publish_room(room);
    return match_id;
}

bool RoomService::is_live(std::int64_t room_id, const std::string& match_id) const {
    const auto it = rooms_.find(room_id);
    return it != rooms_.end() && it->second.match && it->second.match->match_id == match_id &&
           !it->second.match->terminal;
}

asio::awaitable<void> RoomService::launch(std::int64_t room_id, std::string match_id) {
    // Copy what the steps below need; the room may change meanwhile.
    const Room& room = rooms_.at(room_id);
    const ActiveMatch& current = *room.match;
    store::NewMatch record;
    record.match_id = match_id;
    record.room_id = room_id;
    record.game_id = room.game_id;
    record.version_id = room.version_id;
    MatchSpec spec;
    spec.room_id = room_id;
    spec.match_id = match_id;
    spec.manifest = room.manifest;
    spec.package_root = room.package_root;
    spec.client_token = current.client_token;
    spec.report_token = current.report_token;
    for (const auto& player : current.players) {
        record.players.push_back(player.account_id);
        spec.players.push_back(player.name);
    }
    record.started_at = store::unix_ms_now();
    record.node_id = services_.config.node_id;

    std::optional<std::string> failure;
    try {
        co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            unwrap(services_.store.create_match(record));
            return true;
        });
    } catch (const std::exception& e) {
        failure = std::string("could not record the match: ") + e.what();
    }
    if (!is_live(room_id, match_id)) {
        co_return;  // ended while we recorded it (every player left, shutdown)
    }
    if (failure) {
        spdlog::error("room {}: match {}: {}", room_id, match_id, *failure);
        finish(rooms_.at(room_id), match_id, store::MatchStatus::LaunchFailed, *failure, nullptr);
        co_return;
    }
    MatchLaunchHooks hooks;
    hooks.still_wanted = [this, room_id, match_id] { return is_live(room_id, match_id); };
    hooks.on_exit = [this, room_id, match_id](std::string how) {
        on_process_exit(room_id, match_id, std::move(how));
    };
    auto launched = co_await host_.launch(std::move(spec), std::move(hooks));
    if (launched.result == MatchLaunch::Result::Cancelled || !is_live(room_id, match_id)) {
        co_return;
    }
    auto& live = rooms_.at(room_id);
    if (launched.result == MatchLaunch::Result::Failed) {
        if (launched.sandbox_failure) {
            ++counters_.sandbox_failures;
        }
        finish(live, match_id, store::MatchStatus::LaunchFailed, launched.error, nullptr);
        co_return;
    }
    auto& match = *live.match;
    match.pid = launched.pid;
    match.spawned = true;
    // The startup timeout measures the game, not our queue: a launch that
    // waited for the blocking pool must not be charged for it.
    match.spawned_at = Clock::now();
    watch_closely();
    start_healthcheck(live, launched.context);
}

void RoomService::start_healthcheck(Room& room, const packages::LaunchContext& context) {
    auto& match = *room.match;
    packages::HealthcheckTarget target;
    try {
        target = packages::render_healthcheck(room.manifest, context);
    } catch (const std::exception& e) {
        spdlog::warn("healthcheck: room {}: match {}: not run: {}", room.id, match.match_id, e.what());
        return;
    }
    // The same choice as validate_game_package: 127.0.0.1, then
    // healthcheck.host or the host players are told (what spawn_server put
    // in the context); never a bind-only address.
    const auto hosts = launch::healthcheck_hosts(target.host, context.host);
    for (const auto& skipped : hosts.skipped) {
        spdlog::info("healthcheck: room {}: match {}: not connecting to {} (a bind-only address)", room.id,
                     match.match_id, skipped);
    }
    auto probe = std::make_shared<HealthcheckProbe>();
    for (const auto& host : hosts.connect) {
        probe->targets.push_back(net::HostPort{host, target.port}.to_string());
    }
    probe->timeout = seconds_to_ms(target.timeout_sec);
    spdlog::info(
        "healthcheck: room {}: match {}: probing {} for up to {:g} s (diagnostic only: readiness "
        "is STARTED)",
        room.id, match.match_id, protocol::join(probe->targets, " then "), target.timeout_sec);
    match.healthcheck = probe;
    asio::co_spawn(services_.lobby.io(), run_healthcheck(room.id, match.match_id, hosts.connect, target.port, probe),
                   asio::detached);
}

asio::awaitable<void> RoomService::run_healthcheck(std::int64_t room_id, std::string match_id,
                                                   std::vector<std::string> hosts, std::uint16_t port,
                                                   std::shared_ptr<HealthcheckProbe> probe) {
    // Touches no room state: it reports through `probe`, the counters and
    // the log, so it can neither delay nor change IN_GAME.
    const auto began = Clock::now();
    const auto deadline = began + probe->timeout;
    asio::steady_timer pause(co_await asio::this_coro::executor);
    // Bounded by the deadline; each round takes at least kHealthcheckRetry.
    while (!probe->done && Clock::now() < deadline) {
        for (const auto& host : hosts) {
            const auto now = Clock::now();
            if (probe->done || now >= deadline) {
                break;
            }
            ++probe->attempts;
            const auto limit = std::min(kHealthcheckAttempt,
                                        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                                            std::chrono::milliseconds(1));
            const auto ec = co_await connect_once(host, port, limit);
            if (probe->done) {
                co_return;  // the match ended meanwhile; finish() has reported
            }
            const std::string target = net::HostPort{host, port}.to_string();
            if (!ec) {
                probe->done = true;
                ++counters_.healthchecks_passed;
                spdlog::info("healthcheck: room {}: match {}: {} accepts TCP connections ({} ms after spawn, attempt "
                             "{}; diagnostic only)",
                             room_id, match_id, target,
                             std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began).count(),
                             probe->attempts);
                co_return;
            }
            probe->last_error = target + ": " + ec.message();
            spdlog::debug("healthcheck: room {}: match {}: attempt {} failed: {}", room_id, match_id, probe->attempts,
                          probe->last_error);
        }
        const auto now = Clock::now();
        if (probe->done || now >= deadline) {
            break;
        }
        pause.expires_after(std::min<Clock::duration>(kHealthcheckRetry, deadline - now));
        boost::system::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (probe->done) {
        co_return;
    }
    probe->done = true;
    ++counters_.healthchecks_failed;
    spdlog::warn(
        "healthcheck: room {}: match {}: no TCP connection to {} within {:g} s ({} attempts; last "
        "error: "
        "{}); diagnostic only: the match goes on, readiness is STARTED",
        room_id, match_id, protocol::join(probe->targets, " or "), ms_to_seconds(probe->timeout),
        probe->attempts, probe->last_error.empty() ? std::string("none") : probe->last_error);
}

void RoomService::conclude_abandoned_healthcheck(const Room& room, ActiveMatch& match) {
    if (!match.healthcheck || match.healthcheck->done) {
        return;
    }
    auto& probe = *match.healthcheck;
    probe.done = true;
    ++counters_.healthchecks_abandoned;
    spdlog::info(
        "healthcheck: room {}: match {}: abandoned, the match ended first ({} attempts, no TCP "
        "connection "
        "to {}; last error: {})",
        room.id, match.match_id, probe.attempts, protocol::join(probe.targets, " or "),
        probe.last_error.empty() ? std::string("none") : probe.last_error);
}

void RoomService::on_process_exit(std::int64_t room_id, const std::string& match_id,
                                  std::string how) {
    auto it = rooms_.find(room_id);
    if (it == rooms_.end() || !it->second.match || it->second.match->match_id != match_id) {
        return;
    }
    auto& match = *it->second.match;
    match.exited = true;
    spdlog::info("room {}: match {}: game server pid {} ended ({})", room_id, match_id, match.pid,
                 how);
    if (match.terminal) {
        return;
    }
    match.exit_status = std::move(how);
    if (tuning_.report_grace.count() <= 0) {
        on_report_grace_over(room_id, match_id);
        return;
    }
    // A game that reports END and exits at once races its own report: the
    // exit can be reaped before the report's connection is read. Give the
    // reports in flight a moment; the watchdog leaves this match alone
    // meanwhile (its verdict is pending), and an END/ERROR now still counts.
    auto timer = std::make_shared<asio::steady_timer>(services_.lobby.io(), tuning_.report_grace);
    timer->async_wait([this, timer, room_id, match_id](const boost::system::error_code& ec) {
        if (!ec) {
            on_report_grace_over(room_id, match_id);
        }
    });
}

void RoomService::on_report_grace_over(std::int64_t room_id, const std::string& match_id) {
    auto it = rooms_.find(room_id);
    if (it == rooms_.end() || !it->second.match || it->second.match->match_id != match_id ||
        it->second.match->terminal || !it->second.match->exit_status) {
        return;  // a report (or an abort) ended it within the grace
    }
    const auto& match = *it->second.match;
    std::string reason = (match.started ? "the game server exited without reporting END ("
                                        : "the game server exited before reporting STARTED (") +
                         *match.exit_status + ")";
    finish(it->second, match_id, store::MatchStatus::Crashed, std::move(reason), nullptr);
}

asio::awaitable<void> RoomService::record_in_game(std::string match_id, std::int64_t at) {
    try {
        auto recorded = co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            return services_.store.record_match_in_game(match_id, at);
        });
        if (!recorded.ok()) {
            // Conflict: the match ended first; its finish carried in_game_at.
            spdlog::debug("match {}: IN_GAME not recorded: {}", match_id, recorded.error().message);
        }
    } catch (const std::exception& e) {
        spdlog::error("match {}: could not record IN_GAME: {}", match_id, e.what());
    }
}

std::optional<std::chrono::milliseconds> RoomService::report_idle_allowance(
    const protocol::Report& report) const {
    const auto it = rooms_.find(report.room_id);
    if (it == rooms_.end() || !it->second.match || it->second.match->match_id != report.match_id) {
        return std::nullopt;
    }
    const auto interval = it->second.match->heartbeat_interval;
    return std::chrono::duration_cast<std::chrono::milliseconds>(interval *
                                                                 tuning_.heartbeat_kill_factor);
}

std::optional<protocol::Refusal> RoomService::handle_report(const protocol::Report& report) {
    auto it = rooms_.find(report.room_id);
    Room* room = it != rooms_.end() && it->second.match ? &it->second : nullptr;
    protocol::MatchFacts facts;
    facts.room_id = report.room_id;
    bool token_matches = false;
    if (room != nullptr) {
        const auto& current = *room->match;
        facts.match_id = current.match_id;
        facts.port = current.port;
        facts.started = current.started;
        facts.ended = current.terminal;
        facts.server_exited = current.exited;
        for (const auto& player : current.players) {
            facts.players.push_back(player.name);
        }
        token_matches = same_secret(current.report_token, report.report_token);
    }
    if (auto refusal = protocol::check_report(report, facts, token_matches)) {
        ++counters_.refused[protocol::index_of(refusal->reason)];
        log_refusal(report, *refusal);
        return refusal;
    }
    auto& match = *room->match;
    const auto now = Clock::now();
    switch (report.status) {
        case protocol::ReportStatus::Started: {
            match.started = true;
            match.started_at = now;
            match.last_heartbeat = now;
            match.in_game_at = store::unix_ms_now();
            room->state = RoomState::InGame;
            ++counters_.started;
            services_.metrics.launch_latency.observe(
                std::chrono::duration<double>(now - match.launched_at).count());
            spdlog::info(
                "room {}: STARTING -> IN_GAME (match {}, port {}, ready {} ms after start, {} ms "
                "after spawn)",
                room->id, match.match_id, match.port,
                std::chrono::duration_cast<std::chrono::milliseconds>(now - match.launched_at)
                    .count(),
                std::chrono::duration_cast<std::chrono::milliseconds>(now - match.spawned_at)
                    .count());
            publish_room(*room);
            // From here on the match counts as played (history, reviews),
            // also for a restart after a crash.
            asio::co_spawn(services_.lobby.io(), record_in_game(match.match_id, *match.in_game_at), asio::detached);
            return std::nullopt;
        }
        case protocol::ReportStatus::Heartbeat:
            services_.metrics.heartbeat_lateness.observe(std::max(
                0.0,
                std::chrono::duration<double>(now - match.last_heartbeat - match.heartbeat_interval)
                    .count()));
            match.last_heartbeat = now;
            match.heartbeat_warned = false;
            return std::nullopt;
        case protocol::ReportStatus::End: {
            // check_end has accepted every name, so the results name players only.
            json results = nullptr;
            if (report.results) {
                results = results_json(*report.results);
            } else if (report.winner || report.loser) {
                results = json::array();
                if (report.winner) results.push_back({{"player", *report.winner}, {"outcome", "WIN"}});
                if (report.loser) results.push_back({{"player", *report.loser}, {"outcome", "LOSE"}});
            }
            if (match.exited) {
                ++counters_.reports_after_exit;
                spdlog::info(
                    "room {}: match {}: END arrived after the game server exited, within the "
                    "report grace",
                    room->id, match.match_id);
            }
            finish(*room, match.match_id, store::MatchStatus::End,
                   report.reason.value_or("the game ended"), std::move(results));
            return std::nullopt;
        }
        case protocol::ReportStatus::Error:
            if (match.exited) {
                ++counters_.reports_after_exit;
                spdlog::info(
                    "room {}: match {}: ERROR arrived after the game server exited, within the "
                    "report grace",
                    room->id, match.match_id);
            }
            finish(*room, match.match_id, store::MatchStatus::Error,
                   "the game server reported an error: " + report.err_msg.value_or("(no message)"),
                   nullptr);
            return std::nullopt;
    }
    return std::nullopt;
}

bool RoomService::finish(Room& room, const std::string& match_id, store::MatchStatus status, std::string reason,
                         json results) {
    if (!room.match || room.match->match_id != match_id || room.match->terminal) {
        return false;
    }
    auto& match = *room.match;
    match.terminal = true;
    conclude_abandoned_healthcheck(room, match);
    const auto previous = room.state;
    room.state = RoomState::Ending;
    if (!tuning_.debug_keep_ready_after_match) {
        for (auto& member : room.members) {
            member.ready = false;
        }
    }
    const std::string status_text(store::to_string(status));
    room.last_result = {{"match_id", match_id}, {"status", status_text}, {"reason", reason}, {"results", results}};
    if (status != store::MatchStatus::End) {
        room.last_error = reason;
    }
    ++counters_.finished;
    services_.metrics.match_ended(status, {store::unix_ms_now(), room.id, match_id, room.game_name,
                                           room.version, status_text, reason});
    spdlog::info("room {}: {} -> ENDING (match {}: {}: {})", room.id, to_string(previous), match_id, status_text,
                 reason);
    const json ended = {{"room_id", room.id},
                        {"match_id", match_id},
                        {"status", status_text},
                        {"reason", reason},
                        {"results", results}};
    send_to_members(room, "match.ended", ended);
    keep_missed_result(room, ended);
    publish_room(room);
    ++cleanups_in_flight_;
    std::string results_text = results.is_null() ? std::string() : results.dump();
    asio::co_spawn(services_.lobby.io(), cleanup(room.id, match, status, std::move(reason), std::move(results_text)),
                   asio::detached);
    return true;
}

asio::awaitable<void> RoomService::cleanup(std::int64_t room_id, ActiveMatch match, store::MatchStatus status,
                                           std::string reason, std::string results_json) {
    const bool graceful_end = status == store::MatchStatus::End || status == store::MatchStatus::Error;
    try {
        const store::MatchFinish finish_record{status, results_json, store::unix_ms_now(), reason, match.in_game_at};
        auto finished = co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            return services_.store.finish_match(match.match_id, finish_record);
        });
        if (!finished.ok() && finished.error().code != store::StoreError::Code::NotFound) {
            spdlog::error("match {}: could not record the finish: {}", match.match_id, finished.error().message);
        } else {
            spdlog::debug("match {}: recorded as {}", match.match_id, store::to_string(status));
        }
    } catch (const std::exception& e) {
        spdlog::error("match {}: could not record the finish: {}", match.match_id, e.what());
    }
    try {
        co_await host_.stop(match.match_id, graceful_end);
    } catch (const std::exception& e) {
        spdlog::error("match {}: stopping it failed: {}", match.match_id, e.what());
    }
    auto it = rooms_.find(room_id);
    if (it != rooms_.end() && it->second.match && it->second.match->match_id == match.match_id) {
        Room& room = it->second;
        room.match.reset();
        room.state = RoomState::Waiting;
        // Players who disconnected mid-match leave now.
        room.members.erase(std::remove_if(room.members.begin(), room.members.end(),
                                          [](const RoomMember& m) { return !m.connected; }),
                           room.members.end());
        if (room.members.empty()) {
            spdlog::info("room {}: deleted (no members left after match {})", room_id, match.match_id);
            rooms_.erase(it);
            mark_room(room_id);
        } else {
            if (std::none_of(room.members.begin(), room.members.end(),
                             [&](const RoomMember& m) { return m.account_id == room.host; })) {
                room.host = room.members.front().account_id;
            }
            spdlog::info("room {}: ENDING -> WAITING (match {} cleaned up)", room_id, match.match_id);
            publish_room(room);
        }
    }
    --cleanups_in_flight_;
    if (shutting_down_ && cleanups_in_flight_ == 0 && on_drained_) {
        auto done = std::move(on_drained_);
        on_drained_ = nullptr;
        done();
    }
}

void RoomService::start_watchdog() {
    arm_watchdog(tuning_.watchdog_tick);
}

void RoomService::arm_watchdog(std::chrono::milliseconds after) {
    // Re-arming cancels a pending wait, whose handler then does nothing.
    watchdog_due_ = Clock::now() + after;
    watchdog_.expires_at(watchdog_due_);
    watchdog_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || shutting_down_) {
            return;
        }
        arm_watchdog(watchdog_tick());
    });
}

void RoomService::watch_closely() {
    if (!shutting_down_ && watchdog_due_ > Clock::now() + tuning_.watchdog_tick) {
        arm_watchdog(tuning_.watchdog_tick);
    }
}

std::chrono::milliseconds RoomService::watchdog_tick() {
    const auto now = Clock::now();
    auto next = std::max(tuning_.watchdog_tick, std::chrono::milliseconds(1000));
    for (auto& [id, room] : rooms_) {
        if (!room.match || room.match->terminal) {
            continue;
        }
        auto& match = *room.match;
        if (match.exited) {
            continue;  // the report grace decides: END/ERROR, or CRASHED
        }
        if (!match.started) {
            next = tuning_.watchdog_tick;
            // Not spawned yet: still being prepared, the clock has not started.
            if (match.spawned && now - match.spawned_at > match.startup_timeout) {
                finish(room, match.match_id, store::MatchStatus::Timeout,
                       fmt::format("the game server did not report STARTED within {:g} s; it was stopped",
                                   ms_to_seconds(match.startup_timeout)),
                       nullptr);
            }
            continue;
        }
        const auto allowance = std::chrono::duration_cast<std::chrono::milliseconds>(
            match.heartbeat_interval * tuning_.heartbeat_kill_factor);
        next = std::min(next, std::max(tuning_.watchdog_tick, allowance / 10));
        if (everyone_left(room)) {
            next = tuning_.watchdog_tick;
            if (!match.everyone_left_since) {
                match.everyone_left_since = now;
                spdlog::info(
                    "room {}: match {}: no player is in the match any more; it is stopped in {:g} "
                    "s "
                    "unless END comes or a player comes back",
                    room.id, match.match_id, ms_to_seconds(tuning_.everyone_left_grace));
            } else if (now - *match.everyone_left_since >= tuning_.everyone_left_grace) {
                finish(
                    room, match.match_id, store::MatchStatus::Aborted,
                    fmt::format(
                        "everyone left: no player was in the match for {:g} s and the game server "
                        "sent no END; it was stopped",
                        ms_to_seconds(tuning_.everyone_left_grace)),
                    nullptr);
                continue;
            }
        } else if (match.everyone_left_since) {
            match.everyone_left_since.reset();
            spdlog::info("room {}: match {}: a player is back in the match", room.id,
                         match.match_id);
        }
        const auto silence = std::chrono::duration_cast<std::chrono::milliseconds>(now - match.last_heartbeat);
        const double interval = ms_to_seconds(match.heartbeat_interval);
        if (ms_to_seconds(silence) > tuning_.heartbeat_kill_factor * interval) {
            finish(room, match.match_id, store::MatchStatus::Timeout,
                   fmt::format("no heartbeat for {:.1f} s (the limit is {:g} x the {:g} s interval); the game "
                               "server was stopped",
                               ms_to_seconds(silence), tuning_.heartbeat_kill_factor, interval),
                   nullptr);
        } else if (!match.heartbeat_warned && ms_to_seconds(silence) > tuning_.heartbeat_warn_factor * interval) {
            match.heartbeat_warned = true;
            spdlog::warn("room {}: match {}: no heartbeat for {:.1f} s ({:g} x the interval)", room.id,
                         match.match_id, ms_to_seconds(silence), tuning_.heartbeat_warn_factor);
        }
    }
    return next;
}

bool RoomService::everyone_left(const Room& room) const {
    const auto& match = *room.match;
    return std::all_of(match.players.begin(), match.players.end(), [&](const RoomMember& player) {
        const auto member =
            std::find_if(room.members.begin(), room.members.end(),
                         [&](const RoomMember& m) { return m.account_id == player.account_id; });
        return member == room.members.end() || !member->connected ||
               match.clients_exited.count(player.account_id);
    });
}

void RoomService::abort_all(const std::string& reason) {
    for (auto& [id, room] : rooms_) {
        if (room.match && !room.match->terminal) {
            finish(room, room.match->match_id, store::MatchStatus::Aborted, reason, nullptr);
        }
    }
}

void RoomService::shutdown(std::function<void()> done) {
    shutting_down_ = true;
    watchdog_.cancel();
    abort_all("the platform is shutting down");
    if (cleanups_in_flight_ == 0) {
        done();
    } else {
        on_drained_ = std::move(done);
    }
}

void RoomService::reconcile_after_restart() {
    auto open = services_.store.list_open_matches(services_.config.node_id);
    if (!open.ok()) {
        spdlog::error("startup: cannot list open matches: {}", open.error().message);
        return;
    }
    host_.reconcile(*open, [this](const store::Match& match, const std::string& done) {
        // History follows what the previous run recorded: played only if
        // it had reached IN_GAME (record_match_in_game).
        auto finished = services_.store.finish_match(
            match.match_id, store::MatchFinish{store::MatchStatus::Aborted, "", store::unix_ms_now(),
                                               "the platform restarted while the match was running", std::nullopt});
        spdlog::warn(
            "startup: match {} (room {}) was left open by a previous run; closed as ABORTED, {}",
            match.match_id, match.room_id, done);
        (void)finished;
    });
}

}  // namespace gamestore::server
