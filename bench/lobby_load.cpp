// store.list capacity: requests/s and latency percentiles of closed-loop
// connections (1, 16, 64 and 256 by default), with the catalogue cache on
// and off (--catalog-cache) against the same data dir in the same run, on a
// 3-game and a 1,000-game catalogue. The load generator runs on several
// threads and reports its own CPU next to the server's, so a reader can see
// which side was the bottleneck.
//
// Usage: bench_lobby_load [--seconds N] [--threads T] [--games 3,1000]
//                         [--levels 1,16,64,256] [--database SPEC]
// (--database goes to the server: postgresql://... measures PostgreSQL).

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "bench/bench_client.hpp"
#include "bench/bench_common.hpp"
#include "platform/client/lobby_client.hpp"
#include "platform/packages/sha256.hpp"
#include "platform/packages/zip.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using gamestore::client::LobbyClient;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<int> int_list(const std::string& text) {
    std::vector<int> values;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        values.push_back(std::stoi(item));
    return values;
}

// One generator thread: its own io_context and its share of the connections.
struct Worker {
    asio::io_context io{1};
    std::vector<std::shared_ptr<LobbyClient>> clients;
    std::vector<double> latencies_ms;
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    int running = 0;
};

// Runs `work` on every worker's thread until each has called done().
template <class Start>
void run_workers(std::vector<std::unique_ptr<Worker>>& workers, Start start) {
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < workers.size(); ++t) {
        threads.emplace_back([&, t] {
            auto& w = *workers[t];
            w.io.restart();
            if (start(w, t))
                w.io.run();
        });
    }
    for (auto& thread : threads)
        thread.join();
}

asio::awaitable<void> closed_loop(Worker& w, std::shared_ptr<LobbyClient> client,
                                  Clock::time_point end) {
    while (Clock::now() < end) {
        const auto start = Clock::now();
        auto response = co_await client->call("store.list");
        const auto elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (response.ok) {
            ++w.requests;
            w.latencies_ms.push_back(elapsed);
        } else {
            ++w.errors;
        }
    }
    if (--w.running == 0)
        w.io.stop();
}

void publish_catalogue(const gamestore::bench::BenchServer& server, const fs::path& work,
                       int games) {
    asio::io_context io(1);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto dev = co_await gamestore::bench::signed_in(server, "developer", "benchdev");
            for (int i = 0; i < games; ++i) {
                const std::string name = "Bench Game " + std::to_string(i);
                const auto dir = work / "packages" / name;
                gamestore::bench::write_tiny_package(dir, name, "1.0.0");
                const auto zip = work / "packages" / (name + ".zip");
                gamestore::packages::create_zip(dir, zip);
                co_await gamestore::bench::publish_zip(*dev, zip);
            }
            dev->close();
        },
        [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
    io.run();
}

void measure(const fs::path& exe_dir, const fs::path& work, int games, const char* cache,
             int threads, const std::vector<int>& levels, int seconds,
             const std::vector<std::string>& database_args) {
    std::vector<std::string> args = {"--catalog-cache", cache, "--max-connections", "4096"};
    args.insert(args.end(), database_args.begin(), database_args.end());
    auto server = gamestore::bench::start_server(exe_dir, work, args);
    std::vector<std::unique_ptr<Worker>> workers;
    for (int t = 0; t < threads; ++t)
        workers.push_back(std::make_unique<Worker>());
    const int most = *std::max_element(levels.begin(), levels.end());
    // Connection i belongs to worker i % threads.
    run_workers(workers, [&](Worker& w, std::size_t t) {
        int mine = 0;
        for (int i = static_cast<int>(t); i < most; i += threads)
            ++mine;
        if (mine == 0)
            return false;
        w.running = 1;
        asio::co_spawn(
            w.io,
            [&w, &server, t, threads, most]() -> asio::awaitable<void> {
                for (int i = static_cast<int>(t); i < most; i += threads) {
                    w.clients.push_back(co_await gamestore::bench::signed_in(
                        server, "player", "bench" + std::to_string(i)));
                }
                w.io.stop();
            },
            [](std::exception_ptr e) {
                if (e)
                    std::rethrow_exception(e);
            });
        return true;
    });
    for (const int level : levels) {
        for (auto& w : workers) {
            w->latencies_ms.clear();
            w->requests = 0;
            w->errors = 0;
        }
        const double load = gamestore::bench::load_average();
        const double server_cpu_before = gamestore::bench::cpu_seconds(server.pid);
        const double own_cpu_before = gamestore::bench::own_cpu_seconds();
        const auto start = Clock::now();
        const auto end = start + std::chrono::seconds(seconds);
        run_workers(workers, [&](Worker& w, std::size_t t) {
            w.running = 0;
            for (int i = static_cast<int>(t); i < level; i += threads) {
                ++w.running;
                asio::co_spawn(
                    w.io, closed_loop(w, w.clients[static_cast<std::size_t>(i) / threads], end),
                    asio::detached);
            }
            return w.running > 0;
        });
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        const double server_cpu =
            (gamestore::bench::cpu_seconds(server.pid) - server_cpu_before) / elapsed;
        const double own_cpu = (gamestore::bench::own_cpu_seconds() - own_cpu_before) / elapsed;
        std::vector<double> latencies;
        std::uint64_t requests = 0;
        std::uint64_t errors = 0;
        for (auto& w : workers) {
            latencies.insert(latencies.end(), w->latencies_ms.begin(), w->latencies_ms.end());
            requests += w->requests;
            errors += w->errors;
        }
        std::printf("%6d %6s %12d %10llu %12.0f %9.3f %9.3f %10.0f%% %10.0f%% %6llu %6.2f\n", games,
                    cache, level, static_cast<unsigned long long>(requests), requests / elapsed,
                    gamestore::bench::percentile(latencies, 50),
                    gamestore::bench::percentile(latencies, 99), server_cpu * 100, own_cpu * 100,
                    static_cast<unsigned long long>(errors), load);
        std::fflush(stdout);
    }
    std::printf("%6d %6s server RSS after the run: %.1f MiB\n", games, cache,
                gamestore::bench::rss_kib(server.pid) / 1024.0);
    for (auto& w : workers) {
        for (auto& client : w->clients)
            client->close();
    }
    gamestore::bench::stop_server(server);
}

}  // namespace

int main(int argc, char** argv) {
    int seconds = 5;
    int threads = 2;
    std::vector<int> catalogues = {3, 1000};
    std::vector<int> levels = {1, 16, 64, 256};
    std::vector<std::string> database_args;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--seconds")
            seconds = std::stoi(argv[i + 1]);
        if (flag == "--threads")
            threads = std::max(1, std::stoi(argv[i + 1]));
        if (flag == "--games")
            catalogues = int_list(argv[i + 1]);
        if (flag == "--levels")
            levels = int_list(argv[i + 1]);
        if (flag == "--database")
            database_args = {"--database", argv[i + 1]};
    }
    const fs::path exe_dir = fs::canonical("/proc/self/exe").parent_path();
    int status = 0;
    std::printf(
        "store.list (first page: up to 50 games), closed loop, %d s per level, load generator: %d "
        "threads\n"
        "cpu: %% of one core over the level (server, generator); load: 1-min load average at the "
        "start\n",
        seconds, threads);
    std::printf("%6s %6s %12s %10s %12s %9s %9s %11s %11s %6s %6s\n", "games", "cache",
                "connections", "requests", "requests/s", "p50 ms", "p99 ms", "server cpu",
                "gen cpu", "errors", "load");
    for (const int games : catalogues) {
        const fs::path work =
            fs::temp_directory_path() /
            ("gamestore-bench-" + std::to_string(::getpid()) + "-" + std::to_string(games));
        fs::create_directories(work);
        try {
            {
                auto server = gamestore::bench::start_server(exe_dir, work, database_args);
                publish_catalogue(server, work, games);
                gamestore::bench::stop_server(server);
            }
            for (const char* cache : {"on", "off"}) {
                measure(exe_dir, work, games, cache, threads, levels, seconds, database_args);
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "bench_lobby_load: %s\n", e.what());
            status = 1;
        }
        std::error_code ec;
        fs::remove_all(work, ec);
    }
    return status;
}
