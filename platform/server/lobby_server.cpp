#include "platform/server/lobby_server.hpp"

#include <array>
#include <memory>

#include <spdlog/spdlog.h>

#include "platform/protocol/lobby.hpp"

#include "platform/server/accept_loop.hpp"
#include "platform/server/lobby_error.hpp"
#include "platform/server/lobby_session.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
using asio::ip::tcp;

LobbyServer::LobbyServer(asio::io_context& io, ServerConfig config)
    : io_(io),
      config_(std::move(config)),
      pool_(static_cast<std::size_t>(std::max(1, config_.blocking_threads))),
      auth_pool_(static_cast<std::size_t>(std::max(1, config_.auth_threads))),
      acceptor_(io) {
    register_builtin_ops();
}

LobbyServer::~LobbyServer() {
    auth_pool_.join();
    pool_.join();
}

void LobbyServer::register_builtin_ops() {
    ops_.add("ping", OpSpec{[](RequestContext& ctx) -> asio::awaitable<Reply> {
                                Reply reply;
                                reply.data = {{"pong", true}};
                                if (ctx.request.args.contains("echo")) {
                                    reply.data["echo"] = ctx.request.args["echo"];
                                }
                                co_return reply;
                            },
                            Access::Anyone, 0});
}

void LobbyServer::listen() {
    net::open_listener(acceptor_, config_.listen, "--listen");
}

tcp::endpoint LobbyServer::lobby_endpoint() const {
    return acceptor_.local_endpoint();
}

void LobbyServer::start() {
    asio::co_spawn(io_, accept_loop(), asio::detached);
}

namespace {

// Sends one line to a connection the server will not serve, then closes it
// gently: the peer's first request may already be in flight, and closing
// with unread bytes would reset the connection and could lose the line. So
// what arrives is read and dropped until the peer closes, for 2 s at most.
asio::awaitable<void> turn_away(std::shared_ptr<tcp::socket> socket, std::string line) {
    boost::system::error_code ec;
    asio::steady_timer deadline(socket->get_executor(), std::chrono::seconds(2));
    deadline.async_wait([socket](const boost::system::error_code& waited) {
        if (!waited) {
            boost::system::error_code ignored;
            socket->close(ignored);
        }
    });
    co_await asio::async_write(*socket, asio::buffer(line), asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
        socket->shutdown(tcp::socket::shutdown_send, ec);
        std::array<char, 4096> drain{};
        for (int reads = 0; reads < 1024 && !ec; ++reads) {
            co_await socket->async_read_some(asio::buffer(drain), asio::redirect_error(asio::use_awaitable, ec));
        }
    }
    deadline.cancel();
    socket->close(ec);
}

}  // namespace

asio::awaitable<void> LobbyServer::accept_loop() {
    // Named, not a temporary of the co_await (GCC 12: docs/ARCHITECTURE.md).
    std::function<void(tcp::socket)> open_session = [this](tcp::socket socket) {
        if (sessions_.size() >= config_.max_connections) {
            ++turned_away_;
            if (turned_away_ == 1 || turned_away_ % 100 == 0) {
                spdlog::warn("lobby: {} connections open (--max-connections); turned away {} so far",
                             sessions_.size(), turned_away_);
            }
            asio::co_spawn(io_, turn_away(std::make_shared<tcp::socket>(std::move(socket)),
                                          protocol::encode_error(std::nullopt, protocol::ErrorCode::Unavailable,
                                                                 "The server is full (" +
                                                                     std::to_string(config_.max_connections) +
                                                                     " connections); try again in a minute.")),
                           asio::detached);
            return;
        }
        const std::uint64_t id = next_session_id_++;
        auto session = std::make_shared<LobbySession>(*this, std::move(socket), id);
        sessions_[id] = session;
        asio::co_spawn(io_, [session]() { return session->run(); }, asio::detached);
    };
    co_await accept_connections(acceptor_, stopping_, "lobby", std::move(open_session));
}

void LobbyServer::for_each_session(const std::function<void(LobbySession&)>& fn) {
    for (auto& [id, weak] : sessions_) {
        if (auto session = weak.lock()) {
            fn(*session);
        }
    }
}

std::uint64_t LobbyServer::for_some_sessions(std::uint64_t first, std::uint64_t end,
                                             std::size_t limit,
                                             const std::function<void(LobbySession&)>& fn) {
    auto it = sessions_.lower_bound(first);
    for (std::size_t visited = 0; it != sessions_.end() && it->first < end; ++it) {
        if (visited == limit) {
            return it->first;
        }
        if (auto session = it->second.lock()) {
            fn(*session);
            ++visited;
        }
    }
    return end;
}

void LobbyServer::session_signed_in(LobbySession& session) {
    for (const auto& observer : signed_in_observers_) {
        observer(session);
    }
}

void LobbyServer::session_signed_out(const SignedIn& who) {
    for (const auto& observer : signed_out_observers_) {
        observer(who);
    }
}

void LobbyServer::session_ended(LobbySession& session) {
    sessions_.erase(session.id());
    for (const auto& observer : closed_observers_) {
        observer(session);
    }
    if (stopping_ && sessions_.empty() && on_stopped_) {
        auto done = std::move(on_stopped_);
        on_stopped_ = nullptr;
        asio::post(io_, std::move(done));
    }
}

void LobbyServer::out_of_service(std::string why) {
    out_of_service_ = why;
    for_each_session([&why](LobbySession& session) {
        session.close_with_event("server.unavailable", {{"message", why}});
    });
}

void LobbyServer::stop(std::function<void()> done) {
    if (stopping_) {
        return;
    }
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    on_stopped_ = std::move(done);
    if (sessions_.empty()) {
        if (on_stopped_) {
            asio::post(io_, std::move(on_stopped_));
            on_stopped_ = nullptr;
        }
        return;
    }
    for_each_session([](LobbySession& session) {
        session.close_with_event("server.shutdown", {{"message", "the server is shutting down"}});
    });
}

}  // namespace gamestore::server
