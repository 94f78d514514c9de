// Many concurrent matches: N one-player matches of the fakegame (default
// 2,000), each a game server that reports STARTED, heartbeats every second
// and then thinks for a long time (it waits --think-sec for a player who
// never comes), all running at once. Prints the launch latency while they
// ramp up (room.start -> the player holds IN_GAME with launch info, by
// bands of the matches already running), then, with all of them running:
// the server's CPU from /proc/<pid>/stat over --seconds, the lobby ping
// p50/p99, the server's RSS and the machine memory the matches took.
// Finally every player leaves (each match ABORTED) and the bench waits for
// the cleanups.
//
// The match players turn the lobby deltas off (the crowd benchmark measures
// those); the pinger keeps them on. The open files limit is raised to the
// hard limit, which the server inherits (a match costs it a few descriptors).
//
// Usage: bench_many_matches [--matches N] [--parallel P] [--seconds S]
//                           [--think-sec T] [--sandbox bwrap|none]

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "bench/bench_client.hpp"
#include "bench/bench_common.hpp"
#include "platform/client/lobby_client.hpp"
#include "platform/packages/zip.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using gamestore::client::LobbyClient;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// MemAvailable of the machine in MiB (0 if unknown).
double mem_available_mib() {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    double kib = 0;
    std::string unit;
    while (meminfo >> key >> kib >> unit) {
        if (key == "MemAvailable:") {
            return kib / 1024.0;
        }
    }
    return 0;
}

// One player and its room: room.updated IN_GAME (or match.ended) wakes `signal`.
struct Seat {
    std::shared_ptr<LobbyClient> client;
    std::unique_ptr<asio::steady_timer> signal;
    std::string in_game_match;
    std::string ended_match;
};

// Publishes a one-player copy of the fakegame "ok" package whose server waits
// `think_sec` for its player's handshake.
fs::path thinking_copy(const fs::path& package_dir, const fs::path& work, int think_sec) {
    const auto copy = work / "pkg";
    fs::copy(package_dir, copy, fs::copy_options::recursive);
    auto manifest = json::parse(std::ifstream(copy / "manifest.json"));
    manifest["game_name"] = "Many Matches";
    manifest["min_players"] = 1;
    manifest["max_players"] = 1;
    manifest["server"]["command"] =
        "bin/fakegame server --player-timeout-ms " + std::to_string(think_sec * 1000);
    std::ofstream(copy / "manifest.json") << manifest.dump(2);
    const auto zip = work / "pkg.zip";
    gamestore::packages::create_zip(copy, zip);
    return zip;
}

// room.create, room.ready, room.start, then waits for IN_GAME: the latency
// in ms from room.start, or a negative number when the match did not get
// there within 60 s.
asio::awaitable<double> launch_one(Seat& seat) {
    json create = {{"game", "Many Matches"}};
    auto created = co_await seat.client->call("room.create", std::move(create));
    if (!created.ok)
        throw std::runtime_error("room.create: " + created.message);
    json ready = {{"ready", true}};
    co_await seat.client->call("room.ready", std::move(ready));
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::seconds(60);
    auto started = co_await seat.client->call("room.start");
    if (!started.ok)
        co_return -1.0;
    const std::string match_id = started.data["room"].value("match_id", "");
    for (int i = 0; i < 100; ++i) {  // every wake-up is an event; bounded anyway
        if (seat.in_game_match == match_id) {
            co_return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        }
        if (seat.ended_match == match_id || Clock::now() >= deadline)
            break;
        seat.signal->expires_at(deadline);
        boost::system::error_code ec;
        co_await seat.signal->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return -1.0;
}

}  // namespace

int main(int argc, char** argv) {
    int matches = 2000;
    int parallel = 4;
    int seconds = 30;
    int think_sec = 900;
    std::string sandbox_mode = "bwrap";
    // A flag it does not know (--help included) prints the usage and starts
    // nothing: a mistyped flag must not start 2,000 processes.
    for (int i = 1; i < argc; i += 2) {
        const std::string flag = argv[i];
        const bool known = flag == "--matches" || flag == "--parallel" || flag == "--seconds" ||
                           flag == "--think-sec" || flag == "--sandbox";
        if (!known || i + 1 >= argc) {
            std::fprintf(stderr,
                         "usage: bench_many_matches [--matches N] [--parallel P] [--seconds S]\n"
                         "                          [--think-sec T] [--sandbox bwrap|none]\n");
            return 2;
        }
        const std::string value = argv[i + 1];
        if (flag == "--matches")
            matches = std::max(1, std::stoi(value));
        if (flag == "--parallel")
            parallel = std::max(1, std::stoi(value));
        if (flag == "--seconds")
            seconds = std::max(1, std::stoi(value));
        if (flag == "--think-sec")
            think_sec = std::max(60, std::stoi(value));
        if (flag == "--sandbox")
            sandbox_mode = value;
    }
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);

    const fs::path exe_dir = fs::canonical("/proc/self/exe").parent_path();
    const fs::path packages = (exe_dir / ".." / "fakegames" / "packages").lexically_normal();
    const fs::path work =
        fs::temp_directory_path() / ("gamestore-bench-matches-" + std::to_string(::getpid()));
    fs::create_directories(work);
    const int port_first = 20000;
    const std::string ports =
        std::to_string(port_first) + "-" + std::to_string(port_first + matches + 99);
    auto server = gamestore::bench::start_server(
        exe_dir, work,
        {"--game-ports", ports, "--max-connections", "1000000", "--end-grace", "0.2",
         "--stop-grace", "2", "--sandbox", sandbox_mode});
    int status = 0;
    bool drained = false;
    int rooms_left = -1;
    try {
        const auto zip = thinking_copy(packages / "ok", work, think_sec);
        asio::io_context io(1);
        std::vector<Seat> seats(static_cast<std::size_t>(matches));
        std::shared_ptr<LobbyClient> pinger;
        std::vector<double> launch_ms;
        std::vector<int> running_at_launch;
        int failed = 0;
        int running = 0;
        double ramp_seconds = 0;
        double mem_before = mem_available_mib();
        double mem_running = 0;
        double cpu = 0;
        double load = 0;
        double rss_mib = 0;
        std::vector<double> rtt;
        json stats_running;
        double drain_seconds = 0;
        // Printed as soon as the steady state is measured, before the drain.
        auto report = [&]() {
            std::printf(
                "%d one-player matches of fakegame ok (STARTED, a heartbeat every second, then %d "
                "s waiting "
                "for its player), sandbox %s, %d launches in flight\n",
                matches, think_sec, sandbox_mode.c_str(), parallel);
            std::printf("ramp: %d running after %.1f s, %d failed to reach IN_GAME\n", running,
                        ramp_seconds, failed);
            std::printf(
                "launch latency (room.start -> IN_GAME with launch info) by matches already "
                "running:\n");
            std::printf("%16s %8s %10s %10s %10s\n", "running", "matches", "p50 ms", "p99 ms",
                        "max ms");
            const int band = std::max(1, matches / 4);
            for (int low = 0; low < matches; low += band) {
                std::vector<double> in_band;
                for (std::size_t i = 0; i < launch_ms.size(); ++i) {
                    if (running_at_launch[i] >= low && running_at_launch[i] < low + band)
                        in_band.push_back(launch_ms[i]);
                }
                if (in_band.empty())
                    continue;
                const std::string range =
                    std::to_string(low) + "-" + std::to_string(low + band - 1);
                std::printf("%16s %8zu %10.3f %10.3f %10.3f\n", range.c_str(), in_band.size(),
                            gamestore::bench::percentile(in_band, 50),
                            gamestore::bench::percentile(in_band, 99),
                            gamestore::bench::percentile(in_band, 100));
            }
            if (!launch_ms.empty()) {
                std::printf("%16s %8zu %10.3f %10.3f %10.3f\n", "all", launch_ms.size(),
                            gamestore::bench::percentile(launch_ms, 50),
                            gamestore::bench::percentile(launch_ms, 99),
                            gamestore::bench::percentile(launch_ms, 100));
            }
            std::printf(
                "steady state over %d s with %d matches running (rooms: %s):\n", seconds, running,
                stats_running.contains("rooms") ? stats_running["rooms"].dump().c_str() : "?");
            std::printf("  server cpu %.1f%% of one core (/proc/%d/stat), RSS %.1f MiB\n",
                        cpu * 100, static_cast<int>(server.pid), rss_mib);
            std::printf("  lobby ping p50 %.3f ms, p99 %.3f ms, max %.3f ms (%zu pings)\n",
                        gamestore::bench::percentile(rtt, 50),
                        gamestore::bench::percentile(rtt, 99),
                        gamestore::bench::percentile(rtt, 100), rtt.size());
            std::printf(
                "  machine memory taken by the matches: %.0f MiB (%.2f MiB each); load average "
                "%.2f\n",
                mem_before - mem_running, running > 0 ? (mem_before - mem_running) / running : 0.0,
                load);
            std::fflush(stdout);
        };

        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                auto dev = co_await gamestore::bench::signed_in(server, "developer", "matchesdev");
                co_await gamestore::bench::publish_zip(*dev, zip);
                dev->close();
                pinger = co_await gamestore::bench::signed_in(server, "player", "matches-pinger");
                for (int i = 0; i < matches; ++i) {
                    auto& seat = seats[static_cast<std::size_t>(i)];
                    seat.client = co_await gamestore::bench::signed_in(server, "player",
                                                                       "mm" + std::to_string(i));
                    json off = {{"on", false}};
                    co_await seat.client->call("lobby.watch", std::move(off));
                    seat.signal = std::make_unique<asio::steady_timer>(io);
                    seat.client->set_event_handler(
                        [&seat](const gamestore::protocol::Event& event) {
                            if (event.name == "room.updated" &&
                                event.data.value("state", "") == "IN_GAME") {
                                seat.in_game_match = event.data.value("match_id", "");
                                seat.signal->cancel();
                            } else if (event.name == "match.ended") {
                                seat.ended_match = event.data.value("match_id", "");
                                seat.signal->cancel();
                            }
                        });
                }

                // The ramp: `parallel` launches in flight until all are up.
                const auto ramp_start = Clock::now();
                int next = 0;
                auto launcher = [&]() -> asio::awaitable<void> {
                    while (next < matches) {
                        auto& seat = seats[static_cast<std::size_t>(next++)];
                        const int before = running;
                        const double ms = co_await launch_one(seat);
                        if (ms < 0) {
                            ++failed;
                        } else {
                            launch_ms.push_back(ms);
                            running_at_launch.push_back(before);
                            ++running;
                        }
                    }
                };
                int launchers_done = 0;
                asio::steady_timer ramp_done(io, Clock::time_point::max());
                for (int p = 0; p < parallel; ++p) {
                    asio::co_spawn(io, launcher(), [&](std::exception_ptr e) {
                        ++launchers_done;
                        ramp_done.cancel();
                        if (e)
                            std::rethrow_exception(e);
                    });
                }
                for (int i = 0; i <= parallel && launchers_done < parallel; ++i) {
                    boost::system::error_code ec;
                    co_await ramp_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                }
                ramp_seconds = std::chrono::duration<double>(Clock::now() - ramp_start).count();

                // Steady state: every match heartbeating, nothing launching.
                asio::steady_timer timer(io);
                timer.expires_after(std::chrono::seconds(3));
                co_await timer.async_wait(asio::use_awaitable);
                load = gamestore::bench::load_average();
                // Announced as it starts, so a profiler can be attached to
                // the server for exactly this window.
                std::fprintf(stderr, "measuring the steady state for %d s (server pid %d)\n",
                             seconds, static_cast<int>(server.pid));
                const double cpu_before = gamestore::bench::cpu_seconds(server.pid);
                const auto start = Clock::now();
                const auto end = start + std::chrono::seconds(seconds);
                while (Clock::now() < end) {
                    const auto sent = Clock::now();
                    co_await pinger->call("ping");
                    rtt.push_back(
                        std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
                    timer.expires_after(std::chrono::milliseconds(20));
                    co_await timer.async_wait(asio::use_awaitable);
                }
                const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
                cpu = (gamestore::bench::cpu_seconds(server.pid) - cpu_before) / elapsed;
                rss_mib = gamestore::bench::rss_kib(server.pid) / 1024.0;
                mem_running = mem_available_mib();
                stats_running = (co_await pinger->call("server.stats")).data;
                report();

                // Every player leaves: each match is ABORTED and cleaned up.
                const auto drain_start = Clock::now();
                for (auto& seat : seats) {
                    co_await seat.client->call("room.leave");
                }
                for (int i = 0; i < 300 && !drained; ++i) {
                    const auto reply = co_await pinger->call("server.stats");
                    if (reply.ok && reply.data.is_object() && reply.data["rooms"].is_number() &&
                        reply.data["matches"].is_object()) {
                        rooms_left = reply.data["rooms"].get<int>();
                        drained = rooms_left == 0 &&
                                  reply.data["matches"].value("cleanups_in_flight", 1) == 0;
                    }
                    if (drained)
                        break;
                    timer.expires_after(std::chrono::milliseconds(200));
                    co_await timer.async_wait(asio::use_awaitable);
                }
                drain_seconds = std::chrono::duration<double>(Clock::now() - drain_start).count();
                for (auto& seat : seats)
                    seat.client->close();
                pinger->close();
                io.stop();
            },
            [](std::exception_ptr e) {
                if (e)
                    std::rethrow_exception(e);
            });
        io.run();

        if (drained) {
            std::printf("all players left: every room gone and cleaned up %.1f s later\n",
                        drain_seconds);
        } else {
            std::printf(
                "all players left: %d rooms still being cleaned up after %.1f s; the server is "
                "killed\n",
                rooms_left, drain_seconds);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_many_matches: %s\n", e.what());
        status = 1;
    }
    if (status == 0 && !drained && server.pid > 0) {
        // Shutting down would wait for every cleanup still under way.
        ::kill(server.pid, SIGKILL);
    }
    gamestore::bench::stop_server(server);
    std::error_code ec;
    fs::remove_all(work, ec);
    return status;
}
