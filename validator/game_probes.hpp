#pragma once
// Talking to the game server the way the platform and the players' clients
// do: a diagnostic TCP connect (the healthcheck), handshake v1 probes, and a
// transparent relay ("tap") between the launched clients and the server
// that records each side's first line, i.e. the handshake and its answer.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "platform/protocol/handshake.hpp"
#include "validator/io_thread.hpp"

namespace gamestore::validator {

struct ConnectOutcome {
    bool connected = false;
    std::string error;  // why not
    std::chrono::milliseconds elapsed{0};
};

// One TCP connect to host:port within `timeout`, closed right away.
ConnectOutcome probe_connect(IoThread& io, const std::string& host, std::uint16_t port,
                             std::chrono::milliseconds timeout);

struct HandshakeOutcome {
    bool connected = false;
    std::string connect_error;
    std::optional<std::string> reply_line;  // the server's first line
    std::optional<protocol::HandshakeResponse> response;
    std::string reply_error;  // reply_line is not a valid handshake response
    bool closed_without_reply = false;
    bool timed_out = false;
    std::chrono::milliseconds elapsed{0};
    // Set when the probe was asked to keep an accepted connection open.
    std::shared_ptr<asio::ip::tcp::socket> held;
};

// Connects to 127.0.0.1:port, sends `request` as the first line, reads one
// reply line. With `keep_if_accepted` an ok:true connection stays open (the
// player stays seated) until close_held() is called.
HandshakeOutcome probe_handshake(IoThread& io, std::uint16_t port, const protocol::HandshakeRequest& request,
                                 std::chrono::milliseconds timeout, bool keep_if_accepted);
void close_held(IoThread& io, HandshakeOutcome& outcome);

// A relay on 127.0.0.1:<port()> to 127.0.0.1:<target>. Bytes pass through
// unchanged in both directions; the first line each way is kept.
class HandshakeTap {
  public:
    using Clock = std::chrono::steady_clock;

    struct Session {
        int id = 0;
        Clock::time_point connected;
        std::optional<std::string> client_line;  // the client's first line (its handshake)
        std::optional<std::string> server_line;  // the server's first line (the answer)
        std::string upstream_error;              // the server could not be reached
        bool ended = false;
    };

    HandshakeTap(IoThread& io, std::uint16_t target_port);
    ~HandshakeTap();
    HandshakeTap(const HandshakeTap&) = delete;
    HandshakeTap& operator=(const HandshakeTap&) = delete;

    std::uint16_t port() const { return port_; }
    std::vector<Session> sessions() const;
    // Stops accepting and closes every relayed connection.
    void close();

    struct State;

  private:
    IoThread& io_;
    std::shared_ptr<State> state_;
    std::uint16_t port_ = 0;
};

}  // namespace gamestore::validator
