#pragma once
// The control plane (docs/PROTOCOL.md "Control plane"): game servers report
// STARTED, HEARTBEAT, END and ERROR here. Hardened ("Hardening" there) so a
// buggy or hostile game cannot hurt other matches or the lobby: 64 KiB lines (an
// oversized line is dropped, the connection kept), bad JSON and unknown statuses
// logged and answered without dropping the connection, a token bucket per
// connection (drop + one warning per cooldown; disconnect only on sustained
// abuse), and an idle read timeout. Each line gets exactly one reply line.
// Nothing here sleeps: excess is dropped at once. Warnings about a connection
// name the match it speaks for when known (the last report's match_id, else the
// dropped line's). A last line without "\n" before the sender closes its side
// counts (net::NdjsonChannel), so one-shot senders may omit it. A connection
// that reported for a match may stay quiet as long as that match may go
// without a heartbeat (IdleAllowance), so a game with a long heartbeat
// interval keeps its persistent connection.
//
// Batched reads (opt-in, batch_interval > 0): the connections live on an
// io_context of their own that the lobby thread polls every batch_interval
// while any is open (and at once when one is accepted, so a one-shot report
// is read without waiting). With 2,000 matches heartbeating every second the
// lobby thread then wakes 200 times a second for the reports, not 2,000
// times, and reads ten at a time; a report waits at most batch_interval for
// its turn. Everything still runs on the lobby thread, so the handlers need
// no locks. Off by default: a sender that closes without reading its replies
// is reset by its own kernel, the first reply that then fails closes the
// channel, and what it sent past the first read is not read; read later,
// such a connection loses more.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "platform/asio/asio.hpp"
#include "platform/net/channel.hpp"
#include "platform/protocol/rate_limit.hpp"
#include "platform/protocol/report.hpp"
#include "platform/protocol/report_rules.hpp"

namespace gamestore::server {

struct ReportEndpointConfig {
    net::HostPort listen{"127.0.0.1", 16535};
    std::size_t max_line_bytes = 64 * 1024;
    std::chrono::milliseconds idle_timeout{60'000};
    protocol::AbusePolicy abuse;
    // How often the open connections are read (see above); zero reads each
    // report as it arrives.
    std::chrono::milliseconds batch_interval{0};
};

struct ReportEndpointStats {
    std::uint64_t connections = 0;
    std::uint64_t lines = 0;
    std::uint64_t oversized = 0;
    std::uint64_t malformed = 0;
    std::uint64_t unknown_status = 0;
    std::uint64_t rate_dropped = 0;
    std::uint64_t disconnected_for_abuse = 0;
};

class ReportEndpoint {
public:
  // Returns nullopt to accept a valid report, or why it is refused (the
  // reply carries protocol::refusal_sentence of it).
  using Handler = std::function<std::optional<protocol::Refusal>(const protocol::Report&)>;

  // How long a connection that spoke for a match may stay quiet: asked
  // after each accepted report; the connection's idle timeout becomes the
  // larger of this and the configured one. nullopt keeps the configured one.
  using IdleAllowance =
      std::function<std::optional<std::chrono::milliseconds>(const protocol::Report&)>;

  ReportEndpoint(boost::asio::io_context& io, ReportEndpointConfig config, Handler handler);

  // Without one, every connection has the configured idle timeout.
  void set_idle_allowance(IdleAllowance allowance) { idle_allowance_ = std::move(allowance); }

  void listen();
  void start();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  bool listening() const { return acceptor_.is_open(); }
  const ReportEndpointStats& stats() const { return stats_; }

private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
    // Moves an accepted socket onto the connections' loop and serves it.
    void adopt(boost::asio::ip::tcp::socket socket);
    // Runs whatever is ready on the connections' loop, and keeps the tick
    // going while any coroutine of a connection lives.
    void poll_connections();
    void arm_tick();

    boost::asio::io_context& io_;
    // Coroutines of connections alive (serve, writer, idle watchdog): the
    // tick runs while this is above zero, so a reply queued by a connection
    // that is ending still gets written. Declared before connections_io_,
    // whose destruction destroys those coroutines.
    int live_ = 0;
    // The connections' own loop, only ever run from the lobby thread: on
    // io_ itself when batch_interval is zero.
    boost::asio::io_context connections_io_{1};
    boost::asio::steady_timer tick_;
    bool ticking_ = false;
    ReportEndpointConfig config_;
    Handler handler_;
    IdleAllowance idle_allowance_;
    boost::asio::ip::tcp::acceptor acceptor_;
    ReportEndpointStats stats_;
    bool stopping_ = false;
    std::set<std::shared_ptr<net::NdjsonChannel>> open_;
};

}  // namespace gamestore::server
