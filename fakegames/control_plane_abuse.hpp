#pragma once
// Control-plane faults that need their own connection to REPORT_HOST:PORT:
// a message flood, one oversized line, malformed JSON lines and a slowloris
// connection that never finishes its line. They run on background threads
// next to the server's normal Reporter connection, which stays well behaved,
// so a test can tell "the platform survived the abuse" from "the abuse
// replaced the game's reports".

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gamestore/sdk/net.hpp"
#include "gamestore/sdk/reporter.hpp"

namespace gamestore::fakegames {

struct AbuseOptions {
    int flood_rate = 0;  // lines per second; 0 = off
    double flood_seconds = 2.0;
    std::size_t oversized_line = 0;   // bytes before '\n'; 0 = off
    int malformed_json = 0;           // number of malformed lines; 0 = off
    std::size_t slowloris_bytes = 0;  // 0 = off
    std::chrono::milliseconds slowloris_interval{100};
};

// The exact oversized line: a JSON object padded to `bytes` (no token in it,
// so a platform that logs the line cannot leak a secret), or plain 'x's when
// `bytes` is too small to hold the object.
std::string make_oversized_line(std::size_t bytes, const std::string& match_id);

// The malformed lines sent by --malformed-json, cycled in this order.
const std::vector<std::string>& malformed_lines();

class ControlPlaneAbuse {
  public:
    using Log = std::function<void(const std::string&)>;

    ControlPlaneAbuse(sdk::ReportTarget target, AbuseOptions options, Log log);
    ~ControlPlaneAbuse();
    ControlPlaneAbuse(const ControlPlaneAbuse&) = delete;
    ControlPlaneAbuse& operator=(const ControlPlaneAbuse&) = delete;

    bool enabled() const;
    void start();
    // Waits up to `bound` for the faults that end by themselves (flood,
    // oversized line, malformed lines), then stops everything (slowloris).
    // Returns early when `interrupt_fd` becomes readable (SIGTERM).
    void finish(std::chrono::milliseconds bound, int interrupt_fd = -1);
    // Stops every fault now and joins the threads.
    void stop();

  private:
    std::optional<sdk::LineConnection> open(const char* what);
    // Waits for `d`, waking early on stop or when `fd` turns readable.
    // Returns false once stop was requested.
    bool pause(std::chrono::milliseconds d, int fd = -1);
    void run_finite(void (ControlPlaneAbuse::*fault)());
    void flood();
    void oversized();
    void malformed();
    void slowloris();

    sdk::ReportTarget target_;
    AbuseOptions options_;
    Log log_;
    sdk::UniqueFd stop_read_;  // readable once stop() ran
    sdk::UniqueFd stop_write_;
    std::atomic<bool> stopping_{false};

    std::mutex mutex_;
    int finite_running_ = 0;
    sdk::UniqueFd done_read_;  // a byte per finished finite fault
    sdk::UniqueFd done_write_;
    std::vector<std::thread> threads_;
};

}  // namespace gamestore::fakegames
