// Lobby speed: store.list requests/s and latency percentiles with 1, 16 and
// 64 closed-loop connections (10 s each by default) on a 3-game catalogue,
// then the server's RSS. Usage: bench_lobby_load [--seconds N] [--database SPEC]
// (--database goes to the server: postgresql://... measures PostgreSQL).

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

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

asio::awaitable<void> setup_catalogue(const gamestore::bench::BenchServer& server, const fs::path& work) {
    auto dev = co_await gamestore::bench::signed_in(server, "developer", "benchdev");
    for (const char* name : {"Alpha Duel", "Beta Race", "Gamma Party"}) {
        const auto dir = work / name;
        gamestore::bench::write_tiny_package(dir, name, "1.0.0");
        const auto zip = work / (std::string(name) + ".zip");
        gamestore::packages::create_zip(dir, zip);
        co_await gamestore::bench::publish_zip(*dev, zip);
    }
    dev->close();
}

struct LevelResult {
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    std::vector<double> latencies_ms;
};

asio::awaitable<void> closed_loop(std::shared_ptr<LobbyClient> client, Clock::time_point end, LevelResult& result) {
    while (Clock::now() < end) {
        const auto start = Clock::now();
        auto response = co_await client->call("store.list");
        const auto elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (response.ok) {
            ++result.requests;
            result.latencies_ms.push_back(elapsed);
        } else {
            ++result.errors;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    int seconds = 10;
    std::vector<std::string> server_args;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string(argv[i]) == "--seconds") seconds = std::stoi(argv[i + 1]);
        if (std::string(argv[i]) == "--database")
            server_args = {"--database", argv[i + 1]};
    }
    const fs::path exe_dir = fs::canonical("/proc/self/exe").parent_path();
    const fs::path work = fs::temp_directory_path() / ("gamestore-bench-" + std::to_string(::getpid()));
    fs::create_directories(work);
    auto server = gamestore::bench::start_server(exe_dir, work, server_args);
    int status = 0;
    try {
        asio::io_context io(1);
        std::printf("store.list on a 3-game catalogue, closed loop, %d s per level (load generator: 1 thread)\n",
                    seconds);
        std::printf("%12s %10s %12s %10s %10s %8s\n", "connections", "requests", "requests/s", "p50 ms", "p99 ms",
                    "errors");
        std::vector<std::shared_ptr<LobbyClient>> clients;
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            co_await setup_catalogue(server, work);
            for (int i = 0; i < 64; ++i) {
                clients.push_back(co_await gamestore::bench::signed_in(server, "player", "bench" + std::to_string(i)));
            }
            for (int level : {1, 16, 64}) {
                LevelResult result;
                const auto start = Clock::now();
                const auto end = start + std::chrono::seconds(seconds);
                // The level is over when every loop has finished.
                int running = level;
                asio::steady_timer all_done(io, std::chrono::hours(1));
                for (int i = 0; i < level; ++i) {
                    asio::co_spawn(io, closed_loop(clients[i], end, result), [&](std::exception_ptr) {
                        if (--running == 0) all_done.cancel();
                    });
                }
                boost::system::error_code ec;
                co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
                std::printf("%12d %10llu %12.0f %10.3f %10.3f %8llu\n", level,
                            static_cast<unsigned long long>(result.requests), result.requests / elapsed,
                            gamestore::bench::percentile(result.latencies_ms, 50),
                            gamestore::bench::percentile(result.latencies_ms, 99),
                            static_cast<unsigned long long>(result.errors));
                std::fflush(stdout);
            }
            for (auto& client : clients) client->close();
            io.stop();
        }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
        io.run();
        std::printf("server RSS after the run: %.1f MiB\n", gamestore::bench::rss_kib(server.pid) / 1024.0);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_lobby_load: %s\n", e.what());
        status = 1;
    }
    gamestore::bench::stop_server(server);
    std::error_code ec;
    fs::remove_all(work, ec);
    return status;
}
