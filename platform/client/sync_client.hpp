#pragma once
// A blocking facade over LobbyClient for the command-line tools: it runs the
// client on its own I/O thread and queues pushed events, which the caller
// drains (or waits on, with a deadline) from its own thread.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "platform/client/lobby_client.hpp"

namespace gamestore::client {

class SyncLobbyClient {
public:
    SyncLobbyClient();
    ~SyncLobbyClient();
    SyncLobbyClient(const SyncLobbyClient&) = delete;
    SyncLobbyClient& operator=(const SyncLobbyClient&) = delete;

    // Throws std::runtime_error with a sentence when the server is unreachable.
    // On a connected client it replaces the connection (a cluster redirect):
    // the new one is open before the old one closes, queued events stay, and
    // the old connection's close is not reported.
    void connect(const std::string& host, std::uint16_t port,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    protocol::Response call(const std::string& op, nlohmann::json args = nlohmann::json::object(),
                            CallOptions options = {});

    // The next pushed event, waiting up to `timeout`; nullopt on timeout.
    std::optional<protocol::Event> next_event(std::chrono::milliseconds timeout);
    // A file descriptor that is readable while events are queued (for poll()
    // alongside stdin in the interactive menus).
    int event_fd() const { return event_fd_; }
    bool connected() const;
    std::string local_address() const;
    void close();

private:
    void push_event(protocol::Event event);

    asio::io_context io_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::thread thread_;
    std::shared_ptr<LobbyClient> client_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<protocol::Event> events_;
    bool closed_ = false;
    std::uint64_t generation_ = 0;  // of the current connection, under mutex_
    int event_fd_ = -1;
};

}  // namespace gamestore::client
