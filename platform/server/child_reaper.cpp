#include "platform/server/child_reaper.hpp"

#include <sys/wait.h>

#include <cstring>

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
    const auto early = early_exits_.find(pid);
    if (early != early_exits_.end()) {
        const int status = early->second;
        early_exits_.erase(early);
        on_exit(status);
        return;
    }
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
            // An adopted orphan, or a child whose watch() is still on its way.
            if (early_exits_.size() < 4096) {
                early_exits_[pid] = status;
            }
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
