#pragma once
// Shared pieces of the benchmarks: a gamestore-server of their own on
// loopback (temp data dir, ephemeral ports), percentiles and RSS. Benchmarks
// print numbers; they never pass or fail on them.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gamestore::bench {

struct BenchServer {
    std::filesystem::path data_dir;
    std::string lobby_host;
    std::uint16_t lobby_port = 0;
    pid_t pid = -1;
};

// Starts gamestore-server (found beside the benchmark in build/bin/) and
// waits for its ready file. Throws with a sentence on failure. Passwords are
// hashed cheaply (--fast-password-hash) unless `real_password_hash`.
BenchServer start_server(const std::filesystem::path& exe_dir,
                         const std::filesystem::path& work_dir,
                         const std::vector<std::string>& extra_args,
                         bool real_password_hash = false);
void stop_server(BenchServer& server);

// VmRSS of a process in KiB, 0 if unknown.
std::uint64_t rss_kib(pid_t pid);

// CPU time (user + system) a process has used so far, in seconds; 0 if unknown.
double cpu_seconds(pid_t pid);
// The same for this process (all its threads).
double own_cpu_seconds();
// The 1-minute load average of the machine, for the record beside a number.
double load_average();

// "1,16,64" as {1, 16, 64}: the list arguments of the benchmarks.
std::vector<int> int_list(const std::string& text);

// p in [0,100] of the samples (sorted in place).
double percentile(std::vector<double>& samples, double p);

// What every latency line of the benchmarks prints: the median, the 99th
// percentile and the largest of the samples (all 0 without samples).
struct Spread {
    double p50 = 0;
    double p99 = 0;
    double max = 0;
    std::size_t count = 0;
};
Spread spread(std::vector<double> samples);

// Raises this process's open files limit to the hard limit (a server it
// starts inherits it) and returns the limit now in force.
std::uint64_t raise_open_files_limit();

// A tiny valid package directory (Python stdlib game) for catalogue setup.
void write_tiny_package(const std::filesystem::path& dir, const std::string& game_name,
                        const std::string& version);

}  // namespace gamestore::bench
