#pragma once
// Reaps every child of the platform on SIGCHLD (waitpid(-1, WNOHANG)) and
// tells whoever registered the pid how it ended. As a child subreaper the
// platform also inherits orphaned grandchildren; those are reaped silently.

#include <sys/types.h>

#include <functional>
#include <map>

#include "platform/asio/asio.hpp"

namespace gamestore::server {

class ChildReaper {
public:
    using ExitHandler = std::function<void(int wait_status)>;

    explicit ChildReaper(boost::asio::io_context& io);
    void watch(pid_t pid, ExitHandler on_exit);
    void forget(pid_t pid) { handlers_.erase(pid); }
    // Reaps what has exited so far (also called on each SIGCHLD).
    void reap();

private:
    void arm();

    boost::asio::signal_set signals_;
    std::map<pid_t, ExitHandler> handlers_;
    // Exits seen before watch() was called for the pid.
    std::map<pid_t, int> early_exits_;
};

// "exit code 3", "killed by signal 9 (Killed)".
std::string describe_wait_status(int wait_status);

}  // namespace gamestore::server
