#pragma once
// What the server measures beyond the counters its parts keep anyway
// (MatchCounters, ReportEndpointStats): latencies, bytes and match ends by
// status. Shared by the op handlers, the rooms and the store's timing hook;
// the histograms and atomics make it safe from the blocking pool too.
// GET /metrics renders it (docs/OPERATIONS.md lists every metric).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "platform/server/prometheus.hpp"
#include "platform/store/types.hpp"

namespace gamestore::server {

struct ServerMetrics {
    static constexpr std::size_t kMatchStatusCount =
        static_cast<std::size_t>(store::MatchStatus::LaunchFailed) + 1;

    // room.start to IN_GAME (STARTED accepted).
    Histogram launch_latency{{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}};
    // How much later than its interval a heartbeat came (0 when on time).
    Histogram heartbeat_lateness{{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
    // One store operation, lock wait included.
    Histogram store_reads{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};
    Histogram store_writes{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};

    std::array<std::atomic<std::uint64_t>, kMatchStatusCount> matches_ended{};
    std::atomic<std::uint64_t> publishes{0};
    std::atomic<std::uint64_t> published_bytes{0};
    std::atomic<std::uint64_t> downloads{0};
    std::atomic<std::uint64_t> downloaded_bytes{0};
    std::atomic<std::uint64_t> http_requests{0};

    const std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();

    void match_ended(store::MatchStatus status) {
        matches_ended[static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
    }
};

}  // namespace gamestore::server
