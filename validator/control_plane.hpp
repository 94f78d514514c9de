#pragma once
// The validator's own control-plane endpoint (127.0.0.1:0): NDJSON over TCP,
// persistent and one-shot connections, one reply line per report, answered
// like the platform answers (docs/PROTOCOL.md "Control plane"): the same
// 64 KiB line limit, the same per-connection rate limit, the same rules
// (protocol::check_report) refusing stale, forged, out-of-order or misnamed
// reports, the same acceptance of a last line without "\n" at a clean end of
// stream. Unlike the platform it records
// every line with its arrival time, so the checks can judge the game's
// whole conversation afterwards.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "platform/protocol/report.hpp"
#include "platform/protocol/report_rules.hpp"
#include "validator/io_thread.hpp"

namespace gamestore::validator {

struct ExpectedMatch {
    std::int64_t room_id = 1;
    std::string match_id;
    std::string report_token;
    int port = 0;                      // the port the server was given
    std::vector<std::string> players;  // END results must name these
    std::vector<std::string> secrets;  // redacted from every recorded excerpt
};

struct ReportRecord {
    using Clock = std::chrono::steady_clock;
    enum class Kind {
        Report,         // a well-formed report (authentic or not)
        Malformed,      // not JSON, not an object, missing or mistyped fields
        UnknownStatus,  // well formed but the status is none of the four
        TooLarge,       // a line over 64 KiB
        RateLimited,    // dropped by the per-connection rate limit
    };
    Kind kind = Kind::Report;
    Clock::time_point at;
    int connection = 0;  // 1-based, in accept order
    std::size_t bytes = 0;
    std::string excerpt;  // printable start of the line
    std::optional<protocol::Report> report;
    std::string error;         // parse error sentence (Malformed, UnknownStatus)
    std::string error_field;   // e.g. "results[1].outcome"
    std::string status_field;  // "status" as written, when readable (also for malformed lines)
    // Report: the right room, match and token.
    bool authentic = false;
    // Report: why the platform's rules (protocol::check_report) refuse it.
    std::optional<protocol::Refusal> refusal;
    std::string reply;  // what we answered
};

struct ConnectionRecord {
    int id = 0;
    std::chrono::steady_clock::time_point opened;
    std::optional<std::chrono::steady_clock::time_point> closed;
    std::size_t lines = 0;
    // Bytes received after the last newline when the connection ended: a
    // report that never got its '\n'.
    std::size_t unterminated_bytes = 0;
    std::string unterminated_excerpt;
    bool closed_for_abuse = false;  // sustained flood: closed like the platform does
    // The game closed its side cleanly after the unterminated bytes, so they
    // were taken as a last line, as the platform does; otherwise they are
    // lost there too.
    bool unterminated_accepted = false;
};

struct ControlPlaneShared;  // the state shared with the io thread (control_plane.cpp)

class MockControlPlane {
  public:
    using Clock = std::chrono::steady_clock;

    MockControlPlane(asio::io_context& io, ExpectedMatch expected);
    ~MockControlPlane();
    MockControlPlane(const MockControlPlane&) = delete;
    MockControlPlane& operator=(const MockControlPlane&) = delete;

    std::uint16_t port() const { return port_; }

    // Snapshots, safe from any thread.
    std::vector<ReportRecord> reports() const;
    std::vector<ConnectionRecord> connections() const;
    // First well-formed report with this status (authentic or not).
    std::optional<ReportRecord> first(protocol::ReportStatus status) const;
    std::size_t count(protocol::ReportStatus status) const;
    // Arrival times of well-formed HEARTBEATs.
    std::vector<Clock::time_point> heartbeat_times() const;
    std::size_t open_connections() const;

    // Increments on every recorded line and connection change.
    std::uint64_t version() const;
    // Returns once version() differs from `seen` or at `deadline`.
    void wait_for_change(std::uint64_t seen, Clock::time_point deadline) const;

    // Stops accepting, closes every connection, waits until their handlers
    // have recorded how they ended. Idempotent.
    void shutdown();

  private:
    std::shared_ptr<ControlPlaneShared> shared_;
    std::uint16_t port_ = 0;
};

}  // namespace gamestore::validator
