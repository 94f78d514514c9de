#pragma once
// Reaps every child of the platform on SIGCHLD (waitpid(-1, WNOHANG)) and
// tells whoever registered the pid how it ended. As a child subreaper the
// platform also inherits orphaned grandchildren; those are reaped silently.
//
// Contract: call watch() on the I/O thread in the same handler that spawned
// the child, before control returns to the event loop. reap() only runs on
// that thread (a SIGCHLD that arrives in between merely queues a wake-up),
// so no exit of a watched child can be reaped before its watch(), and an
// exit nobody watched belongs to a process nobody will ever ask about. Those
// are forgotten at once: a pid is reused, and an exit kept "for later" would
// be handed to the next child that gets the same pid, which would then
// appear to have ended the moment it started.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "platform/asio/asio.hpp"

namespace gamestore::server {

class ChildReaper {
public:
    using ExitHandler = std::function<void(int wait_status)>;

    explicit ChildReaper(boost::asio::io_context& io);
    // See the contract above: right after spawning, on the I/O thread.
    void watch(pid_t pid, ExitHandler on_exit);
    void forget(pid_t pid) { handlers_.erase(pid); }
    // Reaps what has exited so far (also called on each SIGCHLD).
    void reap();
    // Exits reaped that nobody watched (adopted orphans), for diagnostics.
    std::uint64_t unwatched_reaped() const { return unwatched_reaped_; }

private:
    void arm();

    boost::asio::signal_set signals_;
    std::map<pid_t, ExitHandler> handlers_;
    std::uint64_t unwatched_reaped_ = 0;
};

// "exit code 3", "killed by signal 9 (Killed)".
std::string describe_wait_status(int wait_status);

}  // namespace gamestore::server
