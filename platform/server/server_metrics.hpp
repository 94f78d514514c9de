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
#include <deque>
#include <string>

#include "platform/server/prometheus.hpp"
#include "platform/store/types.hpp"

namespace gamestore::server {

// A match that ended, for the admin dashboard's list and chart.
struct EndedMatch {
    std::int64_t ended_at_ms = 0;
    std::int64_t room_id = 0;
    std::string match_id;
    std::string game;
    std::string version;
    std::string status;
    std::string reason;
};

struct Publication {
    std::int64_t at_ms = 0;
    std::string game;
    std::string version;
    std::uint64_t bytes = 0;
};

struct ServerMetrics {
    // The last ends and publishes kept for the dashboard (an hour of
    // matches per minute at a busy server's rate, bounded either way).
    static constexpr std::size_t kRecentEnds = 2000;
    static constexpr std::size_t kRecentPublishes = 50;

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

    // I/O thread only, like the rooms they describe.
    std::deque<EndedMatch> recent_ends;
    std::deque<Publication> recent_publishes;

    void match_ended(store::MatchStatus status, EndedMatch record) {
        matches_ended[static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
        recent_ends.push_back(std::move(record));
        if (recent_ends.size() > kRecentEnds) {
            recent_ends.pop_front();
        }
    }
    void published(Publication record) {
        ++publishes;
        published_bytes += record.bytes;
        recent_publishes.push_back(std::move(record));
        if (recent_publishes.size() > kRecentPublishes) {
            recent_publishes.pop_front();
        }
    }
};

}  // namespace gamestore::server
