// A cluster of gamestore-server nodes on one PostgreSQL (docs/SCALING.md),
// one node against three in the same run, all on this machine. It starts
// its own private PostgreSQL (the tests' PgCluster: initdb and postgres as an
// unprivileged user, a Unix socket only) and, for each cluster size of
// --nodes in turn (a size given twice is measured twice), a fresh database
// and the nodes (--node-id), then prints:
//
// 1. store.list closed-loop throughput: --connections signed-in players
//    (spread round-robin over the nodes) each asking store.list back to back
//    for --seconds: requests/s, p50/p99, the nodes' CPU (and what they spent
//    idle for 3 s before), their CPU per request and the load generator's own.
// 2. Launch latency as bench_launch_latency measures it (room.start -> every
//    member holds IN_GAME with launch info, fakegame "ok"): --rooms rooms of
//    two players in flight at once, room k on node k % N with both members
//    connected there, --matches launches in all (one more per room first,
//    untimed: a node's first launch of a package fetches it from the database).
// 3. (the largest size) Lobby propagation: a player of node k creates a room and
//    then leaves it (2 changes), k taking turns; a watcher on every node times
//    the room's lobby.room_added / lobby.room_removed delta from just before
//    the request. The watcher on node k gives the same-node time, the others
//    the cross-node time (the owner's cluster_lobby write, NOTIFY, the
//    reader's merge and its own delta batch).
//
// Every node shares the machine's cores (and PostgreSQL's): three nodes show
// the cluster's overhead here, not its capacity.
//
// Usage: bench_cluster [--nodes 1,3] [--seconds 10] [--threads 2] [--connections 64]
//                      [--rooms 3] [--matches 150] [--changes 300] [--sandbox bwrap|none]

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_client.hpp"
#include "bench/bench_common.hpp"
#include "bench/closed_loop.hpp"
#include "bench/launch_steps.hpp"
#include "platform/client/lobby_client.hpp"
#include "platform/protocol/lobby_mirror.hpp"
#include "tests/support/pg_cluster.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using gamestore::bench::BenchServer;
using gamestore::client::LobbyClient;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kLaunchGame = "Cluster Launch Bench";

struct Options {
    std::vector<int> sizes = {1, 3};
    int seconds = 10;
    int threads = 2;
    int connections = 64;
    int rooms = 3;
    int matches = 150;
    int changes = 300;
    std::string sandbox = "bwrap";
};

double ms_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

void rethrow(std::exception_ptr e) {
    if (e)
        std::rethrow_exception(e);
}

// Runs `task` on a fresh io_context until it returns (the connections'
// readers would keep run() going after it).
template <class Task>
void run_to_end(Task task) {
    asio::io_context io(1);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await task(io);
            io.stop();
        },
        rethrow);
    io.run();
}

double nodes_cpu_seconds(const std::vector<BenchServer>& nodes) {
    double total = 0;
    for (const auto& node : nodes)
        total += gamestore::bench::cpu_seconds(node.pid);
    return total;
}

// N nodes on a fresh database of `pg`. The first publishes the catalogue
// before the others start: a node reads the catalogue into memory when it
// starts and rereads a game only when it changes it itself.
class Nodes {
  public:
    Nodes(gamestore::testing::PgCluster& pg, const fs::path& exe_dir, const fs::path& work,
          int count, const std::string& sandbox, const fs::path& launch_zip) {
        const auto database = pg.create_database();
        try {
            start(database, exe_dir, work, count, sandbox, launch_zip);
        } catch (...) {
            stop();
            throw;
        }
    }
    ~Nodes() { stop(); }
    Nodes(const Nodes&) = delete;
    Nodes& operator=(const Nodes&) = delete;

    const std::vector<BenchServer>& servers() const { return nodes_; }

  private:
    void start(const std::string& database, const fs::path& exe_dir, const fs::path& work,
               int count, const std::string& sandbox, const fs::path& launch_zip) {
        for (int k = 0; k < count; ++k) {
            // A game-port range each: the nodes share the machine's ports.
            // Rooms stay on the node the benchmark makes them on (room k on
            // node k mod N), so each node's launches are what is measured.
            const int first_port = 17000 + 300 * k;
            const std::vector<std::string> args = {
                "--database",
                database,
                "--node-id",
                "node" + std::to_string(k),
                "--room-placement",
                "local",
                "--game-ports",
                std::to_string(first_port) + "-" + std::to_string(first_port + 299),
                "--sandbox",
                sandbox,
                "--end-grace",
                "0.2",
                "--stop-grace",
                "2"};
            const auto dir = work / ("node" + std::to_string(k));
            fs::create_directories(dir);
            nodes_.push_back(gamestore::bench::start_server(exe_dir, dir, args));
            if (k == 0) {
                gamestore::bench::publish_catalogue(nodes_[0], work, 3);
                run_to_end([&](asio::io_context&) -> asio::awaitable<void> {
                    auto dev =
                        co_await gamestore::bench::signed_in(nodes_[0], "developer", "benchdev");
                    co_await gamestore::bench::publish_zip(*dev, launch_zip);
                    dev->close();
                });
            }
        }
    }
    void stop() {
        for (auto& node : nodes_)
            gamestore::bench::stop_server(node);
    }

    std::vector<BenchServer> nodes_;
};

void store_list(const Nodes& nodes, const Options& options) {
    gamestore::bench::ClosedLoop load(options.threads);
    load.connect(nodes.servers(), options.connections, "lister");
    // A second untimed first: the nodes have only just joined the cluster.
    load.run("store.list", options.connections, std::chrono::seconds(1));
    // What the nodes spend with nothing asked of them (renewals, reading
    // each other's rows), to tell it from the cost of the requests.
    const double idle_before = nodes_cpu_seconds(nodes.servers());
    const auto idle_start = Clock::now();
    ::poll(nullptr, 0, 3000);
    const double idle_cpu = (nodes_cpu_seconds(nodes.servers()) - idle_before) /
                            std::chrono::duration<double>(Clock::now() - idle_start).count();
    const double load_average = gamestore::bench::load_average();
    const double cpu_before = nodes_cpu_seconds(nodes.servers());
    auto result =
        load.run("store.list", options.connections, std::chrono::seconds(options.seconds));
    const double nodes_cpu = (nodes_cpu_seconds(nodes.servers()) - cpu_before) / result.seconds;
    load.close();
    const auto ms = gamestore::bench::spread(std::move(result.latencies_ms));
    const double per_second = result.requests / result.seconds;
    std::printf(
        "%-8zu %12d %10llu %12.0f %9.3f %9.3f %10.0f%% %10.1f%% %12.1f %10.0f%% %6llu %6.2f\n",
        nodes.servers().size(), options.connections,
        static_cast<unsigned long long>(result.requests), per_second, ms.p50, ms.p99,
        nodes_cpu * 100, idle_cpu * 100,
        per_second > 0 ? (nodes_cpu - idle_cpu) / per_second * 1e6 : 0.0,
        result.generator_cpu * 100, static_cast<unsigned long long>(result.errors), load_average);
    std::fflush(stdout);
}

void launches(const Nodes& nodes, const Options& options) {
    const auto& servers = nodes.servers();
    const int per_room = std::max(1, options.matches / options.rooms);
    gamestore::bench::LaunchSamples samples;
    gamestore::bench::LaunchSamples warm_up;
    const double load_average = gamestore::bench::load_average();
    double cpu_before = 0;
    double elapsed = 0;
    run_to_end([&](asio::io_context& io) -> asio::awaitable<void> {
        std::vector<std::vector<std::unique_ptr<gamestore::bench::LaunchSeat>>> rooms(
            static_cast<std::size_t>(options.rooms));
        for (int r = 0; r < options.rooms; ++r) {
            const auto& server = servers[static_cast<std::size_t>(r) % servers.size()];
            for (int m = 0; m < 2; ++m) {
                rooms[static_cast<std::size_t>(r)].push_back(co_await gamestore::bench::launch_seat(
                    io, server, "launcher" + std::to_string(r) + "x" + std::to_string(m)));
            }
        }
        // All rooms at once; `done` wakes this coroutine when the last finishes.
        asio::steady_timer done(io);
        const auto all_rounds = [&](int matches,
                                    gamestore::bench::LaunchSamples& out) -> asio::awaitable<void> {
            int running = options.rooms;
            for (auto& seats : rooms) {
                asio::co_spawn(
                    io,
                    [&]() -> asio::awaitable<void> {
                        co_await gamestore::bench::launch_rounds(seats, kLaunchGame, matches, out);
                        if (--running == 0)
                            done.cancel();
                    },
                    rethrow);
            }
            // Each room ends with a cancel; a launch takes under 30 s.
            const auto deadline = Clock::now() + std::chrono::seconds(60 + 35 * matches);
            while (running > 0 && Clock::now() < deadline) {
                done.expires_at(deadline);
                boost::system::error_code ec;
                co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            }
            if (running > 0)
                throw std::runtime_error("the launch rounds did not finish");
        };
        co_await all_rounds(1, warm_up);
        cpu_before = nodes_cpu_seconds(servers);
        const auto start = Clock::now();
        co_await all_rounds(per_room, samples);
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        for (auto& seats : rooms) {
            for (auto& seat : seats)
                seat->client->close();
        }
    });
    const double nodes_cpu = (nodes_cpu_seconds(servers) - cpu_before) / elapsed;
    const auto ms = gamestore::bench::spread(samples.ms);
    std::printf("%-8zu %8d %8d %9.3f %9.3f %9.3f %8d %10.0f%% %6.2f\n", servers.size(),
                options.rooms, per_room * options.rooms, ms.p50, ms.p99, ms.max,
                samples.failed + warm_up.failed, nodes_cpu * 100, load_average);
    std::fflush(stdout);
}

// One watcher per node: when each lobby delta of a room arrived.
struct Arrivals {
    std::map<std::int64_t, Clock::time_point> added;
    std::map<std::int64_t, Clock::time_point> removed;
};

void propagation(const Nodes& nodes, const Options& options) {
    const auto& servers = nodes.servers();
    const std::size_t count = servers.size();
    std::vector<double> same_node;
    std::vector<double> other_node;
    int missed = 0;
    const double load_average = gamestore::bench::load_average();
    run_to_end([&](asio::io_context& io) -> asio::awaitable<void> {
        std::vector<std::shared_ptr<LobbyClient>> creators;
        std::vector<std::shared_ptr<LobbyClient>> watchers;
        std::vector<Arrivals> arrivals(count);
        asio::steady_timer signal(io);
        for (std::size_t k = 0; k < count; ++k) {
            creators.push_back(co_await gamestore::bench::signed_in(servers[k], "player",
                                                                    "creator" + std::to_string(k)));
            watchers.push_back(co_await gamestore::bench::signed_in(servers[k], "player",
                                                                    "watcher" + std::to_string(k)));
            watchers.back()->set_event_handler(
                [&arrivals, &signal, k](const gamestore::protocol::Event& event) {
                    const auto now = Clock::now();
                    if (event.name == gamestore::protocol::kLobbyRoomAdded) {
                        arrivals[k].added.emplace(event.data.at("room").value("room_id", 0), now);
                    } else if (event.name == gamestore::protocol::kLobbyRoomRemoved) {
                        arrivals[k].removed.emplace(event.data.value("room_id", 0), now);
                    } else {
                        return;
                    }
                    signal.cancel();
                });
        }
        // Waits (at most 10 s) for every watcher to see `room_id` in `seen`,
        // then files each arrival as same-node or cross-node.
        using Seen = std::map<std::int64_t, Clock::time_point> Arrivals::*;
        const auto collect = [&](std::int64_t room_id, Seen seen, std::size_t owner,
                                 Clock::time_point sent, bool record) -> asio::awaitable<void> {
            const auto deadline = Clock::now() + std::chrono::seconds(10);
            const auto everyone = [&] {
                return std::all_of(arrivals.begin(), arrivals.end(),
                                   [&](const Arrivals& a) { return (a.*seen).count(room_id); });
            };
            for (int i = 0; i < 1000 && !everyone() && Clock::now() < deadline; ++i) {
                signal.expires_at(deadline);
                boost::system::error_code ec;
                co_await signal.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            }
            if (!record)
                co_return;
            for (std::size_t k = 0; k < count; ++k) {
                const auto& times = arrivals[k].*seen;
                const auto at = times.find(room_id);
                if (at == times.end()) {
                    ++missed;
                    continue;
                }
                (k == owner ? same_node : other_node).push_back(ms_between(sent, at->second));
            }
        };
        // The first round on each node is untimed: the nodes may still be
        // reading each other's rows for the first time.
        const int rounds = static_cast<int>(count) + std::max(1, options.changes / 2);
        for (int i = 0; i < rounds; ++i) {
            const std::size_t owner = static_cast<std::size_t>(i) % count;
            const bool record = i >= static_cast<int>(count);
            json create = {{"game", kLaunchGame}};
            const auto created_at = Clock::now();
            auto created = co_await creators[owner]->call("room.create", std::move(create));
            if (!created.ok)
                throw std::runtime_error("room.create: " + created.message);
            const std::int64_t room_id = created.data["room"].value("room_id", 0);
            co_await collect(room_id, &Arrivals::added, owner, created_at, record);
            const auto left_at = Clock::now();
            auto left = co_await creators[owner]->call("room.leave");
            if (!left.ok)
                throw std::runtime_error("room.leave: " + left.message);
            co_await collect(room_id, &Arrivals::removed, owner, left_at, record);
        }
        for (auto& client : creators)
            client->close();
        for (auto& client : watchers)
            client->close();
    });
    const auto row = [&](const char* what, const std::vector<double>& samples) {
        const auto ms = gamestore::bench::spread(samples);
        std::printf("%-8zu %-34s %9.3f %9.3f %9.3f %8zu %6.2f\n", count, what, ms.p50, ms.p99,
                    ms.max, ms.count, load_average);
    };
    row("same node (watcher on the owner)", same_node);
    row("other node (watcher elsewhere)", other_node);
    std::printf("deltas not seen within 10 s: %d\n", missed);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const std::string value = argv[i + 1];
        if (flag == "--nodes")
            options.sizes = gamestore::bench::int_list(value);
        if (flag == "--seconds")
            options.seconds = std::max(1, std::stoi(value));
        if (flag == "--threads")
            options.threads = std::max(1, std::stoi(value));
        if (flag == "--connections")
            options.connections = std::max(1, std::stoi(value));
        if (flag == "--rooms")
            options.rooms = std::max(1, std::stoi(value));
        if (flag == "--matches")
            options.matches = std::max(1, std::stoi(value));
        if (flag == "--changes")
            options.changes = std::max(2, std::stoi(value));
        if (flag == "--sandbox")
            options.sandbox = value;
    }
    if (options.sizes.empty() || std::any_of(options.sizes.begin(), options.sizes.end(),
                                             [](int n) { return n < 1 || n > 16; })) {
        std::fprintf(stderr, "bench_cluster: --nodes takes sizes from 1 to 16, e.g. 1,3\n");
        return 2;
    }
    const fs::path exe_dir = fs::canonical("/proc/self/exe").parent_path();
    const fs::path packages = (exe_dir / ".." / "fakegames" / "packages").lexically_normal();
    const fs::path work =
        fs::temp_directory_path() / ("gamestore-bench-cluster-" + std::to_string(::getpid()));
    fs::create_directories(work);
    int status = 0;
    try {
        gamestore::testing::PgCluster pg;
        const auto launch_zip =
            gamestore::bench::one_player_copy(packages / "ok", work, kLaunchGame, "launch-pkg");
        std::printf(
            "nodes on one private PostgreSQL, all on this machine (%ld cores online)\n"
            "cpu: %% of one core over the measurement (all nodes together; the generator); idle "
            "cpu: the nodes' over 3 s with nothing asked; node us/req: their CPU per answered "
            "request, less the idle; load: 1-min load average at the start\n\n",
            ::sysconf(_SC_NPROCESSORS_ONLN));
        std::printf(
            "store.list (3-game catalogue), closed loop, %d s, load generator: %d threads, "
            "connections round-robin over the nodes\n",
            options.seconds, options.threads);
        std::printf("%-8s %12s %10s %12s %9s %9s %11s %11s %12s %11s %6s %6s\n", "nodes",
                    "connections", "requests", "requests/s", "p50 ms", "p99 ms", "nodes cpu",
                    "idle cpu", "node us/req", "gen cpu", "errors", "load");
        std::fflush(stdout);
        for (const int size : options.sizes) {
            const auto dir = work / ("cluster" + std::to_string(size));
            Nodes nodes(pg, exe_dir, dir, size, options.sandbox, launch_zip);
            store_list(nodes, options);
        }
        std::printf(
            "\nlaunch latency (room.start -> both members hold IN_GAME with launch info; fakegame "
            "ok, %s), rooms of 2 in flight at once, room k on node k %% N\n",
            options.sandbox.c_str());
        std::printf("%-8s %8s %8s %9s %9s %9s %8s %11s %6s\n", "nodes", "rooms", "matches",
                    "p50 ms", "p99 ms", "max ms", "failed", "nodes cpu", "load");
        std::fflush(stdout);
        for (const int size : options.sizes) {
            const auto dir = work / ("launch" + std::to_string(size));
            Nodes nodes(pg, exe_dir, dir, size, options.sandbox, launch_zip);
            launches(nodes, options);
        }
        const int widest = *std::max_element(options.sizes.begin(), options.sizes.end());
        if (widest > 1) {
            std::printf(
                "\nlobby propagation: a room created, then left, by a player of each node in "
                "turn; ms from the request to the room's delta at a watcher\n");
            std::printf("%-8s %-34s %9s %9s %9s %8s %6s\n", "nodes", "watcher", "p50 ms", "p99 ms",
                        "max ms", "samples", "load");
            std::fflush(stdout);
            const auto dir = work / "propagation";
            Nodes nodes(pg, exe_dir, dir, widest, options.sandbox, launch_zip);
            propagation(nodes, options);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_cluster: %s\n", e.what());
        status = 1;
    }
    std::error_code ec;
    fs::remove_all(work, ec);
    return status;
}
