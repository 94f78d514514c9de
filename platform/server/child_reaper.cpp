#include "platform/server/child_reaper.hpp"

#include <sys/wait.h>

#include <cstring>

#include <spdlog/spdlog.h>

namespace gamestore::server {

ChildReaper::ChildReaper(boost::asio::io_context& io) : io_(io), signals_(io, SIGCHLD) {
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

ChildReaper::Spawn::Spawn(ChildReaper& reaper) : reaper_(reaper) {
    const std::lock_guard lock(reaper_.mutex_);
    ++reaper_.spawning_;
}

ChildReaper::Spawn::~Spawn() {
    Deliveries deliveries;
    {
        const std::lock_guard lock(reaper_.mutex_);
        --reaper_.spawning_;
        if (reaper_.spawning_ > 0 || !reaper_.deferred_) {
            return;
        }
        // A SIGCHLD came while this spawn was open: reap now, here, so a
        // stream of back-to-back spawns cannot starve the reaping.
        reaper_.deferred_ = false;
        deliveries = reaper_.collect();
    }
    if (!deliveries.empty()) {
        boost::asio::post(reaper_.io_, [deliveries = std::move(deliveries)] {
            for (const auto& [handler, status] : deliveries) {
                handler(status);
            }
        });
    }
}

ChildReaper::Ticket ChildReaper::Spawn::started(pid_t pid) {
    const std::lock_guard lock(reaper_.mutex_);
    const Ticket ticket = ++reaper_.next_ticket_;
    reaper_.unreaped_[pid] = ticket;
    reaper_.children_.emplace(ticket, Child{});
    return ticket;
}

void ChildReaper::watch(Ticket ticket, ExitHandler on_exit) {
    std::optional<int> status;
    {
        const std::lock_guard lock(mutex_);
        const auto it = children_.find(ticket);
        if (it == children_.end()) {
            return;
        }
        if (!it->second.status) {
            it->second.on_exit = std::move(on_exit);
            return;
        }
        status = it->second.status;
        children_.erase(it);
    }
    // Posted, not called: the caller finishes what it was doing first, as it
    // would have if the exit had come a moment later.
    boost::asio::post(io_, [on_exit = std::move(on_exit), status = *status] { on_exit(status); });
}

void ChildReaper::forget(Ticket ticket) {
    const std::lock_guard lock(mutex_);
    children_.erase(ticket);
}

void ChildReaper::reap() {
    Deliveries deliveries;
    {
        const std::lock_guard lock(mutex_);
        if (spawning_ > 0) {
            deferred_ = true;
            return;
        }
        deliveries = collect();
    }
    for (const auto& [handler, status] : deliveries) {
        handler(status);
    }
}

ChildReaper::Deliveries ChildReaper::collect() {
    Deliveries deliveries;
    for (int i = 0; i < 100000; ++i) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            break;
        }
        const auto mapped = unreaped_.find(pid);
        if (mapped == unreaped_.end()) {
            // An adopted orphan (a game's escaped grandchild): nobody waits
            // for it, and its pid may be the next game server's.
            ++unwatched_reaped_;
            spdlog::debug("reaped pid {} ({}), an adopted process nobody watched", pid,
                          describe_wait_status(status));
            continue;
        }
        const Ticket ticket = mapped->second;
        unreaped_.erase(mapped);
        const auto child = children_.find(ticket);
        if (child == children_.end()) {
            continue;  // forgotten
        }
        if (!child->second.on_exit) {
            child->second.status = status;  // for the watch() still to come
            continue;
        }
        deliveries.emplace_back(std::move(child->second.on_exit), status);
        children_.erase(child);
    }
    return deliveries;
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
