#include "platform/launch/virtual_display.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "platform/launch/process_launcher.hpp"
#include "platform/packages/command_template.hpp"

namespace gamestore::launch {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Waits up to `timeout` for `pid` (our child) to exit and reaps it. True when
// it is gone, also when someone else reaped it first (ECHILD).
bool wait_child(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    // Readable when the process exits; -1 on kernels without pidfds, where
    // the wait falls back to looking every 50 ms.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    bool gone = false;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) {
            gone = true;
            break;
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            break;
        }
        pollfd p{pidfd, POLLIN, 0};
        ::poll(&p, pidfd >= 0 ? 1 : 0,
               static_cast<int>(pidfd >= 0 ? left : std::min<long long>(left, 50)));
    }
    if (pidfd >= 0) {
        ::close(pidfd);
    }
    return gone;
}

void stop(pid_t pid) {
    ::kill(-pid, SIGTERM);
    ::kill(-pid, SIGCONT);
    if (!wait_child(pid, std::chrono::milliseconds(3000))) {
        ::kill(-pid, SIGKILL);
        wait_child(pid, std::chrono::milliseconds(3000));
    }
}

}  // namespace

std::optional<std::string> parse_displayfd_line(std::string_view text) {
    if (text.size() < 2 || text.back() != '\n' || text.size() > 7) {
        return std::nullopt;
    }
    const auto digits = text.substr(0, text.size() - 1);
    for (const char c : digits) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
    }
    if (digits.size() > 1 && digits.front() == '0') {
        return std::nullopt;
    }
    return ":" + std::string(digits);
}

std::optional<fs::path> find_xvfb(std::string_view path_env) {
    return packages::resolve_program(packages::LaunchSpec{{"Xvfb"}, {}, fs::current_path()},
                                     path_env);
}

std::variant<std::unique_ptr<VirtualDisplay>, std::string> VirtualDisplay::start(
    const VirtualDisplayOptions& options) {
    fs::path program = options.xvfb;
    if (program.empty()) {
        const char* path = std::getenv("PATH");
        const auto found = find_xvfb(path ? path : "/usr/local/bin:/usr/bin:/bin");
        if (!found) {
            return std::string("Xvfb is not installed (Debian package xvfb)");
        }
        program = *found;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return std::string("cannot create a pipe for Xvfb: ") + std::strerror(errno);
    }
    ProcessSpec spec;
    spec.argv = {program.string(), "-displayfd", "3",  "-screen", "0",
                 options.screen,   "-nolisten",  "tcp"};
    spec.env = base_environment();
    spec.cwd = "/";
    spec.new_session = true;  // its own group: stopped as a whole, never by a terminal's Ctrl-C
    spec.output_file = options.log_file.empty() ? fs::path("/dev/null") : options.log_file;
    spec.pass_fds = {fds[1]};
    auto spawned = spawn_process(spec);
    ::close(fds[1]);
    if (auto* error = std::get_if<std::string>(&spawned)) {
        ::close(fds[0]);
        return "Xvfb did not start: " + *error;
    }
    const pid_t pid = std::get<SpawnedProcess>(spawned).pid;

    // Xvfb writes "N\n" once it listens; EOF means it gave up.
    std::string text;
    const auto deadline = Clock::now() + options.startup_timeout;
    std::string problem;
    // Bounded by the deadline and by the size check: each pass reads or waits.
    while (text.find('\n') == std::string::npos) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            problem = "Xvfb did not report a display within " +
                      std::to_string(options.startup_timeout.count() / 1000) + " s";
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left));
        if (ready < 0 && errno != EINTR) {
            problem = std::string("waiting for Xvfb failed: ") + std::strerror(errno);
            break;
        }
        if (ready <= 0) {
            continue;
        }
        char buffer[32];
        const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            problem =
                "Xvfb exited before it reported a display" +
                (options.log_file.empty() ? std::string()
                                          : " (its output: " + options.log_file.string() + ")");
            break;
        }
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > 16) {
            break;
        }
    }
    ::close(fds[0]);
    std::optional<std::string> name;
    if (problem.empty()) {
        name = parse_displayfd_line(text);
        if (!name) {
            problem = "Xvfb reported an unreadable display number";
        }
    }
    if (!name) {
        stop(pid);
        return problem;
    }
    return std::unique_ptr<VirtualDisplay>(new VirtualDisplay(pid, *name));
}

VirtualDisplay::~VirtualDisplay() {
    stop(pid_);
}

}  // namespace gamestore::launch
