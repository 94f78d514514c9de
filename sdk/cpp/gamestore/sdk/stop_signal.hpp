#pragma once
// Turns SIGTERM/SIGINT into a pollable fd, so a game can finish what it is
// doing and exit cleanly when the platform stops the match (it sends SIGTERM
// and SIGCONT to the server's process group, then SIGKILL after a grace period).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <initializer_list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

namespace gamestore::sdk {

class StopSignal {
  public:
    // Installs the handlers once per process and returns the shared instance.
    // Later calls return the same instance (their signal list is ignored).
    static StopSignal& install(std::initializer_list<int> signals = {SIGTERM, SIGINT}) {
        static StopSignal instance(signals);
        return instance;
    }

    // Readable once a stop was requested; stays readable (never drained), so
    // every poll() that includes it returns at once from then on.
    int fd() const noexcept { return read_fd(); }
    bool requested() const noexcept { return signal_number() != 0; }
    // The signal that requested the stop (-1 for request()), 0 if none yet.
    int signal_number() const noexcept { return state().signal.load(); }
    // Requests a stop from code, as if a signal had arrived.
    void request() noexcept { notify(-1); }

    StopSignal(const StopSignal&) = delete;
    StopSignal& operator=(const StopSignal&) = delete;

  private:
    struct State {
        std::atomic<int> signal{0};
        int pipe_read = -1;
        int pipe_write = -1;
    };
    // Function-local static: one definition even though this header is
    // included by many translation units.
    static State& state() noexcept {
        static State s;
        return s;
    }
    static int read_fd() noexcept { return state().pipe_read; }

    // Async-signal-safe: an atomic store and one write().
    static void notify(int signo) noexcept {
        int expected = 0;
        state().signal.compare_exchange_strong(expected, signo);
        const int saved_errno = errno;
        const char byte = 1;
        [[maybe_unused]] const auto n = ::write(state().pipe_write, &byte, 1);
        errno = saved_errno;
    }
    static void on_signal(int signo) { notify(signo); }

    explicit StopSignal(std::initializer_list<int> signals) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
            throw std::system_error(errno, std::generic_category(), "StopSignal: pipe2");
        }
        state().pipe_read = fds[0];
        state().pipe_write = fds[1];
        for (const int signo : signals) {
            struct sigaction action {};
            action.sa_handler = &StopSignal::on_signal;
            sigemptyset(&action.sa_mask);
            action.sa_flags = SA_RESTART;
            if (::sigaction(signo, &action, nullptr) != 0) {
                throw std::system_error(errno, std::generic_category(),
                                        "StopSignal: sigaction(" + std::to_string(signo) + ")");
            }
        }
    }
};

}  // namespace gamestore::sdk
