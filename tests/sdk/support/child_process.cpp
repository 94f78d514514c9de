#include "tests/sdk/support/child_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace gamestore::sdk_test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {
// glibc 2.36's <sys/pidfd.h> lacks extern "C", so call the syscall directly.
int open_pidfd(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}
}  // namespace

std::string describe(const ExitStatus& s) {
    return s.exited ? "exit code " + std::to_string(s.code) : "signal " + std::to_string(s.signal);
}

ChildProcess::ChildProcess(std::vector<std::string> argv,
                           const std::map<std::string, std::string>& env,
                           const fs::path& stdout_file, const fs::path& stderr_file,
                           const std::optional<fs::path>& cwd)
    : stdout_file_(stdout_file), stderr_file_(stderr_file) {
    std::vector<char*> args;
    for (auto& a : argv) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);
    std::vector<std::string> entries;
    for (const auto& [k, v] : env) {
        entries.push_back(k + "=" + v);
    }
    std::vector<char*> envp;
    for (auto& e : entries) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    if (cwd) {
        // After the opens: relative stdout/stderr paths mean the test's directory.
        posix_spawn_file_actions_addchdir_np(&actions, cwd->c_str());
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Own session and process group, as the platform starts game servers;
    // default signal dispositions and an empty mask whatever the test runner had.
    sigset_t all;
    sigfillset(&all);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    const int rc = ::posix_spawn(&pid_, args[0], &actions, &attr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
    }
    pidfd_ = open_pidfd(pid_);
    if (pidfd_ < 0) {
        throw std::runtime_error(std::string("pidfd_open: ") + std::strerror(errno));
    }
}

ChildProcess::~ChildProcess() {
    if (!status_) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        wait(std::chrono::seconds(10));
    }
    ::close(pidfd_);
}

std::optional<ExitStatus> ChildProcess::wait(std::chrono::milliseconds timeout) {
    if (status_) {
        return status_;
    }
    pollfd p{pidfd_, POLLIN, 0};
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        const int rc = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count())));
        if (rc > 0) {
            break;
        }
        if (rc == 0 || (rc < 0 && errno != EINTR)) {
            return std::nullopt;
        }
    }
    int wstatus = 0;
    while (::waitpid(pid_, &wstatus, 0) < 0) {
        if (errno != EINTR) {
            return std::nullopt;
        }
    }
    ExitStatus s;
    if (WIFEXITED(wstatus)) {
        s.exited = true;
        s.code = WEXITSTATUS(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
        s.signal = WTERMSIG(wstatus);
    }
    status_ = s;
    return status_;
}

void ChildProcess::signal(int signo) const {
    if (!status_) {
        ::kill(pid_, signo);
    }
}

void ChildProcess::signal_group(int signo) const {
    if (!status_) {
        ::kill(-pid_, signo);
    }
}

std::string ChildProcess::stdout_text() const {
    return read_text(stdout_file_);
}
std::string ChildProcess::stderr_text() const {
    return read_text(stderr_file_);
}

bool wait_process_gone(pid_t pid, std::chrono::milliseconds timeout) {
    const int fd = open_pidfd(pid);
    if (fd < 0) {
        return errno == ESRCH;
    }
    pollfd p{fd, POLLIN, 0};
    int rc;
    do {
        rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    ::close(fd);
    return rc > 0;
}

bool process_alive(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) {
        return false;
    }
    // "pid (comm) S ...": the state follows the last ')'.
    const auto paren = text.rfind(')');
    return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z' &&
           text[paren + 2] != 'X';
}

std::vector<pid_t> pids_with_env_entry(const std::string& entry) {
    std::vector<pid_t> pids;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const auto name = e.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::ifstream in(e.path() / "environ", std::ios::binary);
        std::string item;
        while (std::getline(in, item, '\0')) {
            if (item == entry) {
                pids.push_back(std::stoi(name));
                break;
            }
        }
    }
    return pids;
}

std::vector<pid_t> pids_with_argv_containing(const std::string& text) {
    std::vector<pid_t> pids;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const auto name = e.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::ifstream in(e.path() / "cmdline", std::ios::binary);
        std::string arg;
        while (std::getline(in, arg, '\0')) {
            if (arg.find(text) != std::string::npos) {
                pids.push_back(std::stoi(name));
                break;
            }
        }
    }
    return pids;
}

std::optional<std::pair<pid_t, pid_t>> session_and_group(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) {
        return std::nullopt;
    }
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) {
        return std::nullopt;
    }
    // After ')': state ppid pgrp session ...
    std::istringstream rest(text.substr(paren + 1));
    std::string state;
    pid_t ppid = 0, pgrp = 0, session = 0;
    if (!(rest >> state >> ppid >> pgrp >> session)) {
        return std::nullopt;
    }
    return std::make_pair(session, pgrp);
}

int pick_free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

TempDir::TempDir() {
    std::string pattern = (fs::temp_directory_path() / "gamestore-sdk-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
        throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    }
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

std::string random_hex(std::size_t bytes) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < bytes; ++i) {
        const auto b = static_cast<unsigned>(rng() & 0xff);
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

namespace {
void write_secret(const fs::path& path, const std::string& value) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        throw std::runtime_error("cannot write " + path.string());
    }
    const std::string text = value + "\n";
    [[maybe_unused]] auto n = ::write(fd, text.data(), text.size());
    ::close(fd);
}
}  // namespace

FakeMatch::FakeMatch(std::vector<std::string> players_, int report_port_, std::string heartbeat)
    : match_id("m-" + random_hex(8)),
      report_token(random_hex(16)),
      client_token(random_hex(16)),
      players(std::move(players_)),
      report_port(report_port_),
      heartbeat_interval_sec(std::move(heartbeat)) {
    match_dir = dir.path() / "match";
    fs::create_directory(match_dir);
    fs::permissions(match_dir, fs::perms::owner_all, fs::perm_options::replace);
    write_secret(match_dir / "report_token", report_token);
    write_secret(match_dir / "client_token", client_token);
    std::ofstream(match_dir / "players.json") << nlohmann::json(players).dump();
}

namespace {
// Sanitizer builds report from the children too: pass their options through
// (the only variables inherited from the test's own environment).
void add_sanitizer_options(std::map<std::string, std::string>& env) {
    for (const auto* name : {"ASAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
        if (const char* value = std::getenv(name)) {
            env[name] = value;
        }
    }
}
}  // namespace

std::map<std::string, std::string> FakeMatch::server_env(int port) const {
    std::string csv;
    for (const auto& p : players) {
        csv += (csv.empty() ? "" : ",") + p;
    }
    std::map<std::string, std::string> env{
        {"ROOM_ID", std::to_string(room_id)},
        {"MATCH_ID", match_id},
        {"PORT", std::to_string(port)},
        {"BIND_HOST", "127.0.0.1"},
        {"REPORT_HOST", "127.0.0.1"},
        {"REPORT_PORT", std::to_string(report_port)},
        {"REPORT_TOKEN", report_token},
        {"REPORT_TOKEN_PATH", (match_dir / "report_token").string()},
        {"CLIENT_TOKEN", client_token},
        {"CLIENT_TOKEN_PATH", (match_dir / "client_token").string()},
        {"PLAYERS_JSON", nlohmann::json(players).dump()},
        {"PLAYERS_JSON_PATH", (match_dir / "players.json").string()},
        {"PLAYERS_CSV", csv},
        {"PLAYER_COUNT", std::to_string(players.size())},
        {"PLATFORM_PROTOCOL_VERSION", "1"},
        {"HEARTBEAT_INTERVAL_SEC", heartbeat_interval_sec},
        {"MATCH_DIR", match_dir.string()},
        {"PATH", "/usr/local/bin:/usr/bin:/bin"},
    };
    add_sanitizer_options(env);
    return env;
}

std::map<std::string, std::string> FakeMatch::client_env(const std::string& player,
                                                         int port) const {
    std::map<std::string, std::string> env{
        {"ROOM_ID", std::to_string(room_id)},
        {"MATCH_ID", match_id},
        {"HOST", "127.0.0.1"},
        {"PORT", std::to_string(port)},
        {"PLAYER_NAME", player},
        {"CLIENT_TOKEN", client_token},
        {"CLIENT_TOKEN_PATH", (match_dir / "client_token").string()},
        {"PLATFORM_PROTOCOL_VERSION", "1"},
        {"MATCH_DIR", match_dir.string()},
        {"PATH", "/usr/local/bin:/usr/bin:/bin"},
    };
    add_sanitizer_options(env);
    return env;
}

}  // namespace gamestore::sdk_test
