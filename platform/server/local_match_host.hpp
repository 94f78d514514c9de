#pragma once
// The match host of a single machine: each game server is a process (in the
// sandbox, docs/SECURITY.md) in its own process group, on a port from this
// server's game-port range, with a private match directory under the data
// dir and its output in logs/<match_id>.log. Stopping is SIGTERM, a grace,
// SIGKILL, for the group and for processes that escaped it (found by the
// match id they carry in their environment).
//
// The spawn itself (rendering the sandbox command line, its memory files,
// vfork until bwrap execs, opening the match log) runs on a spawner thread
// of its own, not on the I/O thread: under load a vfork blocks its caller
// for tens of milliseconds. One thread, not the blocking pool: spawns then
// never queue behind the store or a password hash (nor those behind a
// spawn), and the child reaper gets a gap between two spawns to reap in
// (child_reaper.hpp). A stop that comes while its match's spawn is in
// flight waits for the spawn, then stops what it started.

#include <chrono>
#include <cstddef>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "platform/launch/process_launcher.hpp"

#include "platform/server/child_reaper.hpp"
#include "platform/server/match_host.hpp"
#include "platform/server/platform_services.hpp"
#include "platform/server/port_pool.hpp"

namespace gamestore::server {

struct LocalHostTuning {
    std::chrono::milliseconds stop_grace{5000};
    std::chrono::milliseconds end_grace{2000};  // after END/ERROR, time to exit on its own
    // After SIGKILL, how long the group may take to disappear before the
    // stop is logged as having left processes behind.
    std::chrono::milliseconds kill_wait{3000};
    std::size_t match_log_cap_bytes = 1024 * 1024;
};

class LocalMatchHost final : public MatchHost {
  public:
    LocalMatchHost(PlatformServices& services, ChildReaper& reaper, LocalHostTuning tuning,
                   std::uint16_t report_port);
    // Waits for a spawn under way; a process whose spawn finished but was
    // never handed back to the I/O thread (the server is going away without
    // stopping its matches) has its group killed.
    ~LocalMatchHost() override;
    LocalMatchHost(const LocalMatchHost&) = delete;
    LocalMatchHost& operator=(const LocalMatchHost&) = delete;

    std::variant<MatchPlacement, std::string> reserve(const std::string& match_id) override;
    boost::asio::awaitable<MatchLaunch> launch(MatchSpec spec, MatchLaunchHooks hooks) override;
    boost::asio::awaitable<void> stop(std::string match_id, bool after_end) override;
    void reconcile(
        const std::vector<store::Match>& open,
        const std::function<void(const store::Match&, const std::string& done)>& close) override;
    std::size_t in_use() const override { return ports_.in_use(); }

  private:
    // Set while a match's spawn is on the spawner thread; a stop waits on it.
    struct SpawnInFlight {
        explicit SpawnInFlight(boost::asio::io_context& io) : done(io) {}
        boost::asio::steady_timer done;
        bool finished = false;
    };
    struct Local {
        std::uint16_t port = 0;
        std::filesystem::path dir;
        pid_t pgid = -1;  // set once spawned
        std::int64_t start_time = 0;
        std::shared_ptr<SpawnInFlight> spawning;
    };
    // What the spawner thread hands back.
    struct Spawned {
        MatchLaunch outcome;
        pid_t pgid = -1;
        std::int64_t start_time = 0;
        ChildReaper::Ticket ticket = 0;
        int log_pipe = -1;  // the read end of the game's output
        int log_file = -1;  // logs/<match_id>.log, or -1
    };

    // On the spawner thread: touches nothing of the I/O thread's state.
    Spawned spawn(const MatchSpec& spec, std::uint16_t port, const std::filesystem::path& dir,
                  std::uint64_t package_bytes);
    void pump_log(int read_fd, int out);
    // SIGTERM (+SIGCONT) to the group and its escaped processes, the stop
    // grace, then SIGKILL; polled on the I/O thread, /proc scans on the pool.
    boost::asio::awaitable<void> stop_processes(pid_t pgid, std::string match_id, bool after_end);

    // The next /proc scan (on the blocking pool), shared by every stop that
    // asks while the one before it runs: tearing down 2,000 matches at once
    // costs a few scans, not a few per match. A scan that started before a
    // stop asked is never its answer, so the answer postdates its signals.
    boost::asio::awaitable<std::shared_ptr<const launch::DescendantTable>> scan_processes();
    void start_scan();
    struct Scan {
        explicit Scan(boost::asio::io_context& io) : done(io) {}
        boost::asio::steady_timer done;
        bool finished = false;
        std::shared_ptr<const launch::DescendantTable> table;
        std::exception_ptr error;
    };

    PlatformServices& services_;
    ChildReaper& reaper_;
    LocalHostTuning tuning_;
    std::uint16_t report_port_;
    PortPool ports_;
    std::map<std::string, Local> matches_;
    std::shared_ptr<Scan> next_scan_;  // asked for, not started yet
    bool scanning_ = false;
    // Groups spawned on the spawner thread and not yet taken over by the
    // I/O thread (see the destructor).
    std::mutex handover_mutex_;
    std::set<pid_t> handover_;
    // Last: joined first on destruction, while everything it uses exists.
    boost::asio::thread_pool spawner_{1};
};

}  // namespace gamestore::server
