#include "bench/bench_common.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

extern char** environ;

namespace gamestore::bench {

namespace fs = std::filesystem;

BenchServer start_server(const fs::path& exe_dir, const fs::path& work_dir,
                         const std::vector<std::string>& extra, bool real_password_hash) {
    BenchServer server;
    server.data_dir = work_dir / "var";
    const auto ready = work_dir / "ready.json";
    fs::remove(ready);
    const auto binary = exe_dir / "gamestore-server";
    std::vector<std::string> args = {
        binary.string(), "--listen",    "127.0.0.1:0", "--report-listen",        "127.0.0.1:0",
        "--http-listen", "127.0.0.1:0", "--data-dir",  server.data_dir.string(), "--ready-file",
        ready.string(),  "--log-level", "warn"};
    if (!real_password_hash)
        args.push_back("--fast-password-hash");
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const auto log = (work_dir / "server.log").string();
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const int rc = ::posix_spawn(&server.pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error("cannot start " + binary.string());
    }
    // The ready file is written once; poll for it with a bounded wait.
    for (int i = 0; i < 3000 && !fs::exists(ready); ++i) {
        ::poll(nullptr, 0, 10);
    }
    if (!fs::exists(ready)) {
        throw std::runtime_error("gamestore-server did not become ready; see " + log);
    }
    std::ifstream in(ready);
    const auto content = nlohmann::json::parse(in);
    const auto lobby = content.at("lobby").get<std::string>();
    const auto colon = lobby.rfind(':');
    server.lobby_host = lobby.substr(0, colon);
    server.lobby_port = static_cast<std::uint16_t>(std::stoi(lobby.substr(colon + 1)));
    return server;
}

void stop_server(BenchServer& server) {
    if (server.pid > 0) {
        ::kill(server.pid, SIGTERM);
        int status = 0;
        ::waitpid(server.pid, &status, 0);
        server.pid = -1;
    }
}

double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The command name may hold spaces: fields count from the last ')'.
    const auto close = stat.rfind(')');
    if (close == std::string::npos)
        return 0;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14)
            utime = std::stoull(field);
        if (i == 15)
            stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double load_average() {
    double loads[1] = {0};
    return ::getloadavg(loads, 1) == 1 ? loads[0] : 0;
}

std::uint64_t rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            std::istringstream fields(line.substr(6));
            std::uint64_t kib = 0;
            fields >> kib;
            return kib;
        }
    }
    return 0;
}

std::vector<int> int_list(const std::string& text) {
    std::vector<int> values;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        values.push_back(std::stoi(item));
    return values;
}

double percentile(std::vector<double>& samples, double p) {
    if (samples.empty()) {
        return 0;
    }
    std::sort(samples.begin(), samples.end());
    const auto index =
        static_cast<std::size_t>(p / 100.0 * static_cast<double>(samples.size() - 1) + 0.5);
    return samples[std::min(index, samples.size() - 1)];
}

Spread spread(std::vector<double> samples) {
    Spread result;
    result.count = samples.size();
    result.p50 = percentile(samples, 50);
    result.p99 = percentile(samples, 99);
    result.max = percentile(samples, 100);
    return result;
}

std::uint64_t raise_open_files_limit() {
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
    ::getrlimit(RLIMIT_NOFILE, &files);
    return files.rlim_cur;
}

void write_tiny_package(const fs::path& dir, const std::string& game_name,
                        const std::string& version) {
    fs::create_directories(dir);
    const nlohmann::json manifest = {{"game_name", game_name},
                                     {"version", version},
                                     {"type", "CLI"},
                                     {"min_players", 2},
                                     {"max_players", 4},
                                     {"description", "A benchmark catalogue entry."},
                                     {"server", {{"command", "python3 server.py"}}},
                                     {"client", {{"command", "python3 client.py"}}},
                                     {"healthcheck", {{"tcp_port", "{port}"}, {"timeout_sec", 5}}}};
    std::ofstream(dir / "manifest.json") << manifest.dump(2);
    std::ofstream(dir / "server.py") << "print('bench server')\n";
    std::ofstream(dir / "client.py") << "print('bench client')\n";
}

}  // namespace gamestore::bench
