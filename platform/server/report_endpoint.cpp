#include "platform/server/report_endpoint.hpp"

#include <spdlog/spdlog.h>

#include "platform/protocol/redact.hpp"
#include "platform/server/accept_loop.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Counts a coroutine of a connection as alive for its whole frame lifetime
// (also when the loop is destroyed with the coroutine suspended).
class Alive {
  public:
    explicit Alive(int& count) : count_(count) { ++count_; }
    Alive(const Alive&) = delete;
    Alive& operator=(const Alive&) = delete;
    ~Alive() { --count_; }

  private:
    int& count_;
};

}  // namespace

ReportEndpoint::ReportEndpoint(asio::io_context& io, ReportEndpointConfig config, Handler handler)
    : io_(io), tick_(io), config_(std::move(config)), handler_(std::move(handler)), acceptor_(io) {}

void ReportEndpoint::listen() {
    net::open_listener(acceptor_, config_.listen, "--report-listen");
}

void ReportEndpoint::start() {
    asio::co_spawn(io_, accept_loop(), asio::detached);
}

void ReportEndpoint::stop() {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    tick_.cancel();
    for (const auto& channel : open_) {
        channel->close();
    }
}

void ReportEndpoint::adopt(tcp::socket socket) {
    if (config_.batch_interval.count() <= 0) {
        asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
        return;
    }
    boost::system::error_code ec;
    const auto local = socket.local_endpoint(ec);
    if (ec) {
        return;  // the peer is gone already
    }
    tcp::socket own(connections_io_);
    own.assign(local.protocol(), socket.release(ec), ec);
    if (ec) {
        spdlog::warn("control plane: could not take over an accepted connection: {}", ec.message());
        return;
    }
    asio::co_spawn(connections_io_, serve(std::move(own)), asio::detached);
    poll_connections();
}

void ReportEndpoint::poll_connections() {
    connections_io_.restart();
    connections_io_.poll();
    if (!ticking_ && !stopping_ && live_ > 0) {
        ticking_ = true;
        arm_tick();
    }
}

void ReportEndpoint::arm_tick() {
    tick_.expires_after(config_.batch_interval);
    tick_.async_wait([this](const boost::system::error_code& ec) {
        ticking_ = false;
        if (!ec && !stopping_) {
            poll_connections();  // re-arms while a connection's coroutine lives
        }
    });
}

asio::awaitable<void> ReportEndpoint::accept_loop() {
    // Named, not a temporary of the co_await (GCC 12: docs/ARCHITECTURE.md).
    std::function<void(tcp::socket)> serve_connection = [this](tcp::socket socket) {
        adopt(std::move(socket));
    };
    co_await accept_connections(acceptor_, stopping_, "control plane", std::move(serve_connection));
}

asio::awaitable<void> ReportEndpoint::serve(tcp::socket socket) {
    const Alive alive(live_);
    ++stats_.connections;
    // The loop the socket lives on: connections_io_, or io_ unbatched.
    const auto executor = socket.get_executor();
    auto channel = std::make_shared<net::NdjsonChannel>(std::move(socket), config_.max_line_bytes);
    channel->accept_unterminated_last_line(true);
    open_.insert(channel);
    const std::string peer = channel->remote_endpoint_text();
    asio::co_spawn(
        executor,
        [channel, &live = live_]() -> asio::awaitable<void> {
            const Alive writing(live);
            co_await channel->run_writer();
        },
        asio::detached);

    // Idle read timeout: a watchdog closes connections that go quiet.
    auto idle = std::make_shared<asio::steady_timer>(executor);
    auto last_activity = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    // Raised (never lowered) by IdleAllowance after accepted reports; a
    // longer timeout takes effect when the running wait expires and re-arms.
    auto idle_timeout = std::make_shared<std::chrono::milliseconds>(config_.idle_timeout);
    asio::co_spawn(
        executor,
        [channel, idle, last_activity, idle_timeout, peer,
         &live = live_]() -> asio::awaitable<void> {
            const Alive watching(live);
            while (channel->is_open()) {
                idle->expires_at(*last_activity + *idle_timeout);
                boost::system::error_code ec;
                co_await idle->async_wait(asio::redirect_error(asio::use_awaitable, ec));
                if (!channel->is_open() || ec == asio::error::operation_aborted) {
                    break;
                }
                if (std::chrono::steady_clock::now() >= *last_activity + *idle_timeout) {
                    spdlog::debug("control plane: closing idle connection from {}", peer);
                    channel->close();
                    break;
                }
            }
        },
        asio::detached);

    protocol::AbuseTracker abuse(config_.abuse);
    // The match this connection last spoke for, so warnings about the
    // connection (rate limit, disconnect) can name it.
    std::string match_id;
    // The match a line speaks for, if it can be read (the parse is skipped
    // for lines that are dropped without a warning).
    auto match_of = [&](const protocol::FrameResult& line) -> std::string {
        if (line.kind != protocol::FrameResult::Kind::Line) {
            return {};
        }
        const auto parsed = protocol::parse_report(line.line);
        if (const auto* report = std::get_if<protocol::Report>(&parsed)) {
            return report->match_id;
        }
        return std::get<protocol::ReportError>(parsed).match_id;
    };
    auto match_text = [&](const protocol::FrameResult& line) {
        if (match_id.empty()) {
            match_id = match_of(line);
        }
        return match_id.empty() ? std::string("match unknown") : "match " + protocol::printable(match_id);
    };
    while (channel->is_open()) {
        auto frame = co_await channel->read_frame();
        if (!frame) {
            break;
        }
        *last_activity = std::chrono::steady_clock::now();
        ++stats_.lines;
        const auto verdict = abuse.on_message(std::chrono::steady_clock::now());
        if (verdict == protocol::AbuseVerdict::Disconnect) {
            ++stats_.disconnected_for_abuse;
            spdlog::warn("control plane: {} ({}) keeps flooding ({} lines dropped); disconnecting", peer,
                         match_text(*frame), abuse.dropped_total());
            channel->send(protocol::encode_report_reply_error("rate limit exceeded for too long; disconnecting"));
            channel->close_after_flush();
            break;
        }
        if (verdict != protocol::AbuseVerdict::Accept) {
            ++stats_.rate_dropped;
            if (verdict == protocol::AbuseVerdict::DropAndWarn) {
                spdlog::warn("control plane: {} ({}) is over the report rate limit ({}/s); dropping excess lines",
                             peer, match_text(*frame), config_.abuse.rate_per_sec);
            }
            channel->send(protocol::encode_report_reply_error("rate limited: report dropped"));
            continue;
        }
        if (frame->kind == protocol::FrameResult::Kind::TooLarge) {
            ++stats_.oversized;
            spdlog::warn("control plane: {} sent a line over {} bytes; dropped", peer, config_.max_line_bytes);
            channel->send(protocol::encode_report_reply_error("line exceeds " +
                                                              std::to_string(config_.max_line_bytes) +
                                                              " bytes; dropped"));
            continue;
        }
        if (frame->line.find_first_not_of(" \t") == std::string::npos) {
            continue;  // blank lines are keep-alive noise
        }
        auto parsed = protocol::parse_report(frame->line);
        if (auto* error = std::get_if<protocol::ReportError>(&parsed)) {
            if (!error->match_id.empty()) {
                match_id = error->match_id;
            }
            if (error->kind == protocol::ReportError::Kind::UnknownStatus) {
                ++stats_.unknown_status;
                spdlog::warn("control plane: {} sent an unknown status (match {}): {}; ignored", peer,
                             protocol::printable(error->match_id), error->message);
            } else {
                ++stats_.malformed;
                spdlog::warn("control plane: {} sent a bad report (match {}): {}", peer,
                             protocol::printable(error->match_id), error->message);
            }
            channel->send(protocol::encode_report_reply_error(error->message));
            continue;
        }
        const auto& report = std::get<protocol::Report>(parsed);
        match_id = report.match_id;
        const auto refusal = handler_(report);
        if (!refusal && idle_allowance_) {
            if (const auto allowance = idle_allowance_(report)) {
                *idle_timeout = std::max(*idle_timeout, *allowance);
            }
        }
        channel->send(
            refusal ? protocol::encode_report_reply_error(protocol::refusal_sentence(*refusal))
                    : protocol::encode_report_reply_ok());
    }
    idle->cancel();
    // queued() counts a reply being written: a one-shot sender that closed
    // its side after the report still gets the reply to it.
    if (channel->queued() == 0) {
        channel->close();
    } else {
        channel->close_after_flush();
    }
    open_.erase(channel);
}

}  // namespace gamestore::server
