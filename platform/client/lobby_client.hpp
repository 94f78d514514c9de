#pragma once
// The lobby client used by both CLIs, the sim and the validator. One reader
// coroutine routes responses to their callers by id and events to a handler;
// many calls may be in flight at once. Runs on any Asio executor (the sim puts
// hundreds of clients on one thread); SyncLobbyClient wraps it for the CLIs.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "platform/asio/asio.hpp"
#include "platform/net/channel.hpp"
#include "platform/protocol/lobby.hpp"
#include "platform/protocol/lobby_mirror.hpp"

namespace gamestore::client {

namespace asio = boost::asio;

struct Upload {
    std::filesystem::path file;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

struct CallOptions {
    std::chrono::milliseconds timeout{30'000};
    std::optional<Upload> upload;
    // Receives a response's blob bytes as they arrive (downloads).
    std::function<void(std::string_view)> blob_sink;
};

// Error codes the client itself produces (no server answer): the connection
// is gone (UNAVAILABLE) or the deadline passed (TIMEOUT).
protocol::Response local_error(std::int64_t id, std::string code, std::string message);

class LobbyClient : public std::enable_shared_from_this<LobbyClient> {
public:
    using EventHandler = std::function<void(const protocol::Event&)>;
    using CloseHandler = std::function<void()>;
    using DeltaNumberHandler = std::function<void(const protocol::DeltaNumber&)>;

    // Connects (with a deadline) and starts the reader; throws std::runtime_error
    // with a sentence when the server cannot be reached.
    static asio::awaitable<std::shared_ptr<LobbyClient>> connect(
        std::string host, std::uint16_t port,
        std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
        std::size_t max_line = 64 * 1024);

    explicit LobbyClient(asio::ip::tcp::socket socket, std::size_t max_line);

    asio::awaitable<protocol::Response> call(std::string op, nlohmann::json args = nlohmann::json::object(),
                                             CallOptions options = {});

    void set_event_handler(EventHandler handler) { on_event_ = std::move(handler); }
    void set_close_handler(CloseHandler handler) { on_close_ = std::move(handler); }
    // When set, lobby deltas reach this handler with only their name and
    // seq (protocol::scan_lobby_delta), unparsed, instead of the event
    // handler: a client that only checks the numbering (each of the sim's
    // hundreds of players) skips building a document per delta. A line the
    // scanner cannot read goes the usual way.
    void set_delta_number_handler(DeltaNumberHandler handler) {
        on_delta_number_ = std::move(handler);
    }
    void close();
    bool is_open() const { return channel_.is_open(); }
    // The address of our end of the connection (what the server sees us as).
    std::string local_address() const { return channel_.local_address_text(); }
    // Sends raw bytes, bypassing the codec (abuse tests: oversized lines).
    void send_raw(std::string bytes) { channel_.send(std::move(bytes)); }

private:
    struct Pending {
        std::unique_ptr<asio::steady_timer> wake;
        std::optional<protocol::Response> response;
        std::function<void(std::string_view)> blob_sink;
    };

    void start();
    asio::awaitable<void> read_loop();
    void fail_all_pending(const std::string& message);

    net::NdjsonChannel channel_;
    std::map<std::int64_t, Pending> pending_;
    std::int64_t next_id_ = 1;
    EventHandler on_event_;
    CloseHandler on_close_;
    DeltaNumberHandler on_delta_number_;
    bool reader_done_ = false;
};

}  // namespace gamestore::client
