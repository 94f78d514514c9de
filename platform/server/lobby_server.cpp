#include "platform/server/lobby_server.hpp"

#include <spdlog/spdlog.h>

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

asio::awaitable<void> LobbyServer::accept_loop() {
    // Named, not a temporary of the co_await (GCC 12: docs/ARCHITECTURE.md).
    std::function<void(tcp::socket)> open_session = [this](tcp::socket socket) {
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

void LobbyServer::session_signed_in(LobbySession& session) {
    for (const auto& observer : signed_in_observers_) {
        observer(session);
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
