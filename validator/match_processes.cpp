#include "validator/match_processes.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <filesystem>
#include <set>
#include <string>

#include "platform/launch/proc_files.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/protocol/redact.hpp"
#include "validator/match_launch.hpp"
#include "validator/validator.hpp"

namespace gamestore::validator {

namespace fs = std::filesystem;

namespace {

std::optional<ProcInfo> read_stat(pid_t pid) {
    const auto fields = launch::stat_fields(pid);
    if (fields.size() < 3 || fields[0].empty()) {
        return std::nullopt;
    }
    ProcInfo info;
    info.pid = pid;
    info.state = fields[0][0];
    try {
        info.ppid = static_cast<pid_t>(std::stol(fields[1]));
        info.pgid = static_cast<pid_t>(std::stol(fields[2]));
    } catch (const std::exception&) {
        return std::nullopt;
    }
    return info;
}

// Process groups of running games, for kill_running_games_from_signal_handler.
// A fixed array of atomics: the handler may neither lock nor allocate.
constexpr std::size_t kGroupSlots = 256;
std::atomic<pid_t> g_groups[kGroupSlots];

void register_group(pid_t pgid) {
    if (pgid <= 1) return;
    for (auto& slot : g_groups) {
        pid_t empty = 0;
        if (slot.compare_exchange_strong(empty, pgid)) return;
    }
}

void unregister_group(pid_t pgid) {
    if (pgid <= 1) return;
    for (auto& slot : g_groups) {
        pid_t expected = pgid;
        if (slot.compare_exchange_strong(expected, 0)) return;
    }
}

}  // namespace

void kill_running_games_from_signal_handler() noexcept {
    for (auto& slot : g_groups) {
        const pid_t pgid = slot.load();
        if (pgid > 1) {
            ::kill(-pgid, SIGKILL);
        }
    }
}

std::map<pid_t, ProcInfo> read_process_table() {
    std::map<pid_t, ProcInfo> table;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const auto name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const auto pid = static_cast<pid_t>(std::stol(name));
        if (auto info = read_stat(pid)) {
            table.emplace(pid, *info);
        }
    }
    return table;
}

std::vector<std::string> read_cmdline(pid_t pid) {
    const std::string raw = launch::read_small_file("/proc/" + std::to_string(pid) + "/cmdline");
    std::vector<std::string> argv;
    std::size_t start = 0;
    while (start < raw.size()) {
        auto end = raw.find('\0', start);
        if (end == std::string::npos) {
            end = raw.size();
        }
        argv.push_back(raw.substr(start, end - start));
        start = end + 1;
    }
    return argv;
}

std::string describe_process(pid_t pid, const std::vector<std::string>& secrets) {
    std::string joined;
    for (const auto& arg : read_cmdline(pid)) {
        joined += (joined.empty() ? "" : " ") + arg;
    }
    if (joined.empty()) {
        return "pid " + std::to_string(pid);
    }
    // Redacted before the cut, so a token straddling it cannot survive in part.
    return "pid " + std::to_string(pid) + " (" + protocol::printable(redact_secrets(joined, secrets), 160) + ")";
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) {
        return "exited with code " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        const int signo = WTERMSIG(status);
        const char* name = ::strsignal(signo);
        return "was killed by signal " + std::to_string(signo) + (name ? std::string(" (") + name + ")" : "");
    }
    return "ended (wait status " + std::to_string(status) + ")";
}

std::string MatchProcesses::describe(pid_t pid) const {
    std::vector<std::string> values;
    for (const auto& [name, value] : secrets_) {
        values.push_back(value);
    }
    return describe_process(pid, values);
}

MatchProcesses::MatchProcesses(std::string marker, std::vector<std::pair<std::string, std::string>> secrets)
    : marker_(std::move(marker)), secrets_(std::move(secrets)) {}

MatchProcesses::~MatchProcesses() {
    unregister_group(server_pgid_);
    for (const auto& client : clients_) {
        unregister_group(client.pgid);
    }
}

void MatchProcesses::set_server(pid_t pid, pid_t pgid) {
    server_pid_ = pid;
    server_pgid_ = pgid;
    register_group(pgid);
}

void MatchProcesses::add_client(pid_t pid, pid_t pgid, std::string player) {
    clients_.push_back({pid, pgid, std::move(player), std::nullopt});
    register_group(pgid);
}

std::optional<int> MatchProcesses::client_status(pid_t pid) const {
    for (const auto& client : clients_) {
        if (client.pid == pid) {
            return client.status;
        }
    }
    return std::nullopt;
}

bool MatchProcesses::is_client_group(pid_t pgid) const {
    return std::any_of(clients_.begin(), clients_.end(), [&](const Client& c) { return c.pgid == pgid; });
}

void MatchProcesses::reap() {
    int status = 0;
    if (server_pid_ > 0 && !server_status_ && ::waitpid(server_pid_, &status, WNOHANG) == server_pid_) {
        server_status_ = status;
    }
    for (auto& client : clients_) {
        if (!client.status && ::waitpid(client.pid, &status, WNOHANG) == client.pid) {
            client.status = status;
        }
    }
}

void MatchProcesses::add_helper(pid_t pid) {
    helpers_.insert(pid);
}

void MatchProcesses::reap_orphans() {
    // Only orphans of the match are reaped: other children of whoever
    // embeds the validator are left to their owner.
    int status = 0;
    const pid_t self = ::getpid();
    for (const auto& [pid, info] : read_process_table()) {
        if (info.ppid == self && !info.alive() && pid != server_pid_ && helpers_.count(pid) == 0 &&
            std::none_of(clients_.begin(), clients_.end(),
                         [&](const Client& c) { return c.pid == pid; })) {
            ::waitpid(pid, &status, WNOHANG);
        }
    }
}

std::vector<ProcInfo> MatchProcesses::descendants(const std::map<pid_t, ProcInfo>& table) const {
    std::multimap<pid_t, pid_t> children;
    for (const auto& [pid, info] : table) {
        children.emplace(info.ppid, pid);
    }
    std::vector<ProcInfo> out;
    std::vector<pid_t> frontier{::getpid()};
    std::set<pid_t> seen{::getpid()};
    // Bounded by the table: every pid is visited at most once.
    while (!frontier.empty()) {
        const pid_t parent = frontier.back();
        frontier.pop_back();
        const auto [first, last] = children.equal_range(parent);
        for (auto it = first; it != last; ++it) {
            if (helpers_.count(it->second) == 0 && seen.insert(it->second).second) {
                out.push_back(table.at(it->second));
                frontier.push_back(it->second);
            }
        }
    }
    return out;
}

void MatchProcesses::scan() {
    ++scans_;
    reap_orphans();
    const auto table = read_process_table();
    for (const auto& info : descendants(table)) {
        if (!info.alive()) {
            continue;
        }
        const auto argv = read_cmdline(info.pid);
        for (const auto& [name, value] : secrets_) {
            if (value.empty() || leak_reported_[info.pid]) {
                continue;
            }
            const bool found = std::any_of(argv.begin(), argv.end(), [&](const std::string& arg) {
                return arg.find(value) != std::string::npos;
            });
            if (found) {
                leak_reported_[info.pid] = true;
                leaks_.push_back({name, describe(info.pid)});
            }
        }
        if (info.pgid != server_pgid_ && !is_client_group(info.pgid) && !escaped_.count(info.pid)) {
            escaped_[info.pid] = Escaped{info.pid, describe(info.pid)};
        }
    }
}

std::vector<pid_t> MatchProcesses::server_group_members() const {
    std::vector<pid_t> members;
    if (server_pgid_ <= 1) {
        return members;
    }
    for (const auto& [pid, info] : read_process_table()) {
        if (info.pgid == server_pgid_ && info.alive()) {
            members.push_back(pid);
        }
    }
    return members;
}

std::vector<pid_t> MatchProcesses::live_escaped() {
    std::vector<pid_t> out;
    for (const auto& info : descendants(read_process_table())) {
        if (info.alive() && info.pgid != server_pgid_ && !is_client_group(info.pgid)) {
            if (!escaped_.count(info.pid)) {
                escaped_[info.pid] = Escaped{info.pid, describe(info.pid)};
            }
            out.push_back(info.pid);
        }
    }
    return out;
}

std::vector<pid_t> MatchProcesses::live_client_processes() const {
    std::vector<pid_t> out;
    for (const auto& [pid, info] : read_process_table()) {
        if (info.alive() && is_client_group(info.pgid)) {
            out.push_back(pid);
        }
    }
    return out;
}

std::vector<pid_t> MatchProcesses::live_marked_outside() {
    std::vector<pid_t> out;
    for (const pid_t pid : launch::processes_with_env_entry(marker_)) {
        const pid_t pgid = ::getpgid(pid);
        if (pgid < 0 || pgid == server_pgid_ || is_client_group(pgid)) {
            continue;
        }
        if (!escaped_.count(pid)) {
            escaped_[pid] = Escaped{pid, describe(pid)};
        }
        out.push_back(pid);
    }
    return out;
}

}  // namespace gamestore::validator
