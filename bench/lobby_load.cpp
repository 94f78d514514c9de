// store.list capacity: requests/s and latency percentiles of closed-loop
// connections (1, 16, 64 and 256 by default), with the catalogue cache on
// and off (--catalog-cache) against the same data dir in the same run, on a
// 3-game and a 1,000-game catalogue. The load generator runs on several
// threads and reports its own CPU next to the server's, so a reader can see
// which side was the bottleneck.
//
// Usage: bench_lobby_load [--seconds N] [--threads T] [--games 3,1000]
//                         [--levels 1,16,64,256] [--database SPEC] [--pin on]
//                         [--baseline DIR]
// (--database goes to the server: postgresql://... measures PostgreSQL).
// --baseline DIR: also measure DIR/gamestore-server, built from an earlier
// commit (rows "base"), on a catalogue of the same size that it publishes
// itself into its own data dir: "today's figure" from the same run.
// --pin on: the server (all its threads) on CPU 0, the generator on CPU 1,
// so that cached and uncached are each given the same one core, and the
// generator cannot take the server's.

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>

#include "bench/bench_client.hpp"
#include "bench/bench_common.hpp"
#include "bench/closed_loop.hpp"

namespace fs = std::filesystem;

namespace {

// This thread and the threads and processes it starts from now on run on
// `cpu` only.
void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0) {
        throw std::runtime_error("cannot pin to CPU " + std::to_string(cpu));
    }
}

// `label` heads the rows; `args` are the server's own (the cache switch),
// before the connection limit and the database.
void measure(const fs::path& exe_dir, const fs::path& work, int games, const char* label,
             std::vector<std::string> args, int threads, const std::vector<int>& levels,
             int seconds, const std::vector<std::string>& database_args, bool pin) {
    args.insert(args.end(), {"--max-connections", "4096"});
    args.insert(args.end(), database_args.begin(), database_args.end());
    if (pin) {
        pin_to(0);
    }
    auto server = gamestore::bench::start_server(exe_dir, work, args);
    if (pin) {
        pin_to(1);
    }
    gamestore::bench::ClosedLoop load(threads);
    const int most = *std::max_element(levels.begin(), levels.end());
    load.connect({server}, most, "bench");
    for (const int level : levels) {
        const double load_average = gamestore::bench::load_average();
        const double server_cpu_before = gamestore::bench::cpu_seconds(server.pid);
        auto result = load.run("store.list", level, std::chrono::seconds(seconds));
        const double server_cpu =
            (gamestore::bench::cpu_seconds(server.pid) - server_cpu_before) / result.seconds;
        std::printf("%6d %6s %12d %10llu %12.0f %9.3f %9.3f %10.0f%% %10.0f%% %6llu %6.2f\n", games,
                    label, level, static_cast<unsigned long long>(result.requests),
                    result.requests / result.seconds,
                    gamestore::bench::percentile(result.latencies_ms, 50),
                    gamestore::bench::percentile(result.latencies_ms, 99), server_cpu * 100,
                    result.generator_cpu * 100, static_cast<unsigned long long>(result.errors),
                    load_average);
        std::fflush(stdout);
    }
    std::printf("%6d %6s server RSS after the run: %.1f MiB\n", games, label,
                gamestore::bench::rss_kib(server.pid) / 1024.0);
    load.close();
    gamestore::bench::stop_server(server);
}

}  // namespace

int main(int argc, char** argv) {
    int seconds = 5;
    int threads = 2;
    std::vector<int> catalogues = {3, 1000};
    std::vector<int> levels = {1, 16, 64, 256};
    std::vector<std::string> database_args;
    bool pin = false;
    std::optional<fs::path> baseline;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--seconds")
            seconds = std::stoi(argv[i + 1]);
        if (flag == "--threads")
            threads = std::max(1, std::stoi(argv[i + 1]));
        if (flag == "--games")
            catalogues = gamestore::bench::int_list(argv[i + 1]);
        if (flag == "--levels")
            levels = gamestore::bench::int_list(argv[i + 1]);
        if (flag == "--database")
            database_args = {"--database", argv[i + 1]};
        if (flag == "--pin")
            pin = std::string(argv[i + 1]) == "on";
        if (flag == "--baseline")
            baseline = fs::absolute(argv[i + 1]);
    }
    if (baseline && !database_args.empty()) {
        std::fprintf(stderr,
                     "bench_lobby_load: --baseline measures on SQLite only (one database "
                     "cannot hold two schema versions)\n");
        return 2;
    }
    if (baseline && !fs::exists(*baseline / "gamestore-server")) {
        std::fprintf(stderr, "bench_lobby_load: no gamestore-server in %s\n", baseline->c_str());
        return 2;
    }
    const fs::path exe_dir = fs::canonical("/proc/self/exe").parent_path();
    int status = 0;
    std::printf(
        "store.list (first page: up to 50 games), closed loop, %d s per level, load generator: %d "
        "threads%s\n"
        "cpu: %% of one core over the level (server, generator); load: 1-min load average at the "
        "start\n",
        seconds, threads, pin ? "; server pinned to CPU 0, generator to CPU 1" : "");
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
                gamestore::bench::publish_catalogue(server, work, games);
                gamestore::bench::stop_server(server);
            }
            for (const char* cache : {"on", "off"}) {
                measure(exe_dir, work, games, cache, {"--catalog-cache", cache}, threads, levels,
                        seconds, database_args, pin);
            }
            if (baseline) {
                // Its own data dir: an older server may not open a newer schema.
                const fs::path base_work = work / "baseline";
                fs::create_directories(base_work);
                {
                    auto server =
                        gamestore::bench::start_server(*baseline, base_work, database_args);
                    gamestore::bench::publish_catalogue(server, base_work, games);
                    gamestore::bench::stop_server(server);
                }
                measure(*baseline, base_work, games, "base", {}, threads, levels, seconds,
                        database_args, pin);
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
