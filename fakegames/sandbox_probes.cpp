#include "fakegames/sandbox_probes.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <string_view>

#include "gamestore/sdk/reporter.hpp"

namespace gamestore::fakegames {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::size_t kMiB = 1024 * 1024;
constexpr std::size_t kListed = 20;  // pids or matches named in one detail

// One flushed line on stdout: the result a test or the platform's log reads.
void print_line(const std::string& line) {
    const std::string text = line + "\n";
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

std::string error_text(int err) {
    return std::strerror(err);
}

json attempt(bool ok, const std::string& detail) {
    return json{{"ok", ok}, {"detail", detail}};
}

json not_asked() {
    return attempt(false, "not asked");
}

// A small file (a token, an environ, a stat line), at most `limit` bytes.
// Empty optional with `err` set when it cannot be opened or read.
std::optional<std::string> read_small(const std::string& path, std::size_t limit, int& err) {
    sdk::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) {
        err = errno;
        return std::nullopt;
    }
    std::string out;
    char buffer[4096];
    while (out.size() < limit) {
        const ssize_t n = ::read(fd.get(), buffer, std::min(sizeof buffer, limit - out.size()));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = errno;
            return std::nullopt;
        }
        if (n == 0) {
            break;
        }
        out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
}

std::string trim(std::string text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.pop_back();
    }
    return text;
}

bool numeric(std::string_view name) {
    return !name.empty() &&
           std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Entry names of a directory, sorted; nullopt with `err` set if it cannot be listed.
std::optional<std::vector<std::string>> list_dir(const std::string& path, int& err) {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) {
        err = errno;
        return std::nullopt;
    }
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(dir)) {
        const std::string_view name = entry->d_name;
        if (name != "." && name != "..") {
            names.emplace_back(name);
        }
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<pid_t> proc_pids() {
    int err = 0;
    std::vector<pid_t> pids;
    if (const auto names = list_dir("/proc", err)) {
        for (const auto& name : *names) {
            if (numeric(name)) {
                pids.push_back(static_cast<pid_t>(std::stol(name)));
            }
        }
    }
    std::sort(pids.begin(), pids.end());
    return pids;
}

// A match secret the attack got hold of, for "forge".
struct Stolen {
    std::string match_id;
    std::string report_token;
    std::int64_t room_id = 0;
    std::vector<std::string> players;
};

std::vector<std::string> player_names(const std::string& players_json) {
    std::vector<std::string> names;
    const auto parsed = json::parse(players_json, nullptr, false);
    if (parsed.is_array()) {
        for (const auto& p : parsed) {
            if (p.is_string()) {
                names.push_back(p.get<std::string>());
            }
        }
    }
    return names;
}

std::string printable(const char* data, std::size_t size) {
    std::string out;
    for (std::size_t i = 0; i < size; ++i) {
        const auto c = static_cast<unsigned char>(data[i]);
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
    }
    return out;
}

json attack_db(const std::optional<std::string>& path) {
    if (!path) {
        return not_asked();
    }
    int err = 0;
    const auto head = read_small(*path, 16, err);
    if (!head) {
        return attempt(false, "cannot read " + *path + ": " + error_text(err));
    }
    if (head->empty()) {
        return attempt(false, "opened " + *path + ", but it is empty");
    }
    return attempt(true, "read " + std::to_string(head->size()) + " bytes of " + *path + ": " +
                             printable(head->data(), head->size()));
}

json attack_store(const std::vector<std::string>& dirs) {
    if (dirs.empty()) {
        return not_asked();
    }
    bool any = false;
    std::string detail;
    const std::string name = "fakegame-attack-" + std::to_string(::getpid());
    for (const auto& dir : dirs) {
        const std::string path = (fs::path(dir) / name).string();
        std::string outcome;
        sdk::UniqueFd fd(
            ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd) {
            outcome = "cannot create " + name + ": " + error_text(errno);
        } else {
            ssize_t n = 0;
            do {
                n = ::write(fd.get(), "x", 1);
            } while (n < 0 && errno == EINTR);
            if (n == 1) {
                any = true;
                outcome = "created " + name + " and wrote 1 byte";
            } else {
                outcome = "created " + name +
                          ", but the write failed: " + error_text(n < 0 ? errno : ENOSPC);
            }
            fd.reset();
            outcome += ::unlink(path.c_str()) == 0
                           ? " (removed)"
                           : " (could not remove it: " + error_text(errno) + ")";
        }
        detail += (detail.empty() ? "" : "; ") + dir + ": " + outcome;
    }
    return attempt(any, detail);
}

json attack_tokens(const std::optional<std::string>& matches, const std::string& own_match,
                   std::vector<Stolen>& stolen) {
    if (!matches) {
        return not_asked();
    }
    int err = 0;
    const auto names = list_dir(*matches, err);
    if (!names) {
        return attempt(false, "cannot list " + *matches + ": " + error_text(err));
    }
    bool any = false;
    std::size_t foreign = 0;
    std::string detail;
    for (const auto& name : *names) {
        const std::string dir = (fs::path(*matches) / name).string();
        struct stat st {};
        if (name == own_match || ::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            continue;
        }
        ++foreign;
        std::string outcome;
        std::optional<std::string> report;
        for (const char* file : {"report_token", "client_token"}) {
            int file_err = 0;
            auto token = read_small(dir + "/" + file, 4096, file_err);
            if (token) {
                *token = trim(*token);
            }
            if (token && !token->empty()) {
                any = true;
                // The length, never the secret: this line ends up in logs.
                outcome += std::string(outcome.empty() ? "" : ", ") + file + " read (" +
                           std::to_string(token->size()) + " bytes)";
                if (std::string_view(file) == "report_token") {
                    report = token;
                }
            } else {
                outcome += std::string(outcome.empty() ? "" : ", ") + file + ": " +
                           (token ? "empty" : error_text(file_err));
            }
        }
        if (report) {
            Stolen s{name, *report, 0, {}};
            int players_err = 0;
            if (const auto players = read_small(dir + "/players.json", 64 * 1024, players_err)) {
                s.players = player_names(*players);
            }
            stolen.push_back(std::move(s));
        }
        if (foreign <= kListed) {
            detail += (detail.empty() ? "" : "; ") + name + ": " + outcome;
        }
    }
    if (foreign == 0) {
        return attempt(false, "no match directory but our own in " + *matches + " (" +
                                  std::to_string(names->size()) + " entries)");
    }
    if (foreign > kListed) {
        detail += "; and " + std::to_string(foreign - kListed) + " more";
    }
    return attempt(any, detail);
}

json attack_environ(const std::string& own_match, std::vector<Stolen>& stolen) {
    const pid_t self = ::getpid();
    std::size_t scanned = 0;
    std::size_t unreadable = 0;
    std::size_t found = 0;
    std::string listed;
    for (const pid_t pid : proc_pids()) {
        if (pid == self) {
            continue;
        }
        ++scanned;
        int err = 0;
        const auto environ =
            read_small("/proc/" + std::to_string(pid) + "/environ", 1024 * 1024, err);
        if (!environ) {
            ++unreadable;
            continue;
        }
        std::optional<std::string> match;
        std::optional<std::string> token;
        Stolen s;
        std::size_t start = 0;
        while (start < environ->size()) {
            auto end = environ->find('\0', start);
            if (end == std::string::npos) {
                end = environ->size();
            }
            const std::string_view entry(environ->data() + start, end - start);
            const auto value = [&](std::string_view key) -> std::optional<std::string> {
                if (entry.substr(0, key.size()) == key) {
                    return std::string(entry.substr(key.size()));
                }
                return std::nullopt;
            };
            if (auto v = value("MATCH_ID=")) {
                match = v;
            } else if (auto t = value("REPORT_TOKEN=")) {
                token = t;
            } else if (auto r = value("ROOM_ID=")) {
                s.room_id = std::strtoll(r->c_str(), nullptr, 10);
            } else if (auto p = value("PLAYERS_JSON=")) {
                s.players = player_names(*p);
            }
            start = end + 1;
        }
        if (!match || *match == own_match || !token || token->empty()) {
            continue;
        }
        ++found;
        if (found <= kListed) {
            listed += (listed.empty() ? "" : ", ") + std::string("pid ") + std::to_string(pid) +
                      " (match " + *match + ")";
        }
        s.match_id = *match;
        s.report_token = *token;
        stolen.push_back(std::move(s));
    }
    std::string detail = "read the environment of " + std::to_string(scanned - unreadable) +
                         " of " + std::to_string(scanned) + " other processes";
    if (found == 0) {
        detail += "; no other match's REPORT_TOKEN";
    } else {
        detail += "; another match's REPORT_TOKEN in " + listed +
                  (found > kListed ? " and " + std::to_string(found - kListed) + " more" : "");
    }
    return attempt(found > 0, detail);
}

json attack_processes(int processes_started) {
    std::vector<pid_t> live;
    for (const pid_t pid : proc_pids()) {
        int err = 0;
        const auto stat = read_small("/proc/" + std::to_string(pid) + "/stat", 4096, err);
        if (!stat) {
            continue;  // gone meanwhile
        }
        // The state follows the last ')' (the command name may hold one).
        const auto paren = stat->rfind(')');
        if (paren == std::string::npos || paren + 2 >= stat->size()) {
            continue;
        }
        const char state = (*stat)[paren + 2];
        if (state != 'Z' && state != 'X') {
            live.push_back(pid);
        }
    }
    std::string detail = std::to_string(live.size()) + " live processes visible:";
    for (std::size_t i = 0; i < live.size() && i < kListed; ++i) {
        detail += " " + std::to_string(live[i]);
    }
    if (live.size() > kListed) {
        detail += " ...";
    }
    // Our own match is this server, what it started, and the sandbox's init.
    const auto own = static_cast<std::size_t>(processes_started) + 2;
    auto result = attempt(live.size() > own, detail);
    result["count"] = live.size();
    return result;
}

json attack_signal(const std::vector<int>& pids) {
    if (pids.empty()) {
        return not_asked();
    }
    bool any = false;
    std::string detail;
    for (const int pid : pids) {
        const bool ok = ::kill(pid, 0) == 0;
        any = any || ok;
        detail += (detail.empty() ? "" : "; ") + std::string("pid ") + std::to_string(pid) + ": " +
                  (ok ? "signal 0 delivered" : error_text(errno));
    }
    return attempt(any, detail);
}

json attack_forge(const std::vector<Stolen>& stolen, const AttackContext& context) {
    if (stolen.empty()) {
        return attempt(false, "no stolen token");
    }
    const Stolen& victim = stolen.front();
    // Token files carry no room id; an environment of the same match does.
    std::int64_t room_id = victim.room_id;
    for (const auto& other : stolen) {
        if (room_id == 0 && other.match_id == victim.match_id) {
            room_id = other.room_id;
        }
    }
    sdk::ReportTarget target;
    target.host = context.report_host;
    target.port = context.report_port;
    target.room_id = room_id;
    target.match_id = victim.match_id;
    target.report_token = victim.report_token;
    target.game = "fakegame";
    // The shape of fakegame's own END: ranked results, winner, reason.
    auto end = target.make_report("END");
    auto results = json::array();
    for (std::size_t i = 0; i < victim.players.size(); ++i) {
        sdk::PlayerResult r;
        r.player = victim.players[i];
        r.outcome = i == 0 ? sdk::Outcome::Win : sdk::Outcome::Lose;
        r.rank = i == 0 ? 1 : 2;
        r.score = 0;
        results.push_back(r.to_json());
    }
    if (!victim.players.empty()) {
        end["winner"] = victim.players.front();
    }
    end["reason"] = "forged by fakegame --attack";
    end["results"] = std::move(results);
    const std::string what = "END for match " + victim.match_id + " (room " +
                             std::to_string(room_id) + ", " +
                             std::to_string(victim.players.size()) + " results)";
    try {
        sdk::LineConnection conn(sdk::connect_tcp(target.host, target.port, 2s));
        if (auto error = conn.try_send_line(end.dump(), 2s); !error.empty()) {
            return attempt(false, "could not send " + what + ": " + error);
        }
        // The reply only informs the detail: sending is the attack.
        const auto reply = conn.read_line(1s);
        return attempt(true, "sent " + what + "; the platform " +
                                 (reply.ok() ? "replied " + reply.line.substr(0, 200)
                                             : std::string("did not reply (") +
                                                   sdk::to_string(reply.status) + ")"));
    } catch (const sdk::NetError& e) {
        return attempt(false, "cannot connect to " + target.host + ":" +
                                  std::to_string(target.port) + ": " + e.what());
    }
}

// Waits up to `timeout` for `stop_fd` (-1 ms: forever). True once it fired.
bool stop_requested(int stop_fd, int timeout_ms) {
    for (;;) {
        pollfd p{stop_fd, POLLIN, 0};
        const int rc = ::poll(&p, 1, timeout_ms);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        return rc > 0;
    }
}

// A --fork-loop child: nothing but a process slot, until it is killed.
[[noreturn]] void fork_loop_child(pid_t parent) {
    // Dies with the server however the server ends; if the server is already
    // gone, the death signal would never come.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
        ::_exit(0);
    }
    // The server's stop handler (or --ignore-sigterm) must not keep a
    // group-wide SIGTERM from ending the child.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGTERM, &dfl, nullptr);
    ::sigaction(SIGINT, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Hold no socket or pipe of the server's beyond stdio.
    ::close_range(3, ~0U, 0);
    for (;;) {
        ::pause();
    }
}

// Forks until stop_fd fires. Returns the number of children forked.
int fork_loop(int stop_fd) {
    const pid_t self = ::getpid();
    int children = 0;
    bool failure_reported = false;
    for (;;) {
        if (stop_requested(stop_fd, 0)) {
            return children;
        }
        // Children only end when killed; collect them so zombies do not pile up.
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        if (children >= kForkLoopCap) {
            print_line("FORK_LOOP: stopped at the safety cap of " + std::to_string(kForkLoopCap) +
                       " children");
            stop_requested(stop_fd, -1);
            return children;
        }
        const pid_t pid = ::fork();
        if (pid == 0) {
            fork_loop_child(self);
        }
        if (pid > 0) {
            ++children;
            continue;
        }
        const int err = errno;
        if (!failure_reported) {
            print_line("FORK_LOOP: fork failed after " + std::to_string(children) +
                       " children: " + error_text(err));
            failure_reported = true;
        }
        if (stop_requested(stop_fd, 10)) {
            return children;
        }
    }
}

// Writes all of `data`; false with errno set on failure.
bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            errno = ENOSPC;
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// SIGXFSZ keeps whatever disposition the server was started with (the
// default terminates): a file-size limit is meant to kill the game.
int write_big_file(int mb) {
    const auto failed = [](int done, int err) {
        print_line("WRITE_FILE: failed after " + std::to_string(done) + " MiB: " + error_text(err));
        return kExitProbeFailed;
    };
    sdk::UniqueFd fd(::open("big.bin", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) {
        return failed(0, errno);
    }
    const std::vector<char> chunk(kMiB, 'x');
    for (int done = 0; done < mb; ++done) {
        if (!write_all(fd.get(), chunk.data(), chunk.size())) {
            return failed(done, errno);
        }
    }
    if (::close(fd.release()) != 0) {
        return failed(mb, errno);
    }
    print_line("WRITE_FILE: wrote " + std::to_string(mb) + " MiB");
    return 0;
}

}  // namespace

json run_attack(const SandboxProbeOptions& o, const AttackContext& context) {
    std::vector<Stolen> stolen;  // from the token files first, then from environs
    json result = json::object();
    result["db"] = attack_db(o.attack_db);
    result["store"] = attack_store(o.attack_store);
    result["tokens"] = attack_tokens(o.attack_matches, context.own_match_id, stolen);
    result["environ"] = attack_environ(context.own_match_id, stolen);
    result["processes"] = attack_processes(context.processes_started);
    result["signal"] = attack_signal(o.attack_signal);
    result["forge"] = attack_forge(stolen, context);
    return result;
}

SandboxProbes::SandboxProbes(SandboxProbeOptions options, Log log)
    : options_(std::move(options)), log_(std::move(log)) {}

bool SandboxProbes::at_startup(const std::string& match_id) {
    if (!options_.write_beside) {
        return true;
    }
    const fs::path dir = *options_.write_beside;
    beside_path_ = (dir / "server.log").string();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        print_line("WRITE_BESIDE: cannot write " + beside_path_ + ": " + ec.message());
        return false;
    }
    beside_log_.reset(
        ::open(beside_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!beside_log_) {
        print_line("WRITE_BESIDE: cannot write " + beside_path_ + ": " + error_text(errno));
        return false;
    }
    const std::string line = "started match " + match_id + "\n";
    if (!write_all(beside_log_.get(), line.data(), line.size())) {
        print_line("WRITE_BESIDE: cannot write " + beside_path_ + ": " + error_text(errno));
        return false;
    }
    log_("writing events to " + beside_path_ + " (--write-beside)");
    return true;
}

void SandboxProbes::beside_event(const std::string& event) {
    if (!beside_log_) {
        return;
    }
    const std::string line = event + "\n";
    if (!write_all(beside_log_.get(), line.data(), line.size())) {
        // Like a game whose log write throws: the process ends here, even
        // from inside the accept loop.
        print_line("WRITE_BESIDE: cannot write " + beside_path_ + ": " + error_text(errno));
        std::fflush(stderr);
        std::_Exit(kExitProbeFailed);
    }
}

void SandboxProbes::player_joined(const std::string& player, int seat) {
    beside_event("player " + player + " connected (seat " + std::to_string(seat) + ")");
}

void SandboxProbes::match_ended(std::size_t results) {
    beside_event("match ended with " + std::to_string(results) + " results");
}

std::optional<int> SandboxProbes::after_started(const AttackContext& context, int stop_fd,
                                                const std::function<void()>& stop_heartbeats) {
    if (options_.attack) {
        log_("attacking the sandbox (--attack)");
        const auto result = run_attack(options_, context);
        // Replace, not throw, on bytes that are not UTF-8 (file names, file heads).
        print_line("ATTACK " + result.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    if (options_.write_file_mb) {
        log_("writing " + std::to_string(*options_.write_file_mb) +
             " MiB to big.bin (--write-file-mb)");
        if (const int code = write_big_file(*options_.write_file_mb); code != 0) {
            return code;
        }
    }
    if (options_.allocate_mb) {
        const auto total = static_cast<std::size_t>(*options_.allocate_mb);
        log_("allocating " + std::to_string(total) + " MiB (--allocate-mb)");
        std::size_t done = 0;
        while (done < total) {
            const std::size_t mb = std::min<std::size_t>(16, total - done);
            char* chunk = nullptr;
            try {
                chunk = new char[mb * kMiB];
            } catch (const std::bad_alloc&) {
                // Like a game with an uncaught std::bad_alloc.
                print_line("ALLOCATE: out of memory after " + std::to_string(done) + " MiB");
                std::abort();
            }
            held_.emplace_back(chunk);
            std::memset(chunk, 0x5a, mb * kMiB);
            // The memory is never read: keep the compiler from dropping the memset.
            asm volatile("" : : "r"(chunk) : "memory");
            done += mb;
        }
        print_line("ALLOCATE: holding " + std::to_string(total) + " MiB");
    }
    if (options_.fork_loop) {
        stop_heartbeats();
        log_("stopped heartbeats; forking until fork fails (--fork-loop)");
        const int children = fork_loop(stop_fd);
        log_("stopping on signal after forking " + std::to_string(children) + " children");
        return kExitOk;
    }
    return std::nullopt;
}

}  // namespace gamestore::fakegames
