#include "fakegames/helper_processes.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "fakegames/options.hpp"

namespace gamestore::fakegames {
namespace {

// Messages on the status pipe: the middle process of the double fork reports
// the grandchild's pid; a process whose setup or exec failed reports errno.
// The pipe is close-on-exec, so EOF means "every writer exited or exec'ed".
struct StatusMessage {
    char kind;  // 'P' pid, 'E' errno
    int value;
};

std::string self_exe() {
    char exe[PATH_MAX];
    const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        throw std::runtime_error(std::string("readlink /proc/self/exe: ") + std::strerror(errno));
    }
    return std::string(exe, static_cast<std::size_t>(len));
}

// argv/envp for execve, built before fork: after it, only async-signal-safe
// calls are allowed.
struct ExecArgs {
    std::vector<std::string> storage_args;
    std::vector<std::string> storage_env;
    std::vector<char*> argv;
    std::vector<char*> envp;

    ExecArgs(std::vector<std::string> args, std::vector<std::string> env)
        : storage_args(std::move(args)), storage_env(std::move(env)) {
        for (auto& a : storage_args) argv.push_back(a.data());
        argv.push_back(nullptr);
        for (auto& e : storage_env) envp.push_back(e.data());
        envp.push_back(nullptr);
    }
};

void report_errno(int status_fd) {
    const StatusMessage m{'E', errno};
    [[maybe_unused]] auto n = ::write(status_fd, &m, sizeof m);
}

// In the forked process, right before exec: undo what the server set up.
[[noreturn]] void exec_helper(int status_fd, const ExecArgs& exec) {
    // --ignore-sigterm set SIGTERM to SIG_IGN, which exec would keep.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGTERM, &dfl, nullptr);
    ::sigaction(SIGINT, &dfl, nullptr);
    ::sigaction(SIGPIPE, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Keep nothing of the server's stdio: a helper holding a pipe open would
    // hide the server's exit from whoever reads its output.
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
        ::dup2(null_fd, 0);
        ::dup2(null_fd, 1);
        ::dup2(null_fd, 2);
        if (null_fd > 2) {
            ::close(null_fd);
        }
    }
    ::execve(exec.argv[0], exec.argv.data(), exec.envp.data());
    report_errno(status_fd);
    ::_exit(127);
}

// Reads the status pipe until EOF (the helper exec'ed) or a failure, for at
// most 5 s. Returns the pid a 'P' message named (or -1) and fills `failure`.
pid_t read_status(int status_fd, std::string& failure) {
    pid_t named = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            failure = "the helper did not exec within 5 s";
            return named;
        }
        pollfd p{status_fd, POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
        if (rc < 0 && errno != EINTR) {
            failure = std::string("poll: ") + std::strerror(errno);
            return named;
        }
        if (rc <= 0) {
            continue;  // the deadline check above ends the loop
        }
        StatusMessage m{};
        const ssize_t n = ::read(status_fd, &m, sizeof m);
        if (n == 0) {
            return named;  // EOF: every writer exited or exec'ed
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            failure = std::string("read: ") + std::strerror(errno);
            return named;
        }
        if (n != static_cast<ssize_t>(sizeof m)) {
            failure = "short status message";
            return named;
        }
        if (m.kind == 'P') {
            named = m.value;
        } else {
            failure = std::string("helper setup failed: ") + std::strerror(m.value);
        }
    }
}

}  // namespace

pid_t spawn_escaped_grandchild(const std::string& match_id, int lifetime_sec) {
    const std::string exe = self_exe();
    const ExecArgs exec({exe, "grandchild", "--lifetime-sec", std::to_string(lifetime_sec)},
                        {std::string(kGrandchildMarker) + "=" + match_id,
                         "PATH=/usr/local/bin:/usr/bin:/bin"});

    int status_pipe[2];
    if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
    const pid_t middle = ::fork();
    if (middle < 0) {
        const int err = errno;
        ::close(status_pipe[0]);
        ::close(status_pipe[1]);
        throw std::runtime_error(std::string("fork: ") + std::strerror(err));
    }
    if (middle == 0) {
        ::close(status_pipe[0]);
        const pid_t grandchild = ::fork();
        if (grandchild == 0) {
            if (::setsid() < 0) {
                report_errno(status_pipe[1]);
                ::_exit(127);
            }
            exec_helper(status_pipe[1], exec);
        }
        const StatusMessage m =
            grandchild > 0 ? StatusMessage{'P', grandchild} : StatusMessage{'E', errno};
        [[maybe_unused]] auto n = ::write(status_pipe[1], &m, sizeof m);
        ::_exit(grandchild > 0 ? 0 : 1);
    }
    ::close(status_pipe[1]);
    int wstatus = 0;
    while (::waitpid(middle, &wstatus, 0) < 0 && errno == EINTR) {
    }
    std::string failure;
    const pid_t grandchild = read_status(status_pipe[0], failure);
    ::close(status_pipe[0]);
    if (!failure.empty() || grandchild <= 0) {
        throw std::runtime_error(failure.empty() ? "grandchild pid unknown" : failure);
    }
    return grandchild;
}

pid_t spawn_token_holder(const std::string& report_token, int lifetime_sec) {
    const std::string exe = self_exe();
    // Only PATH in the environment: the point is the argv, nothing else.
    const ExecArgs exec({exe, "token-holder", "--report-token", report_token, "--lifetime-sec",
                         std::to_string(lifetime_sec)},
                        {"PATH=/usr/local/bin:/usr/bin:/bin"});

    int status_pipe[2];
    if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
    const pid_t server = ::getpid();
    const pid_t child = ::fork();
    if (child < 0) {
        const int err = errno;
        ::close(status_pipe[0]);
        ::close(status_pipe[1]);
        throw std::runtime_error(std::string("fork: ") + std::strerror(err));
    }
    if (child == 0) {
        ::close(status_pipe[0]);
        // Dies with the server, however the server ends (_Exit, SIGKILL), so
        // the leak lasts exactly as long as the match.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
            report_errno(status_pipe[1]);
            ::_exit(127);
        }
        if (::getppid() != server) {
            ::_exit(0);  // the server died before the death signal was armed
        }
        exec_helper(status_pipe[1], exec);
    }
    ::close(status_pipe[1]);
    std::string failure;
    read_status(status_pipe[0], failure);
    ::close(status_pipe[0]);
    if (!failure.empty()) {
        ::kill(child, SIGKILL);
        while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
        }
        throw std::runtime_error(failure);
    }
    return child;
}

int run_helper_body(int lifetime_sec) {
    // Safety net: even if nobody cleans up, it is gone after lifetime_sec
    // (SIGALRM's default action terminates the process).
    ::alarm(static_cast<unsigned>(lifetime_sec > 0 ? lifetime_sec : 1));
    for (;;) {
        ::pause();
    }
}

}  // namespace gamestore::fakegames
