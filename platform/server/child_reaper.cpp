#include "platform/server/child_reaper.hpp"

#include <sys/wait.h>

#include <cstring>

#include <spdlog/spdlog.h>

namespace gamestore::server {

ChildReaper::ChildReaper(boost::asio::io_context& io) : signals_(io, SIGCHLD) {
    arm();
}

void ChildReaper::arm() {
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
        if (ec) {
            return;
        }
        reap();
        arm();
    });
}

void ChildReaper::watch(pid_t pid, ExitHandler on_exit) {
    handlers_[pid] = std::move(on_exit);
}

void ChildReaper::reap() {
    for (int i = 0; i < 100000; ++i) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            break;
        }
        const auto it = handlers_.find(pid);
        if (it == handlers_.end()) {
            // An adopted orphan (a game's escaped grandchild): nobody waits
            // for it, and its pid may be the next game server's.
            ++unwatched_reaped_;
            spdlog::debug("reaped pid {} ({}), an adopted process nobody watched", pid,
                          describe_wait_status(status));
            continue;
        }
        auto handler = std::move(it->second);
        handlers_.erase(it);
        handler(status);
    }
}

std::string describe_wait_status(int wait_status) {
    if (WIFEXITED(wait_status)) {
        return "exit code " + std::to_string(WEXITSTATUS(wait_status));
    }
    if (WIFSIGNALED(wait_status)) {
        const int signo = WTERMSIG(wait_status);
        return "killed by signal " + std::to_string(signo) + " (" + ::strsignal(signo) + ")";
    }
    return "status " + std::to_string(wait_status);
}

}  // namespace gamestore::server
