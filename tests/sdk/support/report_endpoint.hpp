#pragma once
// A control-plane endpoint for tests: listens on 127.0.0.1, accepts any
// number of connections, frames NDJSON lines with the platform's
// LineFramer, parses them with protocol::parse_report, replies one line per
// message and records everything, so a test can look at what a game server
// sent from the outside. Plain POSIX sockets on one background thread.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "platform/protocol/report.hpp"

namespace gamestore::sdk_test {

struct ReceivedLine {
    int connection = 0;  // 1 for the first accepted connection, 2 for the next...
    std::string line;
    std::chrono::steady_clock::time_point at;
    std::optional<protocol::Report> report;  // set when parse_report accepted the line
    std::string parse_error;                 // set when it did not
};

struct EndpointOptions {
    // Big enough to receive fakegame's --oversized-line whole.
    std::size_t max_line = 16 * 1024 * 1024;
    // The first connection is closed right after its first line; with
    // reply_before_close the line is answered first, else it is not.
    bool close_first_connection_after_first_line = false;
    bool reply_before_close = true;
    // The first line of the first connection gets no reply at all and the
    // connection stays open: a platform that is stuck, not gone.
    bool ignore_first_line = false;
    // Answer every well-formed report with {"ok":false,"error":reject_reason}.
    std::optional<std::string> reject_reason;
    // Listen on this port instead of an ephemeral one.
    int port = 0;
};

class ReportEndpoint {
  public:
    using Lines = std::vector<ReceivedLine>;

    explicit ReportEndpoint(EndpointOptions options = {});
    ~ReportEndpoint();
    ReportEndpoint(const ReportEndpoint&) = delete;
    ReportEndpoint& operator=(const ReportEndpoint&) = delete;

    int port() const { return port_; }
    Lines lines() const;
    // Reports that parsed, in arrival order.
    std::vector<ReceivedLine> reports() const;
    std::vector<ReceivedLine> reports_with(protocol::ReportStatus status) const;
    int connections_accepted() const;
    // Bytes a connection has sent after its last newline (a partial line).
    std::map<int, std::size_t> partial_bytes() const;

    // Waits until `done(lines)` holds; false if `timeout` passed first.
    bool wait_until(const std::function<bool(const Lines&)>& done,
                    std::chrono::milliseconds timeout) const;
    bool wait_for_status(protocol::ReportStatus status, std::size_t count,
                         std::chrono::milliseconds timeout) const;
    // Waits until some connection holds at least `bytes` of an unfinished line.
    bool wait_for_partial(std::size_t bytes, std::chrono::milliseconds timeout) const;

  private:
    void run();

    EndpointOptions options_;
    int listen_fd_ = -1;
    int wake_read_ = -1;
    int wake_write_ = -1;
    int port_ = 0;

    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    Lines lines_;
    int accepted_ = 0;
    std::map<int, std::size_t> partial_;
    std::thread thread_;
};

}  // namespace gamestore::sdk_test
