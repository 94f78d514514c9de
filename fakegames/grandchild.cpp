#include "fakegames/grandchild.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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

// Messages on the status pipe: the middle process reports the grandchild's
// pid; a grandchild whose exec failed reports errno. The pipe is
// close-on-exec, so EOF means "every writer exited or exec'ed".
struct StatusMessage {
    char kind;  // 'P' pid, 'E' errno
    int value;
};

[[noreturn]] void grandchild_after_fork(int status_fd, const char* exe, char* const argv[],
                                        char* const envp[]) {
    if (::setsid() < 0) {
        const StatusMessage m{'E', errno};
        [[maybe_unused]] auto n = ::write(status_fd, &m, sizeof m);
        ::_exit(127);
    }
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
    // Keep nothing of the server's stdio: a grandchild holding a pipe open
    // would hide the server's exit from whoever reads its output.
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
        ::dup2(null_fd, 0);
        ::dup2(null_fd, 1);
        ::dup2(null_fd, 2);
        if (null_fd > 2) {
            ::close(null_fd);
        }
    }
    ::execve(exe, argv, envp);
    const StatusMessage m{'E', errno};
    [[maybe_unused]] auto n = ::write(status_fd, &m, sizeof m);
    ::_exit(127);
}

}  // namespace

pid_t spawn_escaped_grandchild(const std::string& match_id, int lifetime_sec) {
    char exe[PATH_MAX];
    const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        throw std::runtime_error(std::string("readlink /proc/self/exe: ") + std::strerror(errno));
    }
    exe[len] = '\0';

    // Everything exec needs is built before fork: after it, only
    // async-signal-safe calls are allowed.
    std::vector<std::string> args = {exe, "grandchild", "--lifetime-sec",
                                     std::to_string(lifetime_sec)};
    std::vector<std::string> env = {std::string(kGrandchildMarker) + "=" + match_id,
                                    "PATH=/usr/local/bin:/usr/bin:/bin"};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : env) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);

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
            grandchild_after_fork(status_pipe[1], exe, argv.data(), envp.data());
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

    pid_t grandchild = -1;
    std::string failure;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            failure = "grandchild did not exec within 5 s";
            break;
        }
        pollfd p{status_pipe[0], POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
        if (rc < 0 && errno != EINTR) {
            failure = std::string("poll: ") + std::strerror(errno);
            break;
        }
        if (rc <= 0) {
            continue;  // the deadline check above ends the loop
        }
        StatusMessage m{};
        const ssize_t n = ::read(status_pipe[0], &m, sizeof m);
        if (n == 0) {
            break;  // EOF: the middle exited and the grandchild exec'ed
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            failure = std::string("read: ") + std::strerror(errno);
            break;
        }
        if (n != static_cast<ssize_t>(sizeof m)) {
            failure = "short status message";
            break;
        }
        if (m.kind == 'P') {
            grandchild = m.value;
        } else {
            failure = std::string("grandchild setup failed: ") + std::strerror(m.value);
        }
    }
    ::close(status_pipe[0]);
    if (!failure.empty() || grandchild <= 0) {
        throw std::runtime_error(failure.empty() ? "grandchild pid unknown" : failure);
    }
    return grandchild;
}

int run_grandchild(int lifetime_sec) {
    // Safety net: even if nobody cleans up, it is gone after lifetime_sec
    // (SIGALRM's default action terminates the process).
    ::alarm(static_cast<unsigned>(lifetime_sec > 0 ? lifetime_sec : 1));
    for (;;) {
        ::pause();
    }
}

}  // namespace gamestore::fakegames
