#include "tests/support/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace gamestore::testing {

namespace fs = std::filesystem;

TempDir::TempDir(const std::string& prefix) {
    std::random_device rd;
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto candidate = fs::temp_directory_path() / (prefix + "-" + std::to_string(rd()));
        std::error_code ec;
        if (fs::create_directory(candidate, ec)) {
            path_ = candidate;
            return;
        }
    }
    throw std::runtime_error("cannot create a temp dir");
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

ChildProcess::ChildProcess(const SpawnOptions& options) {
    if (options.argv.empty()) {
        throw std::invalid_argument("ChildProcess: empty argv");
    }
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string entry(*e);
        const auto eq = entry.find('=');
        if (eq != std::string::npos) {
            env[entry.substr(0, eq)] = entry.substr(eq + 1);
        }
    }
    for (const auto& [k, v] : options.env) {
        env[k] = v;
    }
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) {
        env_strings.push_back(k + "=" + v);
    }
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = options.argv;
    std::vector<char*> argvp;
    for (auto& s : args) argvp.push_back(s.data());
    argvp.push_back(nullptr);

    // fork + execve rather than posix_spawn: we need chdir and setsid, which
    // glibc 2.36's posix_spawn cannot do portably.
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        if (options.new_session) {
            ::setsid();
        }
        if (options.parent_death_signal != 0) {
            ::prctl(PR_SET_PDEATHSIG, options.parent_death_signal);
        }
        if (options.run_as) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(options.run_as->second) != 0 ||
                ::setuid(options.run_as->first) != 0) {
                ::_exit(126);
            }
        }
        auto redirect = [](const std::optional<fs::path>& file, int target, int flags) {
            if (!file) return;
            const int fd = ::open(file->c_str(), flags, 0644);
            if (fd >= 0) {
                ::dup2(fd, target);
                ::close(fd);
            }
        };
        redirect(options.stdin_file, STDIN_FILENO, O_RDONLY);
        redirect(options.stdout_file, STDOUT_FILENO, O_WRONLY | O_CREAT | O_APPEND);
        redirect(options.stderr_file, STDERR_FILENO, O_WRONLY | O_CREAT | O_APPEND);
        if (options.cwd && ::chdir(options.cwd->c_str()) != 0) {
            ::_exit(126);
        }
        ::execve(argvp[0], argvp.data(), envp.data());
        ::_exit(127);
    }
    pid_ = pid;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_), status_(other.status_) {
    other.pid_ = -1;
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
    if (status_) {
        return status_;
    }
    // pidfd_open would give a pollable exit event; glibc 2.36 lacks the
    // wrapper, so use a bounded WNOHANG loop with short waits.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            status_ = status;
            return status_;
        }
        if (r < 0) {
            return std::nullopt;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        ::poll(nullptr, 0, 5);
    }
}

std::optional<int> ChildProcess::wait_exit_code(std::chrono::milliseconds timeout) {
    auto status = wait(timeout);
    if (!status) {
        return std::nullopt;
    }
    if (WIFEXITED(*status)) {
        return WEXITSTATUS(*status);
    }
    if (WIFSIGNALED(*status)) {
        return -WTERMSIG(*status);
    }
    return std::nullopt;
}

bool ChildProcess::running() {
    return !wait(std::chrono::milliseconds(0)).has_value();
}

void ChildProcess::signal(int signo) {
    if (pid_ > 0 && !status_) {
        ::kill(pid_, signo);
    }
}

namespace {

// Waits until `done()` holds, re-checking whenever something in `path`'s
// directory changes (inotify on the directory: the file may not exist yet,
// and a directory watch also reports writes to the files in it).
bool wait_for_change_until(const fs::path& path, const std::function<bool()>& done,
                           std::chrono::milliseconds timeout) {
    if (done()) {
        return true;
    }
    const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0) {
        return false;
    }
    const auto dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    ::inotify_add_watch(fd, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool found = done();
    while (!found) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            break;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
            char drain[4096];
            while (::read(fd, drain, sizeof drain) > 0) {
            }
        }
        found = done();
    }
    ::close(fd);
    return found;
}

}  // namespace

bool wait_for_file(const fs::path& path, std::chrono::milliseconds timeout) {
    return wait_for_change_until(path, [&] { return fs::exists(path); }, timeout);
}

bool wait_for_text(const fs::path& path, const std::string& needle, std::chrono::milliseconds timeout) {
    return wait_for_change_until(
        path,
        [&] {
            std::error_code ec;
            return fs::exists(path, ec) && read_file(path).find(needle) != std::string::npos;
        },
        timeout);
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_file(const fs::path& path, const std::string& content) {
    if (path.has_parent_path()) {
        fs::create_directories(path.parent_path());
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

fs::path build_dir() {
    const char* dir = std::getenv("GAMESTORE_BUILD_DIR");
    if (!dir) {
        throw std::runtime_error("GAMESTORE_BUILD_DIR is not set (run the tests through ctest)");
    }
    return dir;
}

fs::path source_dir() {
    const char* dir = std::getenv("GAMESTORE_SOURCE_DIR");
    if (!dir) {
        throw std::runtime_error("GAMESTORE_SOURCE_DIR is not set (run the tests through ctest)");
    }
    return dir;
}

fs::path binary(const std::string& program) {
    return build_dir() / "bin" / program;
}

std::string cmdline_of(pid_t pid) {
    std::string raw = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    for (auto& c : raw) {
        if (c == '\0') c = ' ';
    }
    return raw;
}

std::vector<pid_t> pids_with_cmdline_containing(const std::string& needle) {
    std::vector<pid_t> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const auto name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const pid_t pid = static_cast<pid_t>(std::stol(name));
        if (cmdline_of(pid).find(needle) != std::string::npos) {
            out.push_back(pid);
        }
    }
    return out;
}

}  // namespace gamestore::testing
