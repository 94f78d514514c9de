#include "platform/launch/process_launcher.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include <boost/process/child.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/posix.hpp>

#include "platform/launch/proc_files.hpp"

// Boost.Process 1.74 compiles its vfork executor only when this is set before
// its headers (platform/launch/CMakeLists.txt defines it); without it,
// use_vfork fails at link time with an error that does not say why.
#if !BOOST_POSIX_HAS_VFORK
#error "platform/launch needs BOOST_POSIX_HAS_VFORK=1 for Boost.Process's vfork executor"
#endif

namespace gamestore::launch {

namespace fs = std::filesystem;
namespace bp = boost::process;

namespace {

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
    static const char* const kPassed[] = {
        "PATH",    "HOME",  "LANG",   "LC_ALL",     "LC_CTYPE", "TERM",       "TZ",       "USER",
        "LOGNAME", "SHELL", "TMPDIR", "PYTHONPATH", "DISPLAY",  "XAUTHORITY", "COLORTERM"};
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
    // Scratch for the child, which may not allocate: each passed descriptor
    // is first moved above the range 3..3+n it will be renumbered into.
    const int passed = static_cast<int>(spec.pass_fds.size());
    std::vector<int> moved(spec.pass_fds.size(), -1);
    // A new session is also a new scheduling autogroup (when the kernel has
    // them on, as Debian's does): the CPU is shared between autogroups
    // first, so a process's own niceness only counts against the other
    // processes of its session, and 2,000 game servers, each in a session
    // of its own, would outweigh the lobby 2,000 to 1 whatever their
    // niceness. The session's autogroup therefore gets the same niceness.
    const std::string autogroup_nice =
        spec.new_session && spec.nice > 0 ? std::to_string(spec.nice) : std::string();

    // Dispositions we changed (SIGPIPE ignored, SIGCHLD/SIGTERM handled) go
    // back to their defaults in the child.
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int signo : {SIGPIPE, SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) {
        sigaddset(&defaults, signo);
    }
    sigset_t empty;
    sigemptyset(&empty);

    // The vfork child runs on this thread's memory until it execs: a handler
    // of ours running in it could corrupt our state, so every signal stays
    // blocked from before the vfork until the child has made its handlers
    // default; the child unblocks them itself right before execve.
    sigset_t all;
    sigfillset(&all);
    sigset_t previous;
    ::pthread_sigmask(SIG_SETMASK, &all, &previous);

    // Set by the child when a step of its setup failed; it then exits
    // without exec, so a game never runs half set up (in the wrong
    // directory, its output lost). vfork shares our memory: we read it after
    // (volatile: the compiler cannot see the child's write).
    volatile int setup_errno = 0;
    pid_t failed_pid = -1;
    std::error_code spawn_error;
    bp::child child(
        bp::posix::use_vfork,
        // argv[0] stays what the caller gave (bp::exe would replace it with
        // the resolved path), and the environment is exactly spec.env.
        bp::extend::on_setup([&](auto& exec) {
            exec.exe = program.c_str();
            exec.cmd_line = argvp.data();
            exec.env = envp.data();
        }),
        // In the child between vfork and execve, on our memory: system calls
        // only, no allocation and no locks (another thread may hold one).
        bp::extend::on_exec_setup([&](auto&) {
            const auto fail = [&setup_errno] {
                setup_errno = errno != 0 ? errno : EINVAL;
                ::_exit(127);
            };
            // Handlers do not survive exec anyway; making them default now
            // means a signal in the window before execve cannot run our code.
            for (int signo = 1; signo < NSIG; ++signo) {
                struct sigaction action {};
                if (!sigismember(&defaults, signo)) {
                    if (::sigaction(signo, nullptr, &action) != 0 || action.sa_handler == SIG_IGN ||
                        action.sa_handler == SIG_DFL) {
                        continue;
                    }
                    action = {};
                }
                action.sa_handler = SIG_DFL;
                ::sigaction(signo, &action, nullptr);
            }
            for (int signo : spec.ignored_signals) {
                struct sigaction action {};
                action.sa_handler = SIG_IGN;
                ::sigaction(signo, &action, nullptr);
            }
            if (spec.new_session) {
                if (::setsid() < 0)
                    fail();
                if (!autogroup_nice.empty()) {
                    // Best effort: without autogroups the file is missing or
                    // the write changes nothing, and an unprivileged launcher
                    // may change at most ten autogroups a second (EAGAIN).
                    const int fd = ::open("/proc/self/autogroup", O_WRONLY | O_CLOEXEC);
                    if (fd >= 0) {
                        [[maybe_unused]] const auto written =
                            ::write(fd, autogroup_nice.data(), autogroup_nice.size());
                        ::close(fd);
                    }
                }
            } else if (spec.new_process_group) {
                if (::setpgid(0, 0) != 0)
                    fail();
            }
            // Opens `path` as descriptor `target`, like posix_spawn's addopen.
            const auto open_as = [&](const char* path, int flags, mode_t mode, int target) {
                const int fd = ::open(path, flags, mode);
                if (fd < 0)
                    fail();
                if (fd != target) {
                    if (::dup2(fd, target) < 0)
                        fail();
                    ::close(fd);
                }
            };
            // dup2 onto itself would keep a close-on-exec flag: clear it.
            const auto dup_as = [&](int fd, int target) {
                if (fd == target) {
                    if (::fcntl(fd, F_SETFD, 0) != 0)
                        fail();
                } else if (::dup2(fd, target) < 0) {
                    fail();
                }
            };
            if (!spec.inherit_stdin) {
                open_as(spec.input_file.empty() ? "/dev/null" : spec.input_file.c_str(), O_RDONLY,
                        0, STDIN_FILENO);
            }
            if (spec.output_fd >= 0) {
                dup_as(spec.output_fd, STDOUT_FILENO);
                dup_as(spec.output_fd, STDERR_FILENO);
            } else if (!spec.output_file.empty()) {
                open_as(spec.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600,
                        STDOUT_FILENO);
                dup_as(STDOUT_FILENO, STDERR_FILENO);
            }
            for (int i = 0; i < passed; ++i) {
                moved[i] = ::fcntl(spec.pass_fds[i], F_DUPFD, 3 + passed);
                if (moved[i] < 0)
                    fail();
            }
            for (int i = 0; i < passed; ++i) {
                if (::dup2(moved[i], 3 + i) < 0)
                    fail();
            }
            if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0)
                fail();
            if (spec.nice != 0) {
                errno = 0;
                const int current = ::getpriority(PRIO_PROCESS, 0);
                if (errno != 0 || ::setpriority(PRIO_PROCESS, 0, current + spec.nice) != 0)
                    fail();
            }
            if (spec.credentials) {
                // Raw system calls: glibc's wrappers would broadcast the change
                // to every thread of the process, and in a vfork child those
                // are the launcher's own threads.
                const auto [uid, gid] = *spec.credentials;
                if (::syscall(SYS_setgroups, 0, nullptr) != 0 ||
                    ::syscall(SYS_setresgid, gid, gid, gid) != 0 ||
                    ::syscall(SYS_setresuid, uid, uid, uid) != 0)
                    fail();
            }
            // Our sockets, the database and every other descriptor stay ours.
            ::closefrom(3 + passed);
            ::sigprocmask(SIG_SETMASK, &empty, nullptr);
        }),
        // execve failed (the child has exited): remember it, to reap it.
        bp::extend::on_error([&](auto& exec, const std::error_code&) { failed_pid = exec.pid; }),
        spawn_error);
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    // Our reaper waits for the game and our group stop ends it: Boost must
    // neither wait for it nor kill it when `child` goes out of scope.
    const pid_t pid = child.valid() ? child.id() : failed_pid;
    child.detach();
    const int setup_error = setup_errno;
    if (spawn_error || setup_error != 0) {
        // The child has exited already (vfork returned after its _exit):
        // reap it here, as posix_spawn does, so it leaves no zombie.
        // A signal (the reaper's SIGCHLD has no SA_RESTART) may interrupt
        // the wait: wait again.
        while (pid > 0 && ::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        const int error = setup_error != 0 ? setup_error : spawn_error.value();
        return "could not start '" + spec.argv[0] + "': " + std::strerror(error);
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

DescendantTable DescendantTable::scan(const IdsIn& ids_in) {
    struct Entry {
        pid_t parent = 0;
        pid_t pgid = 0;
        bool live = false;
    };
    std::map<pid_t, Entry> table;
    std::error_code ec;
    for (const auto& proc : fs::directory_iterator("/proc", ec)) {
        const auto pid_text = proc.path().filename().string();
        if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const auto pid = static_cast<pid_t>(std::stol(pid_text));
        const auto fields = stat_fields(pid);
        if (fields.size() < 3) {
            continue;  // gone meanwhile
        }
        Entry entry;
        try {
            entry.parent = static_cast<pid_t>(std::stol(fields[1]));
            entry.pgid = static_cast<pid_t>(std::stol(fields[2]));
        } catch (const std::exception&) {
            continue;
        }
        entry.live = fields[0] != "Z" && fields[0] != "X";
        table.emplace(pid, entry);
    }
    DescendantTable result;
    const pid_t self = ::getpid();
    // 1: descends from us, 0: does not; filled as the ancestry walks go.
    std::map<pid_t, bool> descends;
    descends[self] = true;
    std::vector<pid_t> path;
    for (const auto& [pid, entry] : table) {
        if (!entry.live) {
            continue;
        }
        result.live_groups_.insert(entry.pgid);
        // Up the parents until one whose answer is known (bounded: the
        // table is a snapshot taken over time, so a pid reused meanwhile
        // could make a cycle).
        path.clear();
        bool ours = false;
        pid_t current = pid;
        for (std::size_t depth = 0; depth <= table.size(); ++depth) {
            const auto known = descends.find(current);
            if (known != descends.end()) {
                ours = known->second;
                break;
            }
            path.push_back(current);
            const auto up = table.find(current);
            if (up == table.end() || up->second.parent <= 1) {
                break;
            }
            current = up->second.parent;
        }
        for (const pid_t step : path) {
            descends[step] = ours;
        }
        if (!ours || pid == self) {
            continue;
        }
        const std::string environ_text =
            read_small_file(fs::path("/proc") / std::to_string(pid) / "environ");
        std::vector<std::string> ids;
        for (std::size_t start = 0; start < environ_text.size();) {
            auto end = environ_text.find('\0', start);
            if (end == std::string::npos)
                end = environ_text.size();
            ids_in(std::string_view(environ_text).substr(start, end - start), ids);
            start = end + 1;
        }
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        for (auto& id : ids) {
            result.carriers_[std::move(id)].push_back({pid, entry.pgid});
        }
    }
    return result;
}

std::vector<pid_t> DescendantTable::escaped(pid_t pgid, const std::string& id) const {
    std::vector<pid_t> outside;
    const auto found = carriers_.find(id);
    if (found != carriers_.end()) {
        for (const auto& carrier : found->second) {
            if (carrier.pgid != pgid) {
                outside.push_back(carrier.pid);
            }
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
