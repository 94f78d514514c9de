#include "platform/server/local_match_host.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "platform/launch/game_server.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/protocol/redact.hpp"
#include "platform/protocol/text.hpp"
#include "platform/server/blocking.hpp"
#include "platform/server/package_ingest.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Cadence of the cheap liveness checks while a process group is stopped.
constexpr std::chrono::milliseconds kStopPoll{20};

// Polls (cheap checks only) until the group and `escaped` are gone; false
// at the deadline.
asio::awaitable<bool> wait_until_gone(asio::steady_timer& tick, pid_t pgid,
                                      const std::vector<pid_t>& escaped,
                                      Clock::time_point deadline) {
    for (;;) {
        const bool left = launch::group_has_members(pgid) ||
                          std::any_of(escaped.begin(), escaped.end(),
                                      [](pid_t pid) { return launch::process_alive(pid); });
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

// Every match id in one environment entry: what a substring search for
// each match's id would find.
void match_ids_in(std::string_view entry, std::vector<std::string>& ids) {
    while (auto id = match_id_in(entry)) {
        const auto at = entry.find(*id);
        ids.push_back(std::move(*id));
        entry.remove_prefix(at + 1);
    }
}

}  // namespace

LocalMatchHost::LocalMatchHost(PlatformServices& services, ChildReaper& reaper,
                               LocalHostTuning tuning, std::uint16_t report_port)
    : services_(services),
      reaper_(reaper),
      tuning_(tuning),
      report_port_(report_port),
      ports_(services.config.game_port_first, services.config.game_port_last) {}

LocalMatchHost::~LocalMatchHost() {
    // Spawns queued and not started are dropped; one under way finishes.
    spawner_.stop();
    spawner_.join();
    const std::lock_guard lock(handover_mutex_);
    for (pid_t pgid : handover_) {
        spdlog::warn("process group {} was spawned for a match nobody will stop: killed", pgid);
        ::kill(-pgid, SIGKILL);
    }
}

std::variant<MatchPlacement, std::string> LocalMatchHost::reserve(const std::string& match_id) {
    const auto port = ports_.acquire();
    if (!port) {
        return "every game port (" + std::to_string(services_.config.game_port_first) + "-" +
               std::to_string(services_.config.game_port_last) +
               ") is in use; try again when a match ends";
    }
    Local local;
    local.port = *port;
    local.dir = services_.config.data_dir / "matches" / match_id;
    matches_[match_id] = std::move(local);
    return MatchPlacement{*port};
}

asio::awaitable<MatchLaunch> LocalMatchHost::launch(MatchSpec spec, MatchLaunchHooks hooks) {
    MatchLaunch outcome;
    const auto found = matches_.find(spec.match_id);
    if (found == matches_.end()) {
        outcome.error = "match " + spec.match_id + " has no reserved place";
        co_return outcome;
    }
    const fs::path dir = found->second.dir;
    std::string player_names = "[";
    for (std::size_t i = 0; i < spec.players.size(); ++i) {
        player_names += (i ? "," : "") + nlohmann::json(spec.players[i]).dump();
    }
    player_names += "]";
    const bool sandboxed = services_.sandbox.mode() == launch::SandboxMode::Bwrap;
    std::uint64_t package_bytes = 0;
    try {
        co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            launch::create_private_dir(dir);
            launch::write_private_file(dir / "client_token", spec.client_token);
            launch::write_private_file(dir / "report_token", spec.report_token);
            launch::write_private_file(dir / "players.json", player_names);
            // The size of the sandbox's writable view starts from this.
            if (sandboxed) {
                package_bytes = launch::package_view_bytes(spec.package_root);
            }
            return true;
        });
    } catch (const std::exception& e) {
        outcome.error = std::string("could not prepare the match: ") + e.what();
        co_return outcome;
    }
    // stop() may have run meanwhile (the room gave up): its entry is gone,
    // and with it the port; nothing of ours may start now.
    const auto local = matches_.find(spec.match_id);
    if (local == matches_.end()) {
        co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            remove_read_only_tree(dir);
            return true;
        });
        outcome.result = MatchLaunch::Result::Cancelled;
        co_return outcome;
    }
    // From here until the spawn is back, a stop() waits for it instead of
    // freeing the port and the directory under a process about to start
    // (set before still_wanted(), which might start a stop itself).
    const auto in_flight = std::make_shared<SpawnInFlight>(services_.lobby.io());
    local->second.spawning = in_flight;
    const std::uint16_t port = local->second.port;
    const auto land = [&]() -> Local& {
        // Still there: a stop() waits for `in_flight` before it erases it.
        auto& entry = matches_.at(spec.match_id);
        entry.spawning.reset();
        in_flight->finished = true;
        in_flight->done.cancel();
        return entry;
    };
    if (!hooks.still_wanted()) {
        land();
        outcome.result = MatchLaunch::Result::Cancelled;
        co_return outcome;
    }
    Spawned spawned;
    try {
        spawned =
            co_await run_blocking(spawner_, [&] { return spawn(spec, port, dir, package_bytes); });
    } catch (const std::exception& e) {
        spawned.outcome.error = std::string("the game server could not start: ") + e.what();
    }
    {
        const std::lock_guard lock(handover_mutex_);
        handover_.erase(spawned.pgid);
    }
    Local& entry = land();
    outcome = std::move(spawned.outcome);
    if (outcome.result != MatchLaunch::Result::Started) {
        co_return outcome;
    }
    entry.pgid = spawned.pgid;
    entry.start_time = spawned.start_time;
    if (spawned.log_pipe >= 0) {
        pump_log(spawned.log_pipe, spawned.log_file);
    }
    // Its exit may have been reaped already: the reaper keeps it for this
    // watch() (child_reaper.hpp).
    const auto mode = services_.sandbox.mode();
    reaper_.watch(spawned.ticket, [on_exit = std::move(hooks.on_exit), mode](int status) {
        on_exit(launch::describe_game_exit(status, mode));
    });
    // For reconcile() after a crash of this server.
    const store::ProcessInfo info{outcome.pid, spawned.pgid, spawned.start_time};
    const auto match_id = spec.match_id;
    asio::co_spawn(
        services_.lobby.io(),
        [this, match_id, info]() -> asio::awaitable<void> {
            auto recorded = co_await run_blocking(services_.lobby.blocking_pool(), [&] {
                return services_.store.record_match_process(match_id, info);
            });
            if (!recorded.ok()) {
                spdlog::debug("match {}: process not recorded: {}", match_id,
                              recorded.error().message);
            }
        },
        asio::detached);
    co_return outcome;
}

LocalMatchHost::Spawned LocalMatchHost::spawn(const MatchSpec& spec, std::uint16_t port,
                                              const fs::path& dir, std::uint64_t package_bytes) {
    const auto& config = services_.config;
    Spawned spawned;
    auto& outcome = spawned.outcome;
    auto& context = outcome.context;
    context.room_id = spec.room_id;
    context.match_id = spec.match_id;
    context.port = port;
    context.host = config.advertise_host.empty() ? "127.0.0.1" : config.advertise_host;
    context.bind_host = config.bind_host;
    context.report_host =
        (config.report_listen.host == "0.0.0.0" || config.report_listen.host == "::")
            ? "127.0.0.1"
            : config.report_listen.host;
    context.report_port = report_port_;
    context.client_token = spec.client_token;
    context.report_token = spec.report_token;
    context.client_token_path = dir / "client_token";
    context.report_token_path = dir / "report_token";
    context.players = spec.players;
    context.players_json_path = dir / "players.json";
    context.match_dir = dir;

    auto prepared = launch::prepare_game_server(spec.manifest, context, spec.package_root,
                                                package_bytes, services_.sandbox);
    if (auto* error = std::get_if<std::string>(&prepared)) {
        outcome.error = *error;
        return spawned;
    }
    auto& launch_plan = std::get<launch::GameServerLaunch>(prepared);
    auto& process = launch_plan.sandboxed.process;
    if (services_.sandbox.mode() == launch::SandboxMode::None) {
        spdlog::warn("room {}: match {}: launching without a sandbox (--sandbox none)",
                     spec.room_id, spec.match_id);
    }

    const fs::path log_file = config.data_dir / "logs" / (spec.match_id + ".log");
    int fds[2] = {-1, -1};
    if (::pipe2(fds, O_CLOEXEC) == 0) {
        process.output_fd = fds[1];
    }
    std::variant<launch::SpawnedProcess, std::string> started;
    {
        ChildReaper::Spawn bracket(reaper_);
        started = launch::spawn_process(process);
        if (const auto* child = std::get_if<launch::SpawnedProcess>(&started)) {
            spawned.ticket = bracket.started(child->pid);
        }
    }
    if (fds[1] >= 0) {
        ::close(fds[1]);
    }
    launch_plan.sandboxed.descriptors.clear();
    if (auto* error = std::get_if<std::string>(&started)) {
        if (fds[0] >= 0) {
            ::close(fds[0]);
        }
        outcome.sandbox_failure = services_.sandbox.mode() == launch::SandboxMode::Bwrap;
        outcome.error = "the game server could not start: " + *error;
        return spawned;
    }
    const auto& process_info = std::get<launch::SpawnedProcess>(started);
    {
        const std::lock_guard lock(handover_mutex_);
        handover_.insert(process_info.pgid);
    }
    spawned.pgid = process_info.pgid;
    spawned.start_time = process_info.start_time;
    outcome.pid = process_info.pid;
    outcome.result = MatchLaunch::Result::Started;
    spdlog::info("room {}: match {}: game server pid {} spawned ({}): {}", spec.room_id,
                 spec.match_id, process_info.pid,
                 launch::sandbox_mode_name(services_.sandbox.mode()),
                 fmt::format("{}", fmt::join(launch_plan.game_argv, " ")));
    spawned.log_pipe = fds[0];
    if (fds[0] >= 0) {
        std::error_code ec;
        fs::create_directories(log_file.parent_path(), ec);
        spawned.log_file =
            ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    }
    return spawned;
}

void LocalMatchHost::pump_log(int read_fd, int out) {
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
                const std::size_t n = co_await stream->async_read_some(
                    asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
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

asio::awaitable<void> LocalMatchHost::stop(std::string match_id, bool after_end) {
    auto found = matches_.find(match_id);
    if (found == matches_.end()) {
        co_return;
    }
    // A spawn under way finishes first (it cannot be called back from the
    // middle of a vfork): then its process is stopped like any other, and
    // the port and the directory are freed only after that.
    if (const auto in_flight = found->second.spawning) {
        spdlog::info("match {}: stopped while its game server is being spawned; stopping it after",
                     match_id);
        asio::steady_timer& done = in_flight->done;
        while (!in_flight->finished) {
            done.expires_at(Clock::time_point::max());
            boost::system::error_code ec;
            co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        found = matches_.find(match_id);
        if (found == matches_.end()) {
            co_return;
        }
    }
    const Local local = found->second;
    // From here on a launch still preparing sees the match gone.
    matches_.erase(found);
    if (local.pgid > 0) {
        try {
            co_await stop_processes(local.pgid, match_id, after_end);
        } catch (const std::exception& e) {
            spdlog::error("match {}: stopping its processes failed: {}", match_id, e.what());
        }
    }
    try {
        co_await run_blocking(services_.lobby.blocking_pool(), [&] {
            remove_read_only_tree(local.dir);
            return true;
        });
    } catch (const std::exception& e) {
        spdlog::error("match {}: removing {} failed: {}", match_id, local.dir.string(), e.what());
    }
    ports_.release(local.port);
}

asio::awaitable<void> LocalMatchHost::stop_processes(pid_t pgid, std::string match_id,
                                                     bool after_end) {
    asio::steady_timer tick(services_.lobby.io());
    const std::string& marker = match_id;
    const std::vector<pid_t> none;
    auto look = [&]() -> asio::awaitable<Leftovers> {
        const auto table = co_await scan_processes();
        co_return Leftovers{table->group_alive(pgid), table->escaped(pgid, marker)};
    };
    if (after_end) {
        // A game that reported its end usually exits by itself.
        co_await wait_until_gone(tick, pgid, none, Clock::now() + tuning_.end_grace);
    }
    // An empty group's number may be reused once its leader was reaped:
    // signal it only while it has members.
    launch::signal_tree(launch::group_has_members(pgid) ? pgid : 0, none, SIGTERM);
    auto escaped = (co_await look()).escaped;
    launch::signal_tree(0, escaped, SIGTERM);
    const auto term_deadline = Clock::now() + tuning_.stop_grace;
    // The cheap polling counts zombies and only knows the escapees found so
    // far; a /proc look decides. Escapees born meanwhile get SIGTERM and the
    // rest of the grace (a few rounds at most).
    for (int round = 0; round < 8; ++round) {
        co_await wait_until_gone(tick, pgid, escaped, term_deadline);
        const auto left = co_await look();
        if (!left.group && left.escaped.empty()) {
            spdlog::debug("match {}: process group {} is gone", match_id, pgid);
            co_return;
        }
        if (Clock::now() >= term_deadline) {
            break;
        }
        launch::signal_tree(0, left.escaped, SIGTERM);
        escaped = left.escaped;
    }
    const auto stubborn = (co_await look()).escaped;
    launch::signal_tree(launch::group_has_members(pgid) ? pgid : 0, stubborn, SIGKILL);
    spdlog::warn("match {}: the game server ignored SIGTERM for {} ms; killed its process group{}",
                 match_id, tuning_.stop_grace.count(),
                 stubborn.empty()
                     ? std::string()
                     : " and " + std::to_string(stubborn.size()) + " escaped process(es)");
    co_await wait_until_gone(tick, pgid, stubborn, Clock::now() + tuning_.kill_wait);
    const auto left = co_await look();
    if (left.group || !left.escaped.empty()) {
        spdlog::error("match {}: processes survived SIGKILL", match_id);
    }
}

asio::awaitable<std::shared_ptr<const launch::DescendantTable>> LocalMatchHost::scan_processes() {
    if (!next_scan_) {
        next_scan_ = std::make_shared<Scan>(services_.lobby.io());
    }
    const auto mine = next_scan_;
    if (!scanning_) {
        start_scan();
    }
    while (!mine->finished) {
        mine->done.expires_at(Clock::time_point::max());
        boost::system::error_code ec;
        co_await mine->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (mine->error) {
        std::rethrow_exception(mine->error);
    }
    co_return mine->table;
}

void LocalMatchHost::start_scan() {
    scanning_ = true;
    auto scan = std::move(next_scan_);
    next_scan_.reset();
    asio::co_spawn(
        services_.lobby.io(),
        [this, scan]() -> asio::awaitable<void> {
            try {
                scan->table = co_await run_blocking(services_.lobby.blocking_pool(), [] {
                    return std::make_shared<const launch::DescendantTable>(
                        launch::DescendantTable::scan(match_ids_in));
                });
            } catch (...) {
                scan->error = std::current_exception();
            }
            scan->finished = true;
            scan->done.cancel();
            scanning_ = false;
            if (next_scan_) {
                start_scan();
            }
        },
        asio::detached);
}

void LocalMatchHost::reconcile(
    const std::vector<store::Match>& open,
    const std::function<void(const store::Match&, const std::string& done)>& close) {
    for (const auto& match : open) {
        std::string killed = "no process was recorded";
        const std::string& marker = match.match_id;
        if (match.process && launch::same_process_alive(static_cast<pid_t>(match.process->pid),
                                                        match.process->start_time)) {
            // The previous run's escaped processes are orphans now (our
            // descendants died with it); a player's client on this machine
            // with the same match id is not an orphan and is left alone.
            launch::stop_process_tree(static_cast<pid_t>(match.process->pgid), marker,
                                      std::chrono::milliseconds(1000),
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
                killed = strays.empty()
                             ? "its game server was already gone"
                             : std::to_string(strays.size()) + " leftover process(es) were killed";
            }
        }
        close(match, killed);
    }
    // A match is recorded as finished before its processes are stopped (so a
    // crash in between keeps its real result): a kill -9 in that window
    // leaves processes of a finished match behind. Orphans that carry the id
    // of one of our matches (anywhere in their environment, as the stop
    // looks for escaped processes) are ours to end. This also catches what
    // the stops above could not see (an escapee whose parent was still alive
    // when they looked): those matches are closed by now.
    for (const auto& [match_id, pids] : launch::orphans_by_env_id(match_id_in)) {
        const auto record = services_.store.get_match(match_id);
        if (!record.ok()) {
            continue;  // not a match of this data dir
        }
        const bool gone = launch::kill_and_wait(pids, std::chrono::milliseconds(3000));
        spdlog::warn(
            "startup: match {} had finished ({}) but {} of its process(es) were still running; "
            "killed{}",
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
