// Launch latency: from the host's room.start to the moment every member holds
// IN_GAME with launch info, over N matches (default 200) of the instant
// STARTED fakegame ("ok" profile, one player), printed next to the floor of
// posix_spawn + waitpid of /bin/true measured in the same run.
// Usage: bench_launch_latency [--matches N]

#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "bench/bench_client.hpp"
#include "bench/bench_common.hpp"
#include "platform/client/lobby_client.hpp"
#include "platform/packages/sha256.hpp"
#include "platform/packages/zip.hpp"

extern char** environ;

namespace asio = boost::asio;
namespace fs = std::filesystem;
using gamestore::client::LobbyClient;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<double> spawn_floor(int n) {
    std::vector<double> samples;
    char arg0[] = "/bin/true";
    char* argv[] = {arg0, nullptr};
    for (int i = 0; i < n; ++i) {
        const auto start = Clock::now();
        pid_t pid = -1;
        if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ) == 0) {
            int status = 0;
            ::waitpid(pid, &status, 0);
        }
        samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    return samples;
}

// Waits for the next room.updated whose state is `state`.
struct RoomWatcher {
    std::string wanted;
    std::unique_ptr<asio::steady_timer> signal;
    json last = json::object();
};

}  // namespace

int main(int argc, char** argv) {
    int matches = 200;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string(argv[i]) == "--matches") matches = std::stoi(argv[i + 1]);
    }
    const fs::path exe_dir = fs::canonical("/proc/self/exe").parent_path();
    const fs::path package_dir = (exe_dir / ".." / "fakegames" / "packages" / "ok").lexically_normal();
    const fs::path work = fs::temp_directory_path() / ("gamestore-launch-bench-" + std::to_string(::getpid()));
    fs::create_directories(work);
    auto server = gamestore::bench::start_server(exe_dir, work, {"--end-grace", "0.2", "--stop-grace", "2"});
    int status = 0;
    std::vector<double> latencies;
    try {
        // A one-player copy of the well-behaved fakegame.
        const auto copy = work / "pkg";
        fs::copy(package_dir, copy, fs::copy_options::recursive);
        auto manifest = json::parse(std::ifstream(copy / "manifest.json"));
        manifest["game_name"] = "Launch Bench";
        manifest["min_players"] = 1;
        std::ofstream(copy / "manifest.json") << manifest.dump(2);
        const auto zip = work / "pkg.zip";
        gamestore::packages::create_zip(copy, zip);

        asio::io_context io(1);
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            auto dev = co_await gamestore::bench::signed_in(server, "developer", "benchdev");
            co_await gamestore::bench::publish_zip(*dev, zip);
            auto player = co_await gamestore::bench::signed_in(server, "player", "benchplayer");
            RoomWatcher watcher;
            watcher.signal = std::make_unique<asio::steady_timer>(io);
            player->set_event_handler([&](const gamestore::protocol::Event& event) {
                if (event.name == "room.updated" && event.data.value("state", "") == watcher.wanted) {
                    watcher.last = event.data;
                    watcher.signal->cancel();
                }
            });
            json args6 = {{"game", "Launch Bench"}};
            auto created = co_await player->call("room.create", std::move(args6));
            if (!created.ok) throw std::runtime_error("room.create: " + created.message);
            for (int i = 0; i < matches; ++i) {
                json args7 = {{"ready", true}};
                co_await player->call("room.ready", std::move(args7));
                const auto start = Clock::now();
                watcher.wanted = "IN_GAME";
                watcher.signal->expires_after(std::chrono::seconds(30));
                auto started = co_await player->call("room.start");
                if (!started.ok) throw std::runtime_error("room.start: " + started.message);
                boost::system::error_code ec;
                if (watcher.last.value("state", "") != "IN_GAME" || watcher.last.value("match_id", "") != started.data["room"].value("match_id", "")) {
                    co_await watcher.signal->async_wait(asio::redirect_error(asio::use_awaitable, ec));
                }
                latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
                watcher.wanted.clear();
                // End the match (the one player leaves the match by stopping
                // it: leave and rejoin a fresh room) and wait for WAITING.
                co_await player->call("room.leave");
                json args8 = {{"game", "Launch Bench"}};
                auto again = co_await player->call("room.create", std::move(args8));
                if (!again.ok) throw std::runtime_error("room.create: " + again.message);
            }
            player->close();
            dev->close();
            io.stop();
        }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
        io.run();

        auto floor = spawn_floor(matches);
        std::printf("launch latency over %d matches (room.start -> IN_GAME with launch info, 1 member)\n", matches);
        std::printf("%-34s %10s %10s %10s\n", "", "p50 ms", "p99 ms", "max ms");
        auto copy_latencies = latencies;
        std::printf("%-34s %10.3f %10.3f %10.3f\n", "gamestore launch (fakegame ok)",
                    gamestore::bench::percentile(copy_latencies, 50), gamestore::bench::percentile(copy_latencies, 99),
                    gamestore::bench::percentile(copy_latencies, 100));
        std::printf("%-34s %10.3f %10.3f %10.3f\n", "floor: posix_spawn+waitpid true",
                    gamestore::bench::percentile(floor, 50), gamestore::bench::percentile(floor, 99),
                    gamestore::bench::percentile(floor, 100));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_launch_latency: %s\n", e.what());
        status = 1;
    }
    gamestore::bench::stop_server(server);
    std::error_code ec;
    fs::remove_all(work, ec);
    return status;
}
