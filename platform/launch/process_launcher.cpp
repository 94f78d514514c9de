#include "platform/launch/process_launcher.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string_view>

extern char** environ;

namespace gamestore::launch {

namespace fs = std::filesystem;

namespace {

std::string read_small_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Fields of /proc/<pid>/stat after the command name (which may hold spaces
// and parentheses, so parse from the last ')').
std::vector<std::string> stat_fields(pid_t pid) {
    const std::string stat = read_small_file("/proc/" + std::to_string(pid) + "/stat");
    const auto close = stat.rfind(')');
    std::vector<std::string> fields;
    if (close == std::string::npos) {
        return fields;
    }
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    while (rest >> field) {
        fields.push_back(field);
    }
    return fields;  // fields[0] is field 3 (state)
}

std::optional<std::string> find_in_path(const std::string& name, const std::string& path_value) {
    std::size_t start = 0;
    while (start <= path_value.size()) {
        const auto end = path_value.find(':', start);
        const std::string dir = path_value.substr(start, end == std::string::npos ? std::string::npos : end - start);
        const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
        if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) {
            return candidate.string();
        }
        if (end == std::string::npos) {
            break;
        }
        start = end + 1;
    }
    return std::nullopt;
}

void sleep_briefly(int ms) {
    ::poll(nullptr, 0, ms);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> base_environment() {
    static const char* const kPassed[] = {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "USER",
                                          "LOGNAME", "SHELL", "TMPDIR", "PYTHONPATH", "DISPLAY", "COLORTERM"};
    std::vector<std::pair<std::string, std::string>> env;
    for (const char* name : kPassed) {
        if (const char* value = std::getenv(name)) {
            env.emplace_back(name, value);
        }
    }
    if (!std::getenv("PATH")) {
        env.emplace_back("PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    return env;
}

std::variant<SpawnedProcess, std::string> spawn_process(const ProcessSpec& spec) {
    if (spec.argv.empty() || spec.argv[0].empty()) {
        return std::string("the command is empty");
    }
    std::string path_value = "/usr/local/bin:/usr/bin:/bin";
    for (const auto& [key, value] : spec.env) {
        if (key == "PATH") {
            path_value = value;
        }
    }
    // Resolve the program the way execvp would, but against the child's PATH
    // and cwd, so the error names what was looked for.
    std::string program = spec.argv[0];
    if (program.find('/') == std::string::npos) {
        auto found = find_in_path(program, path_value);
        if (!found) {
            return "'" + program + "' was not found in PATH (" + path_value + ")";
        }
        program = *found;
    } else if (fs::path(program).is_relative()) {
        // Absolute: the child changes into cwd before it execs, so a path
        // relative to our own directory would no longer resolve there.
        program = fs::absolute(spec.cwd / program).lexically_normal().string();
    }
    if (::access(program.c_str(), X_OK) != 0) {
        return "'" + spec.argv[0] + "' is not an executable file (" + std::strerror(errno) + ")";
    }

    std::vector<std::string> env_strings;
    env_strings.reserve(spec.env.size());
    for (const auto& [key, value] : spec.env) {
        env_strings.push_back(key + "=" + value);
    }
    std::vector<char*> envp;
    for (auto& entry : env_strings) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = spec.argv;
    std::vector<char*> argvp;
    for (auto& arg : args) argvp.push_back(arg.data());
    argvp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);

    if (!spec.inherit_stdin) {
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    }
    if (spec.output_fd >= 0) {
        posix_spawn_file_actions_adddup2(&actions, spec.output_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, spec.output_fd, STDERR_FILENO);
    } else if (!spec.output_file.empty()) {
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, spec.output_file.c_str(),
                                         O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    }
    if (!spec.cwd.empty()) {
        posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
    }
    // Our sockets, the database and every other descriptor stay ours.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);

    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (spec.new_session) {
        flags |= POSIX_SPAWN_SETSID;
    } else if (spec.new_process_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(&attr, 0);
    }
    posix_spawnattr_setflags(&attr, flags);
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigmask(&attr, &empty);
    // Dispositions we changed (SIGPIPE ignored, SIGCHLD/SIGTERM handled) go
    // back to their defaults in the child.
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int signo : {SIGPIPE, SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) {
        sigaddset(&defaults, signo);
    }
    posix_spawnattr_setsigdefault(&attr, &defaults);

    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, program.c_str(), &actions, &attr, argvp.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        return "could not start '" + spec.argv[0] + "': " + std::strerror(rc);
    }
    SpawnedProcess spawned;
    spawned.pid = pid;
    spawned.pgid = (spec.new_session || spec.new_process_group) ? pid : ::getpgid(pid);
    spawned.start_time = process_start_time(pid);
    return spawned;
}

std::int64_t process_start_time(pid_t pid) {
    const auto fields = stat_fields(pid);
    if (fields.size() < 20) {
        return 0;
    }
    try {
        return std::stoll(fields[19]);  // field 22
    } catch (const std::exception&) {
        return 0;
    }
}

bool same_process_alive(pid_t pid, std::int64_t start_time) {
    const auto fields = stat_fields(pid);
    if (fields.size() < 20 || fields[0] == "Z" || fields[0] == "X") {
        return false;
    }
    return start_time == 0 || std::stoll(fields[19]) == start_time;
}

bool group_alive(pid_t pgid) {
    if (pgid <= 1) {
        return false;
    }
    if (::kill(-pgid, 0) != 0 && errno == ESRCH) {
        return false;
    }
    // kill() also succeeds for zombies; only a live member counts.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const auto name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const auto fields = stat_fields(static_cast<pid_t>(std::stol(name)));
        // fields[0]=state (3), fields[2]=pgrp (5)
        if (fields.size() > 2 && fields[2] == std::to_string(pgid) && fields[0] != "Z" && fields[0] != "X") {
            return true;
        }
    }
    return false;
}

bool group_has_members(pid_t pgid) {
    if (pgid <= 1) {
        return false;
    }
    // EPERM: members exist that we may not signal; they still count.
    return ::kill(-pgid, 0) == 0 || errno != ESRCH;
}

bool process_alive(pid_t pid) {
    if (pid <= 0) {
        return false;
    }
    const auto fields = stat_fields(pid);
    return !fields.empty() && fields[0] != "Z" && fields[0] != "X";
}

namespace {

pid_t parent_of(pid_t pid) {
    const auto fields = stat_fields(pid);
    if (fields.size() < 2) {
        return 0;
    }
    try {
        return static_cast<pid_t>(std::stol(fields[1]));  // field 4
    } catch (const std::exception&) {
        return 0;
    }
}

bool has_lineage(pid_t pid, Lineage lineage) {
    switch (lineage) {
        case Lineage::Any:
            return true;
        case Lineage::Orphan:
            return parent_of(pid) == 1;
        case Lineage::Descendant: {
            const pid_t self = ::getpid();
            pid_t current = pid;
            for (int depth = 0; depth < 128 && current > 1; ++depth) {
                current = parent_of(current);
                if (current == self) {
                    return true;
                }
            }
            return false;
        }
    }
    return false;
}

}  // namespace

namespace {

// Calls `visit(pid, entry)` for each environment entry of every other
// process until it returns true for that process (then on to the next one).
void for_each_environ_entry(const std::function<bool(pid_t, std::string_view)>& visit) {
    std::error_code ec;
    for (const auto& proc : fs::directory_iterator("/proc", ec)) {
        const auto pid_text = proc.path().filename().string();
        if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
        if (pid == ::getpid()) {
            continue;
        }
        const std::string environ_text = read_small_file(proc.path() / "environ");
        for (std::size_t start = 0; start < environ_text.size();) {
            auto end = environ_text.find('\0', start);
            if (end == std::string::npos) end = environ_text.size();
            if (visit(pid, std::string_view(environ_text).substr(start, end - start))) {
                break;
            }
            start = end + 1;
        }
    }
}

bool live_with_lineage(pid_t pid, Lineage lineage) {
    const auto fields = stat_fields(pid);
    return !fields.empty() && fields[0] != "Z" && fields[0] != "X" && has_lineage(pid, lineage);
}

}  // namespace

std::vector<pid_t> processes_with_env_entry(const std::string& marker, Lineage lineage) {
    std::vector<pid_t> found;
    if (marker.empty()) {
        return found;
    }
    for_each_environ_entry([&](pid_t pid, std::string_view entry) {
        if (entry.find(marker) == std::string_view::npos) {
            return false;
        }
        if (live_with_lineage(pid, lineage)) {
            found.push_back(pid);
        }
        return true;
    });
    return found;
}

std::map<std::string, std::vector<pid_t>> orphans_by_env_id(
    const std::function<std::optional<std::string>(std::string_view)>& find_id) {
    std::map<pid_t, std::string> carriers;
    for_each_environ_entry([&](pid_t pid, std::string_view entry) {
        auto id = find_id(entry);
        if (!id) {
            return false;
        }
        if (live_with_lineage(pid, Lineage::Any)) {
            carriers.emplace(pid, std::move(*id));
        }
        return true;
    });
    std::map<std::string, std::vector<pid_t>> found;
    for (const auto& [pid, id] : carriers) {
        // Up to the ancestor whose parent is init (bounded: pids can be reused).
        pid_t top = pid;
        for (int depth = 0; depth < 128; ++depth) {
            const pid_t parent = parent_of(top);
            if (parent <= 1) {
                break;
            }
            top = parent;
        }
        const auto carried = carriers.find(top);
        if (parent_of(top) == 1 && carried != carriers.end() && carried->second == id) {
            found[id].push_back(pid);
        }
    }
    return found;
}

std::vector<pid_t> escaped_processes(pid_t pgid, const std::string& marker, Lineage lineage) {
    std::vector<pid_t> outside;
    for (pid_t pid : processes_with_env_entry(marker, lineage)) {
        if (::getpgid(pid) != pgid) {
            outside.push_back(pid);
        }
    }
    return outside;
}

void signal_tree(pid_t pgid, const std::vector<pid_t>& pids, int signo) {
    if (pgid > 1) {
        ::kill(-pgid, signo);
        if (signo == SIGTERM) {
            ::kill(-pgid, SIGCONT);
        }
    }
    for (pid_t pid : pids) {
        if (pid > 1) {
            ::kill(pid, signo);
            if (signo == SIGTERM) {
                ::kill(pid, SIGCONT);
            }
        }
    }
}

StopOutcome stop_process_tree(pid_t pgid, const std::string& marker, std::chrono::milliseconds grace,
                              std::chrono::milliseconds kill_wait, Lineage lineage) {
    StopOutcome outcome;
    auto escaped = [&] { return escaped_processes(pgid, marker, lineage); };
    auto anything_left = [&] { return group_alive(pgid) || !escaped().empty(); };
    auto wait_until_gone = [&](std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        // No kernel event says "this group is empty"; re-check at a short,
        // bounded cadence until the deadline.
        while (anything_left()) {
            if (std::chrono::steady_clock::now() >= deadline) {
                return false;
            }
            sleep_briefly(10);
        }
        return true;
    };

    signal_tree(pgid, {}, SIGTERM);
    signal_tree(0, escaped(), SIGTERM);
    if (wait_until_gone(grace)) {
        outcome.exited_on_term = true;
        return outcome;
    }
    outcome.killed = true;
    const auto stubborn = escaped();
    signal_tree(pgid, stubborn, SIGKILL);
    outcome.escaped_killed = stubborn.size();
    outcome.leftovers = !wait_until_gone(kill_wait);
    return outcome;
}

bool kill_and_wait(const std::vector<pid_t>& pids, std::chrono::milliseconds limit) {
    for (pid_t pid : pids) {
        // A group leader takes its group with it.
        signal_tree(pid > 1 && ::getpgid(pid) == pid ? pid : 0, {pid}, SIGKILL);
    }
    auto alive = [](pid_t pid) { return live_with_lineage(pid, Lineage::Any); };
    const auto deadline = std::chrono::steady_clock::now() + limit;
    // No kernel event tells us about processes that are not our children:
    // re-check at a short, bounded cadence until the deadline.
    while (std::any_of(pids.begin(), pids.end(), alive)) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        sleep_briefly(10);
    }
    return true;
}

bool become_child_subreaper() {
    return ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
}

void create_private_dir(const fs::path& dir) {
    fs::create_directories(dir.parent_path());
    if (::mkdir(dir.c_str(), 0700) != 0) {
        throw std::runtime_error("cannot create " + dir.string() + ": " + std::strerror(errno));
    }
    ::chmod(dir.c_str(), 0700);  // whatever the umask said
}

void write_private_file(const fs::path& file, const std::string& content) {
    const auto temp = file.string() + ".tmp";
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        throw std::runtime_error("cannot write " + file.string() + ": " + std::strerror(errno));
    }
    std::size_t written = 0;
    while (written < content.size()) {
        const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n <= 0) {
            ::close(fd);
            ::unlink(temp.c_str());
            throw std::runtime_error("cannot write " + file.string() + ": " + std::strerror(errno));
        }
        written += static_cast<std::size_t>(n);
    }
    ::fchmod(fd, 0600);
    ::close(fd);
    if (::rename(temp.c_str(), file.c_str()) != 0) {
        ::unlink(temp.c_str());
        throw std::runtime_error("cannot write " + file.string() + ": " + std::strerror(errno));
    }
}

}  // namespace gamestore::launch
