// A crowded lobby: thousands of signed-in players with the lobby deltas on
// while a few players keep creating and leaving rooms. Prints the lobby ping
// round trip (p50/p99) during the churn, the server's CPU and RSS, and the
// delta bytes pushed per change (docs/PROTOCOL.md "Lobby deltas").
//
// The server allows at most half its open files limit in lobby connections;
// the benchmark raises its own limit to the hard limit first (the server
// inherits it) and says how many connections that allows.
//
// Usage: bench_lobby_crowd [--players N] [--churners K] [--seconds S]
//                          [--changes-per-sec R] [--threads T]

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "bench/bench_client.hpp"
#include "bench/bench_common.hpp"
#include "platform/client/lobby_client.hpp"
#include "platform/packages/zip.hpp"
#include "platform/protocol/lobby_mirror.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using gamestore::client::LobbyClient;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Worker {
    asio::io_context io{1};
    std::vector<std::shared_ptr<LobbyClient>> clients;
    std::uint64_t deltas = 0;
};

asio::awaitable<void> sign_in_share(Worker& w, const gamestore::bench::BenchServer& server,
                                    int first, int step, int count) {
    for (int i = first; i < count; i += step) {
        auto client =
            co_await gamestore::bench::signed_in(server, "player", "crowd" + std::to_string(i));
        // Deltas on only once everyone is in: otherwise signing in N players
        // pushes N^2/2 player_added deltas, a different benchmark.
        json off = {{"on", false}};
        co_await client->call("lobby.watch", off);
        client->set_event_handler([&w](const gamestore::protocol::Event& event) {
            if (gamestore::protocol::is_lobby_delta(event.name))
                ++w.deltas;
        });
        w.clients.push_back(std::move(client));
    }
}

json stats_of(asio::io_context& io, LobbyClient& client) {
    json stats;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto response = co_await client.call("server.stats");
            stats = response.data;
            io.stop();
        },
        asio::detached);
    io.restart();
    io.run_for(std::chrono::seconds(30));
    return stats;
}

}  // namespace

int main(int argc, char** argv) {
    int players = 9900;
    int churners = 20;
    int seconds = 20;
    int threads = 2;
    double rate = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--players")
            players = std::stoi(argv[i + 1]);
        if (flag == "--churners")
            churners = std::max(1, std::stoi(argv[i + 1]));
        if (flag == "--seconds")
            seconds = std::stoi(argv[i + 1]);
        if (flag == "--threads")
            threads = std::max(1, std::stoi(argv[i + 1]));
        if (flag == "--changes-per-sec")
            rate = std::stod(argv[i + 1]);
    }
    const auto open_files = gamestore::bench::raise_open_files_limit();

    const fs::path exe_dir = fs::canonical("/proc/self/exe").parent_path();
    const fs::path work =
        fs::temp_directory_path() / ("gamestore-bench-crowd-" + std::to_string(::getpid()));
    fs::create_directories(work);
    auto server = gamestore::bench::start_server(exe_dir, work, {"--max-connections", "1000000"});
    int status = 0;
    try {
        asio::io_context main_io(1);
        std::shared_ptr<LobbyClient> observer;
        std::vector<std::shared_ptr<LobbyClient>> churn;
        asio::co_spawn(
            main_io,
            [&]() -> asio::awaitable<void> {
                auto dev = co_await gamestore::bench::signed_in(server, "developer", "crowddev");
                gamestore::bench::write_tiny_package(work / "pkg", "Crowd Game", "1.0.0");
                gamestore::packages::create_zip(work / "pkg", work / "pkg.zip");
                co_await gamestore::bench::publish_zip(*dev, work / "pkg.zip");
                dev->close();
                observer = co_await gamestore::bench::signed_in(server, "player", "crowd-observer");
                for (int i = 0; i < churners; ++i) {
                    churn.push_back(co_await gamestore::bench::signed_in(
                        server, "player", "churner" + std::to_string(i)));
                }
                // The connections' readers would keep run() going.
                main_io.stop();
            },
            [](std::exception_ptr e) {
                if (e)
                    std::rethrow_exception(e);
            });
        main_io.run();

        std::vector<std::unique_ptr<Worker>> workers;
        for (int t = 0; t < threads; ++t)
            workers.push_back(std::make_unique<Worker>());
        const auto signing_start = Clock::now();
        {
            std::vector<std::thread> pool;
            for (int t = 0; t < threads; ++t) {
                pool.emplace_back([&, t] {
                    auto& w = *workers[t];
                    asio::co_spawn(w.io, sign_in_share(w, server, t, threads, players),
                                   [&w](std::exception_ptr e) {
                                       if (e) {
                                           try {
                                               std::rethrow_exception(e);
                                           } catch (const std::exception& error) {
                                               std::fprintf(stderr, "bench_lobby_crowd: %s\n",
                                                            error.what());
                                           }
                                       }
                                       w.io.stop();
                                   });
                    w.io.run();
                });
            }
            for (auto& thread : pool)
                thread.join();
        }
        std::size_t connected = 0;
        for (auto& w : workers)
            connected += w->clients.size();
        const double signing = std::chrono::duration<double>(Clock::now() - signing_start).count();
        // The watchers read their deltas on their own threads from now on.
        std::vector<std::thread> readers;
        for (auto& w : workers) {
            readers.emplace_back([&w] {
                // The watchers stand in for thousands of other machines: on
                // the same cores they run at a lower priority, so what is
                // measured is the server's latency, not theirs.
                ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 15);
                w->io.restart();
                auto guard = asio::make_work_guard(w->io);
                for (auto& client : w->clients) {
                    asio::co_spawn(
                        w->io,
                        [client]() -> asio::awaitable<void> {
                            json on = {{"on", true}};
                            co_await client->call("lobby.watch", on);
                        },
                        asio::detached);
                }
                w->io.run();
            });
        }

        // Let every lobby.watch land before the measured window.
        main_io.restart();
        main_io.run_for(std::chrono::seconds(2));
        const json before = stats_of(main_io, *observer);
        const double load = gamestore::bench::load_average();
        const double cpu_before = gamestore::bench::cpu_seconds(server.pid);
        const auto start = Clock::now();
        const auto end = start + std::chrono::seconds(seconds);
        std::vector<double> rtt;
        std::uint64_t changes = 0;
        asio::co_spawn(
            main_io,
            [&]() -> asio::awaitable<void> {
                asio::steady_timer timer(main_io);
                while (Clock::now() < end) {
                    const auto sent = Clock::now();
                    co_await observer->call("ping");
                    rtt.push_back(
                        std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
                    timer.expires_after(std::chrono::milliseconds(20));
                    co_await timer.async_wait(asio::use_awaitable);
                }
            },
            asio::detached);
        asio::co_spawn(
            main_io,
            [&]() -> asio::awaitable<void> {
                // Each step the next churner opens a room or leaves the one it
                // opened a round ago (which deletes it): two rows change each
                // time (the room and its player), and every room lives long
                // enough (churners / rate seconds) to be pushed.
                asio::steady_timer timer(main_io);
                const auto interval = std::chrono::duration<double>(1.0 / rate);
                auto next = Clock::now();
                std::vector<bool> in_room(churn.size(), false);
                for (std::size_t step = 0; Clock::now() < end; ++step) {
                    const auto who = step % churn.size();
                    json args = {{"game", "Crowd Game"}};
                    auto response = co_await churn[who]->call(
                        in_room[who] ? "room.leave" : "room.create", args);
                    if (response.ok) {
                        ++changes;
                        in_room[who] = !in_room[who];
                    }
                    next += std::chrono::duration_cast<Clock::duration>(interval);
                    timer.expires_at(next);
                    co_await timer.async_wait(asio::use_awaitable);
                }
            },
            asio::detached);
        main_io.restart();
        main_io.run_until(end + std::chrono::seconds(2));
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        const double cpu = (gamestore::bench::cpu_seconds(server.pid) - cpu_before) / elapsed;
        const json after = stats_of(main_io, *observer);
        const auto seq = after["lobby"]["seq"].get<double>() - before["lobby"]["seq"].get<double>();
        const auto bytes = after["lobby"]["pushed_bytes"].get<double>() -
                           before["lobby"]["pushed_bytes"].get<double>();
        const auto dropped = after["lobby"]["dropped_batches"].get<double>() -
                             before["lobby"]["dropped_batches"].get<double>();
        std::uint64_t received = 0;
        for (auto& w : workers)
            w->io.stop();
        for (auto& thread : readers)
            thread.join();
        for (auto& w : workers)
            received += w->deltas;

        std::printf(
            "lobby with %zu players watching the deltas (+%d churners, 1 pinger; %s connections "
            "allowed by the "
            "open files limit), signed in in %.1f s\n",
            connected, churners, std::to_string(open_files / 2).c_str(), signing);
        std::printf("churn: %llu room.create/room.leave in %.1f s (%.1f/s), %.0f deltas\n",
                    static_cast<unsigned long long>(changes), elapsed, changes / elapsed, seq);
        const auto ping = gamestore::bench::spread(rtt);
        std::printf(
            "lobby ping during the churn: p50 %.3f ms, p99 %.3f ms, max %.3f ms (%zu pings)\n",
            ping.p50, ping.p99, ping.max, ping.count);
        std::printf(
            "server cpu %.0f%% of one core, RSS %.1f MiB (load average %.2f at the start)\n",
            cpu * 100, gamestore::bench::rss_kib(server.pid) / 1024.0, load);
        std::printf(
            "pushed %.1f MiB: %.0f bytes per delta to each watcher, %.1f KiB per change over all "
            "of them; "
            "%.0f batches dropped for readers behind; watchers received %llu deltas\n",
            bytes / (1024.0 * 1024.0),
            seq > 0 ? bytes / seq / static_cast<double>(connected + churners + 1) : 0.0,
            changes > 0 ? bytes / static_cast<double>(changes) / 1024.0 : 0.0, dropped,
            static_cast<unsigned long long>(received));
        for (auto& w : workers) {
            for (auto& client : w->clients)
                client->close();
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_lobby_crowd: %s\n", e.what());
        status = 1;
    }
    gamestore::bench::stop_server(server);
    std::error_code ec;
    fs::remove_all(work, ec);
    return status;
}
