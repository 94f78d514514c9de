// Matches: launch, reports, the watchdog, and the one reset path.

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "platform/launch/game_server.hpp"
#include "platform/launch/healthcheck_hosts.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/packages/command_template.hpp"
#include "platform/protocol/redact.hpp"
#include "platform/protocol/text.hpp"
#include "platform/server/blocking.hpp"
#include "platform/server/lobby_error.hpp"
#include "platform/server/lobby_session.hpp"
#include "platform/server/package_ingest.hpp"
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

// Cadence of the cheap liveness checks while a process group is stopped.
constexpr std::chrono::milliseconds kStopPoll{20};
// Pause between two rounds of healthcheck connects, and the most one connect
// attempt may take.
constexpr std::chrono::milliseconds kHealthcheckRetry{100};
constexpr std::chrono::milliseconds kHealthcheckAttempt{1000};

// Polls (cheap checks only) until the group and `escaped` are gone; false
// at the deadline.
asio::awaitable<bool> wait_until_gone(asio::steady_timer& tick, pid_t pgid, const std::vector<pid_t>& escaped,
                                      Clock::time_point deadline) {
    for (;;) {
        const bool left = launch::group_has_members(pgid) ||
                          std::any_of(escaped.begin(), escaped.end(), [](pid_t pid) { return launch::process_alive(pid); });
        if (!left) {
            co_return true;
        }
        const auto now = Clock::now();
        if (now >= deadline) {
            co_return false;
        }
        tick.expires_after(std::min<Clock::duration>(kStopPoll, deadline - now));
        boost::system::error_code ec;
        co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

// What a /proc scan finds left of a match: live group members (zombies do
// not count) and escaped processes.
struct Leftovers {
    bool group = false;
    std::vector<pid_t> escaped;
};

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

// Match ids: this prefix and random lowercase hex digits.
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

std::string RoomService::start_match(Room& room) {
    const auto port = ports_.acquire();
    if (!port) {
        throw LobbyError(ErrorCode::Unavailable, "every game port (" +
                                                     std::to_string(services_.config.game_port_first) + "-" +
                                                     std::to_string(services_.config.game_port_last) +
                                                     ") is in use; try again when a match ends");
    }
    ActiveMatch match;
    // Generated and stored before anything is spawned, so even an instant
    // STARTED is validated against them (docs/MATCHES.md, "Identity and secrets of a match").
    match.match_id = kMatchIdPrefix + random_hex(kMatchIdHexDigits / 2);
    match.client_token = random_hex(16);
    match.report_token = random_hex(16);
    match.port = *port;
    match.dir = services_.config.data_dir / "matches" / match.match_id;
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

asio::awaitable<void> RoomService::launch(std::int64_t room_id, std::string match_id) {
    // Copy what the blocking step needs; the room may change meanwhile.
    const Room& room = rooms_.at(room_id);
    const ActiveMatch snapshot = *room.match;
    store::NewMatch record;
    record.match_id = match_id;
    record.room_id = room_id;
    record.game_id = room.game_id;
    record.version_id = room.version_id;
    for (const auto& player : snapshot.players) {
        record.players.push_back(player.account_id);
    }
    record.started_at = store::unix_ms_now();
    json player_names = json::array();
    for (const auto& player : snapshot.players) {
        player_names.push_back(player.name);
    }

    std::optional<std::string> failure;
    std::uint64_t package_bytes = 0;
    const bool sandboxed = services_.sandbox.mode() == launch::SandboxMode::Bwrap;
    const auto package_root = room.package_root;
    try {
        co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            launch::create_private_dir(snapshot.dir);
            launch::write_private_file(snapshot.dir / "client_token", snapshot.client_token);
            launch::write_private_file(snapshot.dir / "report_token", snapshot.report_token);
            launch::write_private_file(snapshot.dir / "players.json", player_names.dump());
            unwrap(services_.store.create_match(record));
            // The size of the sandbox's writable view starts from this.
            if (sandboxed) {
                package_bytes = launch::package_view_bytes(package_root);
            }
            return true;
        });
    } catch (const std::exception& e) {
        failure = std::string("could not prepare the match: ") + e.what();
    }

    auto it = rooms_.find(room_id);
    const bool current = it != rooms_.end() && it->second.match && it->second.match->match_id == match_id &&
                         !it->second.match->terminal;
    if (!current) {
        // Ended while we prepared (every player left, shutdown); its cleanup
        // may have run before the directory existed.
        co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            remove_read_only_tree(snapshot.dir);
            return true;
        });
        co_return;
    }
    if (failure) {
        spdlog::error("room {}: match {}: {}", room_id, match_id, *failure);
        finish(it->second, match_id, store::MatchStatus::LaunchFailed, *failure, nullptr);
        co_return;
    }
    spawn_server(it->second, package_bytes);
    auto& match = *it->second.match;
    if (match.spawned) {
        const store::ProcessInfo info{match.pid, match.pgid, match.start_time};
        auto recorded = co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            return services_.store.record_match_process(match_id, info);
        });
        if (!recorded.ok()) {
            spdlog::debug("match {}: process not recorded: {}", match_id, recorded.error().message);
        }
    }
}

void RoomService::spawn_server(Room& room, std::uint64_t package_bytes) {
    auto& match = *room.match;
    const auto& config = services_.config;
    packages::LaunchContext context;
    context.room_id = room.id;
    context.match_id = match.match_id;
    context.port = match.port;
    context.host = config.advertise_host.empty() ? "127.0.0.1" : config.advertise_host;
    context.bind_host = config.bind_host;
    context.report_host = (config.report_listen.host == "0.0.0.0" || config.report_listen.host == "::")
                              ? "127.0.0.1"
                              : config.report_listen.host;
    context.report_port = report_port_;
    context.client_token = match.client_token;
    context.report_token = match.report_token;
    context.client_token_path = match.dir / "client_token";
    context.report_token_path = match.dir / "report_token";
    for (const auto& player : match.players) {
        context.players.push_back(player.name);
    }
    context.players_json_path = match.dir / "players.json";
    context.match_dir = match.dir;

    auto prepared = launch::prepare_game_server(room.manifest, context, room.package_root,
                                                package_bytes, services_.sandbox);
    if (auto* error = std::get_if<std::string>(&prepared)) {
        finish(room, match.match_id, store::MatchStatus::LaunchFailed, *error, nullptr);
        return;
    }
    auto& launch_plan = std::get<launch::GameServerLaunch>(prepared);
    auto& process = launch_plan.sandboxed.process;
    if (services_.sandbox.mode() == launch::SandboxMode::None) {
        spdlog::warn("room {}: match {}: launching without a sandbox (--sandbox none)", room.id,
                     match.match_id);
    }

    int fds[2] = {-1, -1};
    if (::pipe2(fds, O_CLOEXEC) == 0) {
        process.output_fd = fds[1];
    }
    auto spawned = launch::spawn_process(process);
    if (fds[1] >= 0) {
        ::close(fds[1]);
    }
    launch_plan.sandboxed.descriptors.clear();
    if (auto* error = std::get_if<std::string>(&spawned)) {
        if (fds[0] >= 0) {
            ::close(fds[0]);
        }
        if (services_.sandbox.mode() == launch::SandboxMode::Bwrap) {
            ++counters_.sandbox_failures;
        }
        finish(room, match.match_id, store::MatchStatus::LaunchFailed, "the game server could not start: " + *error,
               nullptr);
        return;
    }
    const auto& process_info = std::get<launch::SpawnedProcess>(spawned);
    match.pid = process_info.pid;
    match.pgid = process_info.pgid;
    match.start_time = process_info.start_time;
    match.spawned = true;
    // The startup timeout measures the game, not our queue: a launch that
    // waited for the blocking pool must not be charged for it.
    match.spawned_at = Clock::now();
    spdlog::info("room {}: match {}: game server pid {} spawned ({}): {}", room.id, match.match_id,
                 match.pid, launch::sandbox_mode_name(services_.sandbox.mode()),
                 fmt::format("{}", fmt::join(launch_plan.game_argv, " ")));
    if (fds[0] >= 0) {
        pump_log(fds[0], config.data_dir / "logs" / (match.match_id + ".log"));
    }
    const auto room_id = room.id;
    const auto match_id = match.match_id;
    // Right after the spawn, before this handler returns to the event loop:
    // the reaper's contract (child_reaper.hpp).
    reaper_.watch(match.pid, [this, room_id, match_id](int status) { on_process_exit(room_id, match_id, status); });
    start_healthcheck(room, context);
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

void RoomService::pump_log(int read_fd, fs::path log_file) {
    std::error_code ec;
    fs::create_directories(log_file.parent_path(), ec);
    const int out = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    auto stream = std::make_shared<asio::posix::stream_descriptor>(services_.lobby.io(), read_fd);
    const std::size_t cap = tuning_.match_log_cap_bytes;
    asio::co_spawn(
        services_.lobby.io(),
        [stream, out, cap]() -> asio::awaitable<void> {
            std::string buffer(16 * 1024, '\0');
            std::size_t written = 0;
            bool truncated = false;
            for (;;) {
                boost::system::error_code ec;
                const std::size_t n = co_await stream->async_read_some(asio::buffer(buffer),
                                                                       asio::redirect_error(asio::use_awaitable, ec));
                if (ec || n == 0) {
                    break;
                }
                if (out < 0 || truncated) {
                    continue;  // keep draining so the game never blocks on a full pipe
                }
                const std::size_t room_left = cap > written ? cap - written : 0;
                const std::size_t take = std::min(room_left, n);
                if (take > 0 && ::write(out, buffer.data(), take) > 0) {
                    written += take;
                }
                if (take < n) {
                    static const std::string note = "\n[gamestore: log truncated here]\n";
                    [[maybe_unused]] auto ignored = ::write(out, note.data(), note.size());
                    truncated = true;
                }
            }
            if (out >= 0) {
                ::close(out);
            }
        },
        asio::detached);
}

void RoomService::on_process_exit(std::int64_t room_id, const std::string& match_id, int wait_status) {
    auto it = rooms_.find(room_id);
    if (it == rooms_.end() || !it->second.match || it->second.match->match_id != match_id) {
        return;
    }
    auto& match = *it->second.match;
    match.exited = true;
    spdlog::info("room {}: match {}: game server pid {} ended ({})", room_id, match_id, match.pid,
                 launch::describe_game_exit(wait_status, services_.sandbox.mode()));
    if (match.terminal) {
        return;
    }
    match.exit_status = wait_status;
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
                         launch::describe_game_exit(*match.exit_status, services_.sandbox.mode()) +
                         ")";
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
    if (match.spawned) {
        try {
            const auto stopped = co_await stop_processes(match.pgid, match.match_id, graceful_end);
            if (stopped.killed) {
                spdlog::warn("match {}: the game server ignored SIGTERM for {} ms; killed its process group{}",
                             match.match_id, tuning_.stop_grace.count(),
                             stopped.escaped_killed ? " and " + std::to_string(stopped.escaped_killed) +
                                                          " escaped process(es)"
                                                    : std::string());
            } else {
                spdlog::debug("match {}: process group {} is gone", match.match_id, match.pgid);
            }
            if (stopped.leftovers) {
                spdlog::error("match {}: processes survived SIGKILL", match.match_id);
            }
        } catch (const std::exception& e) {
            spdlog::error("match {}: stopping its processes failed: {}", match.match_id, e.what());
        }
    }
    try {
        co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            remove_read_only_tree(match.dir);
            return true;
        });
    } catch (const std::exception& e) {
        spdlog::error("match {}: removing {} failed: {}", match.match_id, match.dir.string(), e.what());
    }
    ports_.release(match.port);
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

asio::awaitable<launch::StopOutcome> RoomService::stop_processes(pid_t pgid, std::string marker, bool after_end) {
    launch::StopOutcome outcome;
    auto& pool = services_.lobby.blocking_pool();
    asio::steady_timer tick(services_.lobby.io());
    const std::vector<pid_t> none;
    auto look = [&] {
        return Leftovers{launch::group_alive(pgid),
                         launch::escaped_processes(pgid, marker, launch::Lineage::Descendant)};
    };
    if (after_end) {
        // A game that reported its end usually exits by itself.
        co_await wait_until_gone(tick, pgid, none, Clock::now() + tuning_.end_grace);
    }
    // An empty group's number may be reused once its leader was reaped:
    // signal it only while it has members.
    launch::signal_tree(launch::group_has_members(pgid) ? pgid : 0, none, SIGTERM);
    auto escaped = co_await run_blocking(pool, [&] {
        return launch::escaped_processes(pgid, marker, launch::Lineage::Descendant);
    });
    launch::signal_tree(0, escaped, SIGTERM);
    const auto term_deadline = Clock::now() + tuning_.stop_grace;
    // The cheap polling counts zombies and only knows the escapees found so
    // far; a /proc look decides. Escapees born meanwhile get SIGTERM and the
    // rest of the grace (a few rounds at most).
    for (int round = 0; round < 8; ++round) {
        co_await wait_until_gone(tick, pgid, escaped, term_deadline);
        const auto left = co_await run_blocking(pool, look);
        if (!left.group && left.escaped.empty()) {
            outcome.exited_on_term = true;
            co_return outcome;
        }
        if (Clock::now() >= term_deadline) {
            break;
        }
        launch::signal_tree(0, left.escaped, SIGTERM);
        escaped = left.escaped;
    }
    outcome.killed = true;
    const auto stubborn = co_await run_blocking(pool, [&] {
        return launch::escaped_processes(pgid, marker, launch::Lineage::Descendant);
    });
    launch::signal_tree(launch::group_has_members(pgid) ? pgid : 0, stubborn, SIGKILL);
    outcome.escaped_killed = stubborn.size();
    co_await wait_until_gone(tick, pgid, stubborn, Clock::now() + tuning_.kill_wait);
    const auto left = co_await run_blocking(pool, look);
    outcome.leftovers = left.group || !left.escaped.empty();
    co_return outcome;
}

void RoomService::start_watchdog() {
    watchdog_.expires_after(tuning_.watchdog_tick);
    watchdog_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) {
            return;
        }
        watchdog_tick();
        start_watchdog();
    });
}

void RoomService::watchdog_tick() {
    const auto now = Clock::now();
    for (auto& [id, room] : rooms_) {
        if (!room.match || room.match->terminal) {
            continue;
        }
        auto& match = *room.match;
        if (match.exited) {
            continue;  // the report grace decides: END/ERROR, or CRASHED
        }
        if (!match.started) {
            // Not spawned yet: still being prepared, the clock has not started.
            if (match.spawned && now - match.spawned_at > match.startup_timeout) {
                finish(room, match.match_id, store::MatchStatus::Timeout,
                       fmt::format("the game server did not report STARTED within {:g} s; it was stopped",
                                   ms_to_seconds(match.startup_timeout)),
                       nullptr);
            }
            continue;
        }
        if (everyone_left(room)) {
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

void RoomService::shutdown(std::function<void()> done) {
    shutting_down_ = true;
    watchdog_.cancel();
    for (auto& [id, room] : rooms_) {
        if (room.match && !room.match->terminal) {
            finish(room, room.match->match_id, store::MatchStatus::Aborted, "the platform is shutting down", nullptr);
        }
    }
    if (cleanups_in_flight_ == 0) {
        done();
    } else {
        on_drained_ = std::move(done);
    }
}

namespace {

// The first match id (as start_match makes them) in `text`.
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

}  // namespace

void RoomService::reconcile_after_restart() {
    auto open = services_.store.list_open_matches();
    if (!open.ok()) {
        spdlog::error("startup: cannot list open matches: {}", open.error().message);
        return;
    }
    for (const auto& match : *open) {
        std::string killed = "no process was recorded";
        const std::string& marker = match.match_id;
        if (match.process && launch::same_process_alive(static_cast<pid_t>(match.process->pid),
                                                         match.process->start_time)) {
            // The previous run's escaped processes are orphans now (our
            // descendants died with it); a player's client on this machine
            // with the same match id is not an orphan and is left alone.
            launch::stop_process_tree(static_cast<pid_t>(match.process->pgid), marker, std::chrono::milliseconds(1000),
                                      std::chrono::milliseconds(3000), launch::Lineage::Orphan);
            killed = "its game server (pid " + std::to_string(match.process->pid) + ") was stopped";
        } else {
            // The recorded pid is gone or now belongs to someone else: only
            // processes that carry this match's marker are ours.
            const auto strays = launch::processes_with_env_entry(marker, launch::Lineage::Orphan);
            for (pid_t pid : strays) {
                ::kill(pid, SIGKILL);
            }
            if (match.process) {
                killed = strays.empty() ? "its game server was already gone"
                                        : std::to_string(strays.size()) + " leftover process(es) were killed";
            }
        }
        // History follows what the previous run recorded: played only if
        // it had reached IN_GAME (record_match_in_game).
        auto finished = services_.store.finish_match(
            match.match_id, store::MatchFinish{store::MatchStatus::Aborted, "", store::unix_ms_now(),
                                               "the platform restarted while the match was running", std::nullopt});
        spdlog::warn("startup: match {} (room {}) was left open by a previous run; closed as ABORTED, {}",
                     match.match_id, match.room_id, killed);
        (void)finished;
    }
    // A match is recorded as finished before its processes are stopped (so a
    // crash in between keeps its real result): a kill -9 in that window
    // leaves processes of a finished match behind. Orphans that carry the id
    // of one of our matches (anywhere in their environment, as the stop
    // looks for escaped processes) are ours to end.
    // The matches closed just above are finished now too, so this also
    // catches what their stop could not see (an escapee whose parent was
    // still alive when it looked).
    for (const auto& [match_id, pids] : launch::orphans_by_env_id(match_id_in)) {
        const auto record = services_.store.get_match(match_id);
        if (!record.ok()) {
            continue;  // not a match of this data dir
        }
        const bool gone = launch::kill_and_wait(pids, std::chrono::milliseconds(3000));
        spdlog::warn("startup: match {} had finished ({}) but {} of its process(es) were still running; killed{}",
                     protocol::printable(match_id), store::to_string(record->status), pids.size(),
                     gone ? "" : " (some outlived SIGKILL)");
    }
    std::error_code ec;
    const auto matches_dir = services_.config.data_dir / "matches";
    if (fs::exists(matches_dir, ec)) {
        for (const auto& entry : fs::directory_iterator(matches_dir, ec)) {
            remove_read_only_tree(entry.path());
        }
    }
}

}  // namespace gamestore::server
