#pragma once
// The match host of a single machine: each game server is a process (in the
// sandbox, docs/SECURITY.md) in its own process group, on a port from this
// server's game-port range, with a private match directory under the data
// dir and its output in logs/<match_id>.log. Stopping is SIGTERM, a grace,
// SIGKILL, for the group and for processes that escaped it (found by the
// match id they carry in their environment).

#include <chrono>
#include <cstddef>
#include <exception>
#include <map>
#include <memory>

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

    std::variant<MatchPlacement, std::string> reserve(const std::string& match_id) override;
    boost::asio::awaitable<MatchLaunch> launch(MatchSpec spec, MatchLaunchHooks hooks) override;
    boost::asio::awaitable<void> stop(std::string match_id, bool after_end) override;
    void reconcile(
        const std::vector<store::Match>& open,
        const std::function<void(const store::Match&, const std::string& done)>& close) override;
    std::size_t in_use() const override { return ports_.in_use(); }

  private:
    struct Local {
        std::uint16_t port = 0;
        std::filesystem::path dir;
        pid_t pgid = -1;  // set once spawned
        std::int64_t start_time = 0;
    };

    MatchLaunch spawn(const MatchSpec& spec, Local& local, std::uint64_t package_bytes,
                      MatchLaunchHooks& hooks);
    void pump_log(int read_fd, std::filesystem::path log_file);
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
};

}  // namespace gamestore::server
