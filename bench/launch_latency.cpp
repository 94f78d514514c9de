// Launch latency: from the host's room.start to the moment every member holds
// IN_GAME with launch info, over N matches (default 200) of the instant
// STARTED fakegame ("ok" profile) in rooms of M members (default 2), printed
// next to floors measured in the same run: posix_spawn + waitpid of
// /bin/true, the same /bin/true through the server's whole sandbox command
// line (bwrap, gamestore-sandbox-init, an empty package) until it exited,
// and the cost of one spawn_process() call (the launcher the server uses, in
// a session of its own) for /bin/true. --sandbox none runs the server
// without the sandbox (the bwrap floor is still measured).
//
// --stubborn K adds load that used to starve launches: K other players keep
// starting and abandoning matches of a game server that ignores SIGTERM, so
// K process-group stops (each lasting the stop grace, 2 s here) are under way
// at almost any moment while the measured launches run. A stop must not hold
// up a launch (its preparation, its spawn or its startup clock).
//
// --register-flood K adds the other load that used to starve launches: K
// connections keep registering new accounts, each one a real argon2id hash
// (the server runs without --fast-password-hash then), reconnecting when the
// auth deadline closes them.
// Usage: bench_launch_latency [--matches N] [--members M] [--stubborn K] [--register-flood K]
// [--database SPEC]
//                             [--sandbox bwrap|none]

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <variant>

#include "bench/bench_client.hpp"
#include "bench/bench_common.hpp"
#include "bench/launch_steps.hpp"
#include "platform/client/lobby_client.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/launch/sandbox.hpp"

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

// The launcher's own cost: spawn_process() alone, timed until it returns the
// started process (exec has succeeded by then); the exit is reaped untimed.
std::vector<double> launcher_spawns(int n) {
    gamestore::launch::ProcessSpec spec;
    spec.argv = {"/bin/true"};
    spec.env = gamestore::launch::base_environment();
    spec.cwd = fs::current_path();
    std::vector<double> samples;
    for (int i = 0; i < n; ++i) {
        const auto start = Clock::now();
        const auto spawned = gamestore::launch::spawn_process(spec);
        samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        if (const auto* process = std::get_if<gamestore::launch::SpawnedProcess>(&spawned)) {
            int status = 0;
            ::waitpid(process->pid, &status, 0);
        }
    }
    return samples;
}

// The sandbox's floor: /bin/true through the same bwrap command line the
// server builds (namespaces, mounts, the init program copying an empty
// package, the limits), timed until it has exited and been reaped.
std::vector<double> sandbox_floor(int n, const fs::path& work) {
    gamestore::launch::SandboxSettings settings;
    const gamestore::launch::Sandbox sandbox(settings);
    const auto empty = work / "empty-package";
    fs::create_directories(empty);
    gamestore::launch::SandboxRequest request;
    request.package_root = empty;
    std::vector<double> samples;
    for (int i = 0; i < n; ++i) {
        gamestore::launch::ProcessSpec game;
        game.argv = {"/bin/true"};
        game.env = sandbox.base_environment();
        const auto start = Clock::now();
        auto wrapped = sandbox.wrap(std::move(game), request);
        auto* launch = std::get_if<gamestore::launch::SandboxedLaunch>(&wrapped);
        if (launch == nullptr) {
            throw std::runtime_error(std::get<std::string>(wrapped));
        }
        const auto spawned = gamestore::launch::spawn_process(launch->process);
        launch->descriptors.clear();
        if (const auto* process = std::get_if<gamestore::launch::SpawnedProcess>(&spawned)) {
            int status = 0;
            ::waitpid(process->pid, &status, 0);
        }
        samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    return samples;
}

struct StartOutcome {
    bool in_game = false;
    double ms = 0;
};

// ready -> start -> IN_GAME (or the match ending first, or 30 s).
asio::awaitable<StartOutcome> start_and_wait(LobbyClient& player,
                                             gamestore::bench::RoomWatcher& watcher) {
    json ready = {{"ready", true}};
    co_await player.call("room.ready", std::move(ready));
    const auto start = Clock::now();
    watcher.wanted = "IN_GAME";
    watcher.last = json::object();
    watcher.signal->expires_after(std::chrono::seconds(30));
    auto started = co_await player.call("room.start");
    if (!started.ok) throw std::runtime_error("room.start: " + started.message);
    const std::string match_id = started.data["room"].value("match_id", "");
    StartOutcome outcome;
    for (int i = 0; i < 100; ++i) {  // every wake-up is an event; bounded anyway
        if (watcher.last.value("match_id", "") == match_id) {
            outcome.in_game = true;
            break;
        }
        if (watcher.ended_match == match_id) break;
        boost::system::error_code ec;
        co_await watcher.signal->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) break;  // the 30 s deadline passed
    }
    outcome.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    watcher.wanted.clear();
    co_return outcome;
}

// Leaves the room (the last member leaving aborts its match) and opens a new one.
asio::awaitable<void> abandon_and_reopen(LobbyClient& player, const std::string& game) {
    co_await player.call("room.leave");
    json args = {{"game", game}};
    auto again = co_await player.call("room.create", std::move(args));
    if (!again.ok) throw std::runtime_error("room.create: " + again.message);
}

}  // namespace

int main(int argc, char** argv) {
    int matches = 200;
    int members = 2;
    int stubborn = 0;
    int register_flood = 0;
    std::string sandbox_mode = "bwrap";
    std::string database;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string(argv[i]) == "--matches") matches = std::stoi(argv[i + 1]);
        if (std::string(argv[i]) == "--members") members = std::clamp(std::stoi(argv[i + 1]), 1, 8);
        if (std::string(argv[i]) == "--stubborn") stubborn = std::stoi(argv[i + 1]);
        if (std::string(argv[i]) == "--register-flood") register_flood = std::stoi(argv[i + 1]);
        if (std::string(argv[i]) == "--database")
            database = argv[i + 1];
        if (std::string(argv[i]) == "--sandbox")
            sandbox_mode = argv[i + 1];
    }
    const fs::path exe_dir = fs::canonical("/proc/self/exe").parent_path();
    const fs::path packages = (exe_dir / ".." / "fakegames" / "packages").lexically_normal();
    const fs::path work = fs::temp_directory_path() / ("gamestore-launch-bench-" + std::to_string(::getpid()));
    fs::create_directories(work);
    std::vector<std::string> server_args = {"--end-grace", "0.2",       "--stop-grace",
                                            "2",           "--sandbox", sandbox_mode};
    if (!database.empty()) {
        server_args.push_back("--database");
        server_args.push_back(database);
    }
    auto server = gamestore::bench::start_server(exe_dir, work, server_args, register_flood > 0);
    int status = 0;
    gamestore::bench::LaunchSamples launches;
    int stubborn_aborted = 0;
    int registered = 0;
    try {
        const auto zip =
            gamestore::bench::one_player_copy(packages / "ok", work, "Launch Bench", "pkg");
        const auto stubborn_zip = gamestore::bench::one_player_copy(
            packages / "ignore-sigterm", work, "Launch Bench Stubborn", "stubborn");

        asio::io_context io(1);
        bool measuring_done = false;
        auto stubborn_player = [&](int index) -> asio::awaitable<void> {
            auto player = co_await gamestore::bench::signed_in(server, "player", "benchstubborn" + std::to_string(index));
            gamestore::bench::RoomWatcher watcher;
            watcher.signal = std::make_unique<asio::steady_timer>(io);
            watcher.attach(*player);
            json args = {{"game", "Launch Bench Stubborn"}};
            auto created = co_await player->call("room.create", std::move(args));
            if (!created.ok) throw std::runtime_error("room.create: " + created.message);
            for (int round = 0; round < 100000 && !measuring_done; ++round) {
                co_await start_and_wait(*player, watcher);
                co_await abandon_and_reopen(*player, "Launch Bench Stubborn");
                ++stubborn_aborted;
            }
            player->close();
        };
        // Keeps registering fresh accounts until the measurement is done.
        auto flooder = [&](int index) -> asio::awaitable<void> {
            for (int connection = 0; connection < 100000 && !measuring_done; ++connection) {
                auto client = co_await LobbyClient::connect(server.lobby_host, server.lobby_port);
                for (int n = 0; n < 100000 && !measuring_done; ++n) {
                    json credentials = {{"role", "player"},
                                        {"name", "flood" + std::to_string(index) + "x" + std::to_string(connection) +
                                                     "x" + std::to_string(n)},
                                        {"password", "flood-password"}};
                    auto reply = co_await client->call("auth.register", std::move(credentials));
                    if (!reply.ok) break;  // the auth deadline closed it: connect again
                    ++registered;
                }
                client->close();
            }
        };
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            auto dev = co_await gamestore::bench::signed_in(server, "developer", "benchdev");
            co_await gamestore::bench::publish_zip(*dev, zip);
            co_await gamestore::bench::publish_zip(*dev, stubborn_zip);
            for (int k = 0; k < register_flood; ++k) {
                asio::co_spawn(io, flooder(k), [](std::exception_ptr e) {
                    if (e) std::rethrow_exception(e);
                });
            }
            for (int k = 0; k < stubborn; ++k) {
                asio::co_spawn(io, stubborn_player(k), [](std::exception_ptr e) {
                    if (e) std::rethrow_exception(e);
                });
            }
            // The measured room: a host and members - 1 guests, each
            // following its own room.updated pushes.
            std::vector<std::unique_ptr<gamestore::bench::LaunchSeat>> seats;
            for (int m = 0; m < members; ++m) {
                seats.push_back(co_await gamestore::bench::launch_seat(
                    io, server, "benchplayer" + std::to_string(m)));
            }
            co_await gamestore::bench::launch_rounds(seats, "Launch Bench", matches, launches);
            measuring_done = true;
            for (auto& seat : seats) {
                seat->client->close();
            }
            dev->close();
            if (stubborn == 0 && register_flood == 0) io.stop();
        }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
        // With stubborn players or flooders, run() returns once each finished its round.
        io.run();

        auto floor = spawn_floor(matches);
        auto bwrap_floor = sandbox_floor(matches, work);
        auto launcher = launcher_spawns(matches);
        std::printf("launch latency over %d matches (room.start -> every one of %d members holds IN_GAME with "
                    "launch info)",
                    matches, members);
        if (stubborn > 0) {
            std::printf(", %d stubborn players abandoning SIGTERM-ignoring matches (%d stops)", stubborn,
                        stubborn_aborted);
        }
        if (register_flood > 0) {
            std::printf(", %d connections registering accounts with real argon2id (%d registered)", register_flood,
                        registered);
        }
        std::printf("\n%-34s %10s %10s %10s %8s\n", "", "p50 ms", "p99 ms", "max ms", "failed");
        const auto launch = gamestore::bench::spread(launches.ms);
        const std::string launch_row = "gamestore launch (fakegame ok, " + sandbox_mode + ")";
        std::printf("%-34s %10.3f %10.3f %10.3f %8d\n", launch_row.c_str(), launch.p50, launch.p99,
                    launch.max, launches.failed);
        for (const auto& [label, samples] :
             {std::pair{"floor: posix_spawn+waitpid true", &floor},
              std::pair{"floor: sandbox (bwrap) true", &bwrap_floor},
              std::pair{"spawn_process(true) call alone", &launcher}}) {
            const auto ms = gamestore::bench::spread(*samples);
            std::printf("%-34s %10.3f %10.3f %10.3f\n", label, ms.p50, ms.p99, ms.max);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_launch_latency: %s\n", e.what());
        status = 1;
    }
    gamestore::bench::stop_server(server);
    std::error_code ec;
    fs::remove_all(work, ec);
    return status;
}
