#include "validator/game_probes.hpp"

#include <list>

#include "platform/protocol/line_framer.hpp"

namespace gamestore::validator {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// Closes the socket when the deadline passes first; cancel() it once done.
struct Watchdog {
    Watchdog(asio::any_io_executor ex, std::shared_ptr<tcp::socket> socket, std::chrono::milliseconds timeout)
        : timer(std::make_shared<asio::steady_timer>(ex, timeout)), fired(std::make_shared<bool>(false)) {
        timer->async_wait([socket, fired = fired](const boost::system::error_code& ec) {
            if (!ec) {
                *fired = true;
                boost::system::error_code ignored;
                socket->close(ignored);
            }
        });
    }
    void cancel() { timer->cancel(); }
    bool expired() const { return *fired; }

    std::shared_ptr<asio::steady_timer> timer;
    std::shared_ptr<bool> fired;
};

std::chrono::milliseconds since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

asio::awaitable<ConnectOutcome> connect_coroutine(std::string host, std::uint16_t port,
                                                  std::chrono::milliseconds timeout) {
    const auto start = Clock::now();
    auto ex = co_await asio::this_coro::executor;
    ConnectOutcome outcome;
    tcp::resolver resolver(ex);
    boost::system::error_code ec;
    const auto endpoints = co_await resolver.async_resolve(host, std::to_string(port),
                                                           asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        outcome.error = "cannot resolve '" + host + "': " + ec.message();
        outcome.elapsed = since(start);
        co_return outcome;
    }
    auto socket = std::make_shared<tcp::socket>(ex);
    Watchdog watchdog(ex, socket, timeout);
    co_await asio::async_connect(*socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    watchdog.cancel();
    outcome.elapsed = since(start);
    if (watchdog.expired()) {
        outcome.error = "no answer within " + std::to_string(timeout.count()) + " ms";
    } else if (ec) {
        outcome.error = ec.message();
    } else {
        outcome.connected = true;
    }
    boost::system::error_code ignored;
    socket->close(ignored);
    co_return outcome;
}

asio::awaitable<HandshakeOutcome> handshake_coroutine(std::uint16_t port, std::string line,
                                                      std::chrono::milliseconds timeout, bool keep_if_accepted) {
    const auto start = Clock::now();
    auto ex = co_await asio::this_coro::executor;
    HandshakeOutcome outcome;
    auto socket = std::make_shared<tcp::socket>(ex);
    Watchdog watchdog(ex, socket, timeout);
    boost::system::error_code ec;
    co_await socket->async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec || watchdog.expired()) {
        watchdog.cancel();
        outcome.timed_out = watchdog.expired();
        outcome.connect_error = watchdog.expired() ? "the connection was not accepted in time" : ec.message();
        outcome.elapsed = since(start);
        co_return outcome;
    }
    outcome.connected = true;
    co_await asio::async_write(*socket, asio::buffer(line), asio::redirect_error(asio::use_awaitable, ec));
    protocol::LineFramer framer(protocol::kDefaultMaxLine);
    std::string buffer(4096, '\0');
    while (!ec) {
        auto frame = framer.next();
        if (frame.kind == protocol::FrameResult::Kind::Line) {
            outcome.reply_line = frame.line;
            break;
        }
        if (frame.kind == protocol::FrameResult::Kind::TooLarge) {
            outcome.reply_line = "";
            outcome.reply_error = "the reply line is longer than 64 KiB";
            break;
        }
        const std::size_t n =
            co_await socket->async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) {
            framer.feed(std::string_view(buffer.data(), n));
        }
    }
    watchdog.cancel();
    outcome.elapsed = since(start);
    if (!outcome.reply_line) {
        if (watchdog.expired()) {
            outcome.timed_out = true;
        } else {
            outcome.closed_without_reply = true;
        }
    } else if (outcome.reply_error.empty()) {
        auto parsed = protocol::parse_handshake_response(*outcome.reply_line);
        if (auto* response = std::get_if<protocol::HandshakeResponse>(&parsed)) {
            outcome.response = *response;
        } else {
            outcome.reply_error = std::get<std::string>(parsed);
        }
    }
    if (keep_if_accepted && outcome.response && outcome.response->ok && socket->is_open()) {
        outcome.held = socket;
    } else {
        boost::system::error_code ignored;
        socket->close(ignored);
    }
    co_return outcome;
}

}  // namespace

ConnectOutcome probe_connect(IoThread& io, const std::string& host, std::uint16_t port,
                             std::chrono::milliseconds timeout) {
    return io.run(connect_coroutine(host, port, timeout));
}

HandshakeOutcome probe_handshake(IoThread& io, std::uint16_t port, const protocol::HandshakeRequest& request,
                                 std::chrono::milliseconds timeout, bool keep_if_accepted) {
    return io.run(handshake_coroutine(port, protocol::encode_handshake_request(request), timeout, keep_if_accepted));
}

void close_held(IoThread& io, HandshakeOutcome& outcome) {
    if (!outcome.held) {
        return;
    }
    io.call([socket = outcome.held] {
        boost::system::error_code ignored;
        socket->shutdown(tcp::socket::shutdown_both, ignored);
        socket->close(ignored);
    });
    outcome.held.reset();
}

// ---------------------------------------------------------------------------

struct HandshakeTap::State {
    explicit State(asio::io_context& io) : acceptor(io) {}

    tcp::acceptor acceptor;
    std::uint16_t target = 0;
    mutable std::mutex mutex;
    std::vector<Session> sessions;
    std::list<std::shared_ptr<tcp::socket>> sockets;  // io thread only
    bool open = true;                                 // io thread only

    Session& session(int id) { return sessions[static_cast<std::size_t>(id - 1)]; }
};

namespace {

// Copies `from` to `to` until EOF, keeping the first line it carries.
asio::awaitable<void> pump(std::shared_ptr<HandshakeTap::State> state, std::shared_ptr<tcp::socket> from,
                           std::shared_ptr<tcp::socket> to, int id, bool client_to_server) {
    std::string buffer(16 * 1024, '\0');
    std::string first;
    bool first_done = false;
    for (;;) {
        boost::system::error_code ec;
        const std::size_t n =
            co_await from->async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
        if (ec || n == 0) {
            // Pass the half-close on, so a peer waiting for EOF sees it.
            boost::system::error_code ignored;
            if (ec == asio::error::eof) {
                to->shutdown(tcp::socket::shutdown_send, ignored);
            } else {
                to->close(ignored);
                from->close(ignored);
            }
            break;
        }
        if (!first_done) {
            const std::string_view chunk(buffer.data(), n);
            const auto newline = chunk.find('\n');
            first.append(chunk.substr(0, newline == std::string_view::npos ? chunk.size() : newline));
            if (newline != std::string_view::npos || first.size() > protocol::kDefaultMaxLine) {
                first_done = true;
                if (!first.empty() && first.back() == '\r') {
                    first.pop_back();
                }
                std::lock_guard lock(state->mutex);
                auto& session = state->session(id);
                (client_to_server ? session.client_line : session.server_line) = first;
            }
        }
        co_await asio::async_write(*to, asio::buffer(buffer.data(), n), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            boost::system::error_code ignored;
            from->close(ignored);
            to->close(ignored);
            break;
        }
    }
}

asio::awaitable<void> relay(std::shared_ptr<HandshakeTap::State> state, std::shared_ptr<tcp::socket> client,
                            int id) {
    auto ex = co_await asio::this_coro::executor;
    auto server = std::make_shared<tcp::socket>(ex);
    state->sockets.push_back(server);
    boost::system::error_code ec;
    {
        Watchdog watchdog(ex, server, std::chrono::seconds(5));
        co_await server->async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), state->target),
                                       asio::redirect_error(asio::use_awaitable, ec));
        watchdog.cancel();
        if (watchdog.expired()) {
            ec = asio::error::timed_out;
        }
    }
    if (ec) {
        {
            std::lock_guard lock(state->mutex);
            state->session(id).upstream_error = ec.message();
            state->session(id).ended = true;
        }
        boost::system::error_code ignored;
        client->close(ignored);
        co_return;
    }
    server->set_option(tcp::no_delay(true), ec);
    client->set_option(tcp::no_delay(true), ec);
    // The two directions run independently; the session ends when both do.
    auto done = std::make_shared<int>(0);
    auto finish = [state, id, done](std::exception_ptr) {
        if (++*done == 2) {
            std::lock_guard lock(state->mutex);
            state->session(id).ended = true;
        }
    };
    asio::co_spawn(ex, pump(state, client, server, id, true), finish);
    asio::co_spawn(ex, pump(state, server, client, id, false), finish);
}

asio::awaitable<void> tap_accept_loop(std::shared_ptr<HandshakeTap::State> state) {
    for (;;) {
        boost::system::error_code ec;
        tcp::socket socket = co_await state->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (!state->open || !state->acceptor.is_open()) {
                break;
            }
            continue;
        }
        auto client = std::make_shared<tcp::socket>(std::move(socket));
        state->sockets.push_back(client);
        int id = 0;
        {
            std::lock_guard lock(state->mutex);
            HandshakeTap::Session session;
            session.id = static_cast<int>(state->sessions.size()) + 1;
            session.connected = Clock::now();
            state->sessions.push_back(session);
            id = session.id;
        }
        asio::co_spawn(state->acceptor.get_executor(), relay(state, client, id), asio::detached);
    }
}

}  // namespace

HandshakeTap::HandshakeTap(IoThread& io, std::uint16_t target_port)
    : io_(io), state_(std::make_shared<State>(io.io())) {
    state_->target = target_port;
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    state_->acceptor.open(endpoint.protocol());
    state_->acceptor.bind(endpoint);
    state_->acceptor.listen();
    port_ = state_->acceptor.local_endpoint().port();
    asio::co_spawn(io.io(), tap_accept_loop(state_), asio::detached);
}

HandshakeTap::~HandshakeTap() {
    close();
}

std::vector<HandshakeTap::Session> HandshakeTap::sessions() const {
    std::lock_guard lock(state_->mutex);
    return state_->sessions;
}

void HandshakeTap::close() {
    io_.call([state = state_] {
        if (!state->open) {
            return;
        }
        state->open = false;
        boost::system::error_code ignored;
        state->acceptor.close(ignored);
        for (auto& socket : state->sockets) {
            socket->close(ignored);
        }
        state->sockets.clear();
    });
}

}  // namespace gamestore::validator
