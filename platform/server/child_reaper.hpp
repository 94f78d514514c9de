#pragma once
// Reaps every child of the platform on SIGCHLD (waitpid(-1, WNOHANG)) and
// tells whoever watches it how it ended. As a child subreaper the platform
// also inherits orphaned grandchildren; those are reaped silently.
//
// Children are spawned on another thread than the one that watches them (the
// match host's spawner thread, docs/MATCHES.md), so a child may exit, and be
// reaped, before anyone has called watch() for it. The contract that keeps
// this exact:
//
// - Every spawn of a child the platform wants to hear about runs inside a
//   ChildReaper::Spawn (any thread). While any Spawn is open no waitpid(-1)
//   runs: a reap asked for meanwhile is deferred, and the last Spawn to
//   close does it. So a child is never reaped in the window between its
//   vfork and its registration (Spawn::started), and a spawn that fails after
//   the fork can still reap its own child with waitpid(pid).
// - Spawn::started(pid) maps the pid to a fresh ticket. The mapping lives
//   only while the child is unreaped: until then the kernel cannot give its
//   pid to anyone else, and the reap that frees the pid removes the mapping
//   in the same critical section.
// - An exit reaped before its watch() is kept under the ticket, never under
//   the pid, and watch(ticket) hands it over. A later child that gets the
//   same pid gets another ticket, so it can never inherit an earlier exit
//   (the pid-reuse trap of keeping exits by pid).
// - An exit of a pid that is not mapped is an adopted orphan (a game's
//   escaped grandchild): counted and forgotten at once.
//
// Exit handlers run on the I/O thread, never inside watch() itself.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "platform/asio/asio.hpp"

namespace gamestore::server {

class ChildReaper {
  public:
    using ExitHandler = std::function<void(int wait_status)>;
    using Ticket = std::uint64_t;

    explicit ChildReaper(boost::asio::io_context& io);

    // Open around one spawn, on any thread (see the contract above).
    class Spawn {
      public:
        explicit Spawn(ChildReaper& reaper);
        ~Spawn();
        Spawn(const Spawn&) = delete;
        Spawn& operator=(const Spawn&) = delete;
        // The spawn started child `pid`: the ticket to watch() it by.
        Ticket started(pid_t pid);

      private:
        ChildReaper& reaper_;
    };

    // On the I/O thread. The exit of the ticket's child goes to `on_exit`
    // (posted at once if it was reaped already).
    void watch(Ticket ticket, ExitHandler on_exit);
    // Nobody wants to hear about this child any more.
    void forget(Ticket ticket);
    // Reaps what has exited so far (also called on each SIGCHLD), unless a
    // Spawn is open: then the last one to close reaps.
    void reap();
    // Exits reaped that nobody watched (adopted orphans), for diagnostics.
    std::uint64_t unwatched_reaped() const { return unwatched_reaped_.load(); }

  private:
    struct Child {
        ExitHandler on_exit;
        std::optional<int> status;  // reaped before its watch()
    };
    using Deliveries = std::vector<std::pair<ExitHandler, int>>;

    void arm();
    // With mutex_ held and no Spawn open.
    Deliveries collect();

    boost::asio::io_context& io_;
    boost::asio::signal_set signals_;
    std::mutex mutex_;
    int spawning_ = 0;
    bool deferred_ = false;
    Ticket next_ticket_ = 0;
    std::map<pid_t, Ticket> unreaped_;
    std::map<Ticket, Child> children_;
    std::atomic<std::uint64_t> unwatched_reaped_{0};
};

// "exit code 3", "killed by signal 9 (Killed)".
std::string describe_wait_status(int wait_status);

}  // namespace gamestore::server
