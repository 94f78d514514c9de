#include "validator/control_plane.hpp"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "platform/protocol/line_framer.hpp"
#include "platform/protocol/rate_limit.hpp"
#include "platform/protocol/redact.hpp"
#include "platform/protocol/report_rules.hpp"
#include "validator/match_launch.hpp"

namespace gamestore::validator {

using asio::ip::tcp;
using protocol::ReportStatus;

struct ControlPlaneShared {
    ControlPlaneShared(asio::io_context& context, ExpectedMatch match) : io(context), acceptor(context), expected(std::move(match)) {}

    asio::io_context& io;
    tcp::acceptor acceptor;
    const ExpectedMatch expected;

    // Everything below `mutex` is shared with the orchestrating thread.
    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::uint64_t version = 0;
    std::vector<ReportRecord> reports;
    std::vector<ConnectionRecord> connections;
    int active = 0;  // connection handlers still running
    bool accepting = true;

    // Io-thread only: the platform-like state that decides the replies.
    std::map<int, std::shared_ptr<tcp::socket>> sockets;
    bool started = false;
    bool ended = false;
    int next_connection = 0;

    void bump() {
        ++version;
        changed.notify_all();
    }

    void record(ReportRecord record) {
        std::lock_guard lock(mutex);
        if (record.connection > 0 && record.connection <= static_cast<int>(connections.size())) {
            ++connections[static_cast<std::size_t>(record.connection - 1)].lines;
        }
        reports.push_back(std::move(record));
        bump();
    }

    // Decides the reply to a well-formed report with the platform's own
    // rules (protocol::check_report), and updates the match state like the
    // platform does on acceptance.
    std::optional<protocol::Refusal> refusal(const protocol::Report& report) {
        protocol::MatchFacts facts;
        facts.room_id = expected.room_id;
        facts.match_id = expected.match_id;
        facts.players = expected.players;
        facts.port = expected.port;
        facts.started = started;
        facts.ended = ended;
        auto refused =
            protocol::check_report(report, facts, report.report_token == expected.report_token);
        if (refused) {
            return refused;
        }
        switch (report.status) {
            case ReportStatus::Started:
                started = true;
                break;
            case ReportStatus::End:
            case ReportStatus::Error:
                ended = true;
                break;
            case ReportStatus::Heartbeat:
                break;
        }
        return std::nullopt;
    }

    std::string handle_line(const std::string& line, int connection, ReportRecord::Clock::time_point at) {
        ReportRecord record;
        record.at = at;
        record.connection = connection;
        record.bytes = line.size();
        record.excerpt = protocol::printable(redact_secrets(line, expected.secrets), 120);
        auto parsed = protocol::parse_report(line);
        if (auto* error = std::get_if<protocol::ReportError>(&parsed)) {
            record.kind = error->kind == protocol::ReportError::Kind::UnknownStatus ? ReportRecord::Kind::UnknownStatus
                                                                                   : ReportRecord::Kind::Malformed;
            record.error = error->message;
            record.error_field = error->field;
            const auto document = nlohmann::json::parse(line, nullptr, false);
            if (document.is_object()) {
                const auto status = document.find("status");
                if (status != document.end() && status->is_string()) {
                    record.status_field = status->get<std::string>();
                }
            }
            record.reply = protocol::encode_report_reply_error(error->message);
        } else {
            auto& report = std::get<protocol::Report>(parsed);
            record.status_field = std::string(protocol::to_string(report.status));
            record.authentic = report.room_id == expected.room_id && report.match_id == expected.match_id &&
                               report.report_token == expected.report_token;
            record.refusal = refusal(report);
            record.reply = record.refusal ? protocol::encode_report_reply_error(
                                                protocol::refusal_sentence(*record.refusal))
                                          : protocol::encode_report_reply_ok();
            record.report = std::move(report);
        }
        std::string reply = record.reply;
        this->record(std::move(record));
        return reply;
    }
};

namespace {

bool blank(const std::string& line) {
    return line.find_first_not_of(" \t\r") == std::string::npos;
}

asio::awaitable<void> serve_connection(std::shared_ptr<ControlPlaneShared> shared,
                                       std::shared_ptr<tcp::socket> socket, int id) {
    protocol::LineFramer framer(protocol::kDefaultMaxLine);
    protocol::AbuseTracker abuse;  // the platform's default policy
    std::string buffer(64 * 1024, '\0');
    bool closed_for_abuse = false;
    bool unterminated_accepted = false;
    std::size_t unterminated_bytes = 0;
    std::string unterminated_text;
    for (bool open = true; open;) {
        boost::system::error_code ec;
        const std::size_t n =
            co_await socket->async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::eof || (!ec && n == 0)) {
            // Like the platform (net::NdjsonChannel): at a clean end of
            // stream the unterminated rest is a line like any other.
            if (framer.buffered() == 0) {
                break;
            }
            unterminated_bytes = framer.buffered();
            std::string rest = framer.take_raw(framer.buffered());
            if (!rest.empty() && rest.back() == '\r') {
                rest.pop_back();
            }
            if (rest.empty() || blank(rest)) {
                break;
            }
            unterminated_accepted = true;
            unterminated_text = rest.substr(0, 400);
            const auto now = ReportRecord::Clock::now();
            std::string reply;
            if (abuse.on_message(now) == protocol::AbuseVerdict::Accept) {
                reply = shared->handle_line(rest, id, now);
            } else {
                reply = protocol::encode_report_reply_error("rate limited: report dropped");
            }
            co_await asio::async_write(*socket, asio::buffer(reply),
                                       asio::redirect_error(asio::use_awaitable, ec));
            break;
        }
        if (ec) {
            break;
        }
        framer.feed(std::string_view(buffer.data(), n));
        for (;;) {
            auto frame = framer.next();
            if (frame.kind == protocol::FrameResult::Kind::NeedMore) {
                break;
            }
            const auto now = ReportRecord::Clock::now();
            std::string reply;
            if (frame.kind == protocol::FrameResult::Kind::TooLarge) {
                ReportRecord record;
                record.kind = ReportRecord::Kind::TooLarge;
                record.at = now;
                record.connection = id;
                record.bytes = framer.max_line() + 1;
                record.error = "a report line is longer than " + std::to_string(framer.max_line()) + " bytes";
                record.reply = protocol::encode_report_reply_error(record.error + "; it was dropped");
                reply = record.reply;
                shared->record(std::move(record));
            } else if (blank(frame.line)) {
                continue;  // blank lines are skipped without a reply
            } else {
                const auto verdict = abuse.on_message(now);
                if (verdict == protocol::AbuseVerdict::Accept) {
                    reply = shared->handle_line(frame.line, id, now);
                } else {
                    ReportRecord record;
                    record.kind = ReportRecord::Kind::RateLimited;
                    record.at = now;
                    record.connection = id;
                    record.bytes = frame.line.size();
                    record.excerpt = protocol::printable(redact_secrets(frame.line, shared->expected.secrets), 120);
                    record.error = "over the rate limit of 20 reports/s (bursts of 50)";
                    record.reply = protocol::encode_report_reply_error("rate limited: " + record.error);
                    reply = record.reply;
                    shared->record(std::move(record));
                    if (verdict == protocol::AbuseVerdict::Disconnect) {
                        closed_for_abuse = true;
                        open = false;
                        break;
                    }
                }
            }
            co_await asio::async_write(*socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                open = false;
                break;
            }
        }
    }
    boost::system::error_code ignored;
    socket->close(ignored);
    const std::size_t pending = framer.buffered();
    // Wider than shown, so a token that starts inside the shown part is
    // redacted whole.
    const std::string excerpt = redact_secrets(
        unterminated_accepted ? unterminated_text : framer.take_raw(400), shared->expected.secrets);
    std::lock_guard lock(shared->mutex);
    auto& connection = shared->connections[static_cast<std::size_t>(id - 1)];
    connection.closed = ReportRecord::Clock::now();
    connection.unterminated_bytes = unterminated_accepted ? unterminated_bytes : pending;
    connection.unterminated_accepted = unterminated_accepted;
    connection.unterminated_excerpt = protocol::printable(excerpt, 120);
    connection.closed_for_abuse = closed_for_abuse;
    shared->sockets.erase(id);
    --shared->active;
    shared->bump();
}

asio::awaitable<void> accept_loop(std::shared_ptr<ControlPlaneShared> shared) {
    for (;;) {
        boost::system::error_code ec;
        tcp::socket socket = co_await shared->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (!shared->acceptor.is_open()) {
                break;
            }
            continue;  // e.g. ECONNABORTED: keep serving
        }
        auto handle = std::make_shared<tcp::socket>(std::move(socket));
        int id = 0;
        {
            std::lock_guard lock(shared->mutex);
            if (!shared->accepting) {
                break;
            }
            id = ++shared->next_connection;
            ConnectionRecord record;
            record.id = id;
            record.opened = ReportRecord::Clock::now();
            shared->connections.push_back(record);
            shared->sockets[id] = handle;
            ++shared->active;
            shared->bump();
        }
        asio::co_spawn(shared->io, serve_connection(shared, handle, id), asio::detached);
    }
}

}  // namespace

MockControlPlane::MockControlPlane(asio::io_context& io, ExpectedMatch expected)
    : shared_(std::make_shared<ControlPlaneShared>(io, std::move(expected))) {
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    shared_->acceptor.open(endpoint.protocol());
    shared_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    shared_->acceptor.bind(endpoint);
    shared_->acceptor.listen();
    port_ = shared_->acceptor.local_endpoint().port();
    asio::co_spawn(io, accept_loop(shared_), asio::detached);
}

MockControlPlane::~MockControlPlane() {
    shutdown();
}

std::vector<ReportRecord> MockControlPlane::reports() const {
    std::lock_guard lock(shared_->mutex);
    return shared_->reports;
}

std::vector<ConnectionRecord> MockControlPlane::connections() const {
    std::lock_guard lock(shared_->mutex);
    return shared_->connections;
}

std::optional<ReportRecord> MockControlPlane::first(ReportStatus status) const {
    std::lock_guard lock(shared_->mutex);
    for (const auto& record : shared_->reports) {
        if (record.report && record.report->status == status) {
            return record;
        }
    }
    return std::nullopt;
}

std::size_t MockControlPlane::count(ReportStatus status) const {
    std::lock_guard lock(shared_->mutex);
    std::size_t n = 0;
    for (const auto& record : shared_->reports) {
        if (record.report && record.report->status == status) {
            ++n;
        }
    }
    return n;
}

std::vector<MockControlPlane::Clock::time_point> MockControlPlane::heartbeat_times() const {
    std::lock_guard lock(shared_->mutex);
    std::vector<Clock::time_point> times;
    for (const auto& record : shared_->reports) {
        if (record.report && record.report->status == ReportStatus::Heartbeat) {
            times.push_back(record.at);
        }
    }
    return times;
}

std::size_t MockControlPlane::open_connections() const {
    std::lock_guard lock(shared_->mutex);
    return static_cast<std::size_t>(shared_->active);
}

std::uint64_t MockControlPlane::version() const {
    std::lock_guard lock(shared_->mutex);
    return shared_->version;
}

void MockControlPlane::wait_for_change(std::uint64_t seen, Clock::time_point deadline) const {
    std::unique_lock lock(shared_->mutex);
    shared_->changed.wait_until(lock, deadline, [&] { return shared_->version != seen; });
}

void MockControlPlane::shutdown() {
    {
        std::lock_guard lock(shared_->mutex);
        if (!shared_->accepting && shared_->active == 0) {
            return;
        }
        shared_->accepting = false;
    }
    asio::post(shared_->io, [shared = shared_] {
        boost::system::error_code ec;
        shared->acceptor.close(ec);
        for (auto& [id, socket] : shared->sockets) {
            socket->cancel(ec);
            socket->close(ec);
        }
    });
    // The handlers record how each connection ended; bounded in case the
    // io thread is no longer running.
    std::unique_lock lock(shared_->mutex);
    shared_->changed.wait_for(lock, std::chrono::seconds(3), [&] { return shared_->active == 0; });
}

}  // namespace gamestore::validator
