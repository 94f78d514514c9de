#pragma once
// The lobby: accepts player and developer connections, keeps the registry of
// live sessions, and dispatches requests through the op table. All lobby
// state lives on the server's single I/O thread (its implicit strand);
// blocking work goes to blocking_pool() and comes back by co_await.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "platform/asio/asio.hpp"
#include "platform/server/op_registry.hpp"
#include "platform/server/server_config.hpp"

namespace gamestore::server {

class LobbySession;
struct SignedIn;

class LobbyServer {
public:
    LobbyServer(boost::asio::io_context& io, ServerConfig config);
    ~LobbyServer();

    // Binds the lobby listener; throws with a sentence if the address is taken.
    void listen();
    // Starts accepting. Call after listen().
    void start();
    // Stops accepting and closes every session; `done` runs once they are gone.
    void stop(std::function<void()> done = {});

    boost::asio::ip::tcp::endpoint lobby_endpoint() const;
    bool listening() const { return acceptor_.is_open(); }
    const ServerConfig& config() const { return config_; }
    OpRegistry& ops() { return ops_; }
    boost::asio::thread_pool& blocking_pool() { return pool_; }
    // Only for the deliberately slow password hashing of auth.register and
    // auth.login; everything else uses blocking_pool().
    boost::asio::thread_pool& auth_pool() { return auth_pool_; }
    // Sign-ups and logins handed to auth_pool() and not yet answered (I/O
    // thread only; shown by server.stats).
    std::size_t& auth_in_flight() { return auth_in_flight_; }
    boost::asio::io_context& io() { return io_; }

    // A cluster node that lost the cluster (docs/SCALING.md): every open
    // connection is closed with `server.unavailable` {message}, and until
    // back_in_service() every request but ping is answered UNAVAILABLE with
    // `why`, so clients go to another node.
    void out_of_service(std::string why);
    void back_in_service() { out_of_service_.reset(); }
    const std::optional<std::string>& unavailable_because() const { return out_of_service_; }

    void for_each_session(const std::function<void(LobbySession&)>& fn);
    // Calls fn for at most `limit` live sessions with ids in [first, end), in
    // id order; returns the id to continue from, or `end` when done. Sessions
    // get increasing ids, so a walk in slices visits each session that
    // existed when it began at most once.
    std::uint64_t for_some_sessions(std::uint64_t first, std::uint64_t end, std::size_t limit,
                                    const std::function<void(LobbySession&)>& fn);
    // The id the next session will get: no session that exists has it.
    std::uint64_t next_session_id() const { return next_session_id_; }
    std::size_t session_count() const { return sessions_.size(); }
    // Connections refused at --max-connections so far.
    std::uint64_t turned_away() const { return turned_away_; }

    // Observers of session lifecycle (rooms track presence with these).
    using SessionObserver = std::function<void(LobbySession&)>;
    void add_session_closed_observer(SessionObserver observer) { closed_observers_.push_back(std::move(observer)); }
    void add_signed_in_observer(SessionObserver observer) { signed_in_observers_.push_back(std::move(observer)); }
    // A session signed out without closing (auth.logout, or revoked by a
    // newer login just before it closes): `who` is who it was.
    using SignedOutObserver = std::function<void(const SignedIn&)>;
    void add_signed_out_observer(SignedOutObserver observer) {
        signed_out_observers_.push_back(std::move(observer));
    }

    // Called by sessions.
    void session_ended(LobbySession& session);
    void session_signed_in(LobbySession& session);
    void session_signed_out(const SignedIn& who);

  private:
    boost::asio::awaitable<void> accept_loop();
    void register_builtin_ops();

    boost::asio::io_context& io_;
    ServerConfig config_;
    boost::asio::thread_pool pool_;
    boost::asio::thread_pool auth_pool_;
    std::size_t auth_in_flight_ = 0;
    std::uint64_t turned_away_ = 0;  // connections refused at --max-connections
    boost::asio::ip::tcp::acceptor acceptor_;
    OpRegistry ops_;
    std::map<std::uint64_t, std::weak_ptr<LobbySession>> sessions_;
    std::uint64_t next_session_id_ = 1;
    bool stopping_ = false;
    std::optional<std::string> out_of_service_;
    std::function<void()> on_stopped_;
    std::vector<SessionObserver> closed_observers_;
    std::vector<SessionObserver> signed_in_observers_;
    std::vector<SignedOutObserver> signed_out_observers_;
};

}  // namespace gamestore::server
