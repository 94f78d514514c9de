// Matches: launch, reports, the watchdog, and the one reset path.

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>

#include <fmt/ranges.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include "platform/launch/process_launcher.hpp"
#include "platform/packages/command_template.hpp"
#include "platform/protocol/redact.hpp"
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
using Clock = std::chrono::steady_clock;

namespace {

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
    // STARTED is validated against them (plan, item 11).
    match.match_id = "m-" + random_hex(12);
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
    try {
        co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            launch::create_private_dir(snapshot.dir);
            launch::write_private_file(snapshot.dir / "client_token", snapshot.client_token);
            launch::write_private_file(snapshot.dir / "report_token", snapshot.report_token);
            launch::write_private_file(snapshot.dir / "players.json", player_names.dump());
            unwrap(services_.store.create_match(record));
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
    spawn_server(it->second);
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

void RoomService::spawn_server(Room& room) {
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

    packages::LaunchSpec spec;
    try {
        spec = packages::render_server_launch(room.manifest, context, room.package_root);
    } catch (const std::exception& e) {
        finish(room, match.match_id, store::MatchStatus::LaunchFailed,
               std::string("the server command could not be rendered: ") + e.what(), nullptr);
        return;
    }
    if (packages::argv_contains_secret(spec.argv, {match.client_token, match.report_token})) {
        finish(room, match.match_id, store::MatchStatus::LaunchFailed,
               "refusing to launch: a token would appear in the server's argv", nullptr);
        return;
    }
    launch::ProcessSpec process;
    process.argv = spec.argv;
    process.env = launch::base_environment();
    for (auto& [key, value] : spec.env) {
        const auto existing = std::find_if(process.env.begin(), process.env.end(),
                                           [&](const auto& entry) { return entry.first == key; });
        if (existing != process.env.end()) {
            existing->second = value;
        } else {
            process.env.emplace_back(key, value);
        }
    }
    process.cwd = spec.cwd;
    process.new_session = true;

    int fds[2] = {-1, -1};
    if (::pipe2(fds, O_CLOEXEC) == 0) {
        process.output_fd = fds[1];
    }
    auto spawned = launch::spawn_process(process);
    if (fds[1] >= 0) {
        ::close(fds[1]);
    }
    if (auto* error = std::get_if<std::string>(&spawned)) {
        if (fds[0] >= 0) {
            ::close(fds[0]);
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
    spdlog::info("room {}: match {}: game server pid {} spawned: {}", room.id, match.match_id, match.pid,
                 fmt::format("{}", fmt::join(spec.argv, " ")));
    if (fds[0] >= 0) {
        pump_log(fds[0], config.data_dir / "logs" / (match.match_id + ".log"));
    }
    const auto room_id = room.id;
    const auto match_id = match.match_id;
    reaper_.watch(match.pid, [this, room_id, match_id](int status) { on_process_exit(room_id, match_id, status); });
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
                 describe_wait_status(wait_status));
    if (match.terminal) {
        return;
    }
    const std::string reason = (match.started ? "the game server exited without reporting END ("
                                              : "the game server exited before reporting STARTED (") +
                               describe_wait_status(wait_status) + ")";
    finish(it->second, match_id, store::MatchStatus::Crashed, reason, nullptr);
}

std::optional<std::string> RoomService::handle_report(const protocol::Report& report) {
    const auto status = protocol::to_string(report.status);
    auto it = rooms_.find(report.room_id);
    if (it == rooms_.end() || !it->second.match || it->second.match->match_id != report.match_id) {
        ++counters_.stale_reports;
        spdlog::warn("control plane: stale {} for room {} match {} (token {}): not the room's current match; ignored",
                     status, report.room_id, protocol::printable(report.match_id),
                     protocol::redact_token(report.report_token));
        return "match " + protocol::printable(report.match_id) + " is not the current match of room " +
               std::to_string(report.room_id);
    }
    Room& room = it->second;
    auto& match = *room.match;
    if (!same_secret(match.report_token, report.report_token)) {
        ++counters_.forged_reports;
        spdlog::warn("control plane: {} for room {} match {} with a wrong report token ({}); ignored", status,
                     room.id, match.match_id, protocol::redact_token(report.report_token));
        return "wrong report_token for match " + match.match_id;
    }
    if (match.terminal) {
        ++counters_.rejected_reports;
        spdlog::warn("control plane: {} for room {} match {} after the match ended; ignored", status, room.id,
                     match.match_id);
        return "match " + match.match_id + " has already ended";
    }
    const auto now = Clock::now();
    switch (report.status) {
        case protocol::ReportStatus::Started: {
            if (match.started) {
                ++counters_.rejected_reports;
                spdlog::warn("room {}: match {}: duplicate STARTED ignored", room.id, match.match_id);
                return "STARTED was already accepted for match " + match.match_id;
            }
            if (!report.port || *report.port != match.port) {
                ++counters_.rejected_reports;
                spdlog::warn("room {}: match {}: STARTED names port {} but the match was given port {}; ignored",
                             room.id, match.match_id, report.port ? *report.port : 0, match.port);
                return "STARTED must echo the assigned port " + std::to_string(match.port);
            }
            match.started = true;
            match.started_at = now;
            match.last_heartbeat = now;
            room.state = RoomState::InGame;
            ++counters_.started;
            spdlog::info("room {}: STARTING -> IN_GAME (match {}, port {}, ready after {} ms)", room.id,
                         match.match_id, match.port,
                         std::chrono::duration_cast<std::chrono::milliseconds>(now - match.launched_at).count());
            publish_room(room);
            return std::nullopt;
        }
        case protocol::ReportStatus::Heartbeat:
            match.last_heartbeat = now;
            match.heartbeat_warned = false;
            return std::nullopt;
        case protocol::ReportStatus::End: {
            json results = nullptr;
            if (report.results) {
                std::set<std::string> named;
                for (std::size_t i = 0; i < report.results->size(); ++i) {
                    const auto& player = (*report.results)[i].player;
                    const bool member = std::any_of(match.players.begin(), match.players.end(),
                                                    [&](const RoomMember& m) { return m.name == player; });
                    if (!member || !named.insert(player).second) {
                        ++counters_.rejected_reports;
                        const std::string why = "results[" + std::to_string(i) + "].player '" +
                                                protocol::printable(player) + "' " +
                                                (member ? "is named twice" : "is not a player of this match");
                        spdlog::warn("room {}: match {}: END refused: {}", room.id, match.match_id, why);
                        return why;
                    }
                }
                results = results_json(*report.results);
            } else if (report.winner || report.loser) {
                results = json::array();
                if (report.winner) results.push_back({{"player", *report.winner}, {"outcome", "WIN"}});
                if (report.loser) results.push_back({{"player", *report.loser}, {"outcome", "LOSE"}});
            }
            finish(room, match.match_id, store::MatchStatus::End, report.reason.value_or("the game ended"),
                   std::move(results));
            return std::nullopt;
        }
        case protocol::ReportStatus::Error:
            finish(room, match.match_id, store::MatchStatus::Error,
                   "the game server reported an error: " + report.err_msg.value_or("(no message)"), nullptr);
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
    spdlog::info("room {}: {} -> ENDING (match {}: {}: {})", room.id, to_string(previous), match_id, status_text,
                 reason);
    send_to_members(room, "match.ended",
                    {{"room_id", room.id}, {"match_id", match_id}, {"status", status_text}, {"reason", reason},
                     {"results", results}});
    publish_room(room);
    ++cleanups_in_flight_;
    std::string results_text = results.is_null() ? std::string() : results.dump();
    asio::co_spawn(services_.lobby.io(), cleanup(room.id, match, status, std::move(reason), std::move(results_text)),
                   asio::detached);
    return true;
}

asio::awaitable<void> RoomService::cleanup(std::int64_t room_id, ActiveMatch match, store::MatchStatus status,
                                           std::string reason, std::string results_json) {
    const auto tuning = tuning_;
    const bool graceful_end = status == store::MatchStatus::End || status == store::MatchStatus::Error;
    try {
        co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            store::MatchFinish finish_record{status, results_json, store::unix_ms_now(), reason};
            auto finished = services_.store.finish_match(match.match_id, finish_record);
            if (!finished.ok() && finished.error().code != store::StoreError::Code::NotFound) {
                spdlog::error("match {}: could not record the finish: {}", match.match_id, finished.error().message);
            }
            if (match.spawned) {
                const std::string& marker = match.match_id;
                if (graceful_end) {
                    // A game that reported its end usually exits by itself.
                    const auto deadline = Clock::now() + tuning.end_grace;
                    while (Clock::now() < deadline && launch::group_alive(match.pgid)) {
                        ::poll(nullptr, 0, 10);
                    }
                }
                const auto stopped = launch::stop_process_tree(match.pgid, marker, tuning.stop_grace);
                if (stopped.killed) {
                    spdlog::warn("match {}: the game server ignored SIGTERM for {} ms; killed its process group{}",
                                 match.match_id, tuning.stop_grace.count(),
                                 stopped.escaped_killed ? " and " + std::to_string(stopped.escaped_killed) +
                                                              " escaped process(es)"
                                                        : std::string());
                }
                if (stopped.leftovers) {
                    spdlog::error("match {}: processes survived SIGKILL", match.match_id);
                }
            }
            remove_read_only_tree(match.dir);
            return true;
        });
    } catch (const std::exception& e) {
        spdlog::error("match {}: cleanup failed: {}", match.match_id, e.what());
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
            schedule_lobby_update();
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
        if (!match.started) {
            if (now - match.launched_at > match.startup_timeout) {
                finish(room, match.match_id, store::MatchStatus::Timeout,
                       fmt::format("the game server did not report STARTED within {:g} s; it was stopped",
                                   ms_to_seconds(match.startup_timeout)),
                       nullptr);
            }
            continue;
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
        auto finished = services_.store.finish_match(
            match.match_id, store::MatchFinish{store::MatchStatus::Aborted, "", store::unix_ms_now(),
                                               "the platform restarted while the match was running"});
        spdlog::warn("startup: match {} (room {}) was left open by a previous run; closed as ABORTED, {}",
                     match.match_id, match.room_id, killed);
        (void)finished;
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
