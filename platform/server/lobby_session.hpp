#pragma once
// One lobby connection: a reader coroutine that frames, dispatches and answers
// requests in order, and the channel's writer coroutine that also carries
// pushed events. The session closes itself on a line over the limit, on the
// authentication deadline and on idleness.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "platform/asio/asio.hpp"
#include "platform/net/channel.hpp"

namespace gamestore::server {

class LobbyServer;

enum class AccountRole { Player, Developer };

struct SignedIn {
    std::int64_t account_id = 0;
    std::string name;
    AccountRole role = AccountRole::Player;
    std::int64_t session_id = 0;
};

class LobbySession : public std::enable_shared_from_this<LobbySession> {
public:
    LobbySession(LobbyServer& server, boost::asio::ip::tcp::socket socket, std::uint64_t id);

    // Runs until the connection ends; owns the session's lifetime.
    boost::asio::awaitable<void> run();

    void push_event(std::string_view name, const nlohmann::json& data);
    // Sends a last event, then closes once it is written.
    void close_with_event(std::string_view name, const nlohmann::json& data);
    void close();

    std::uint64_t id() const { return id_; }
    const std::optional<SignedIn>& signed_in() const { return signed_in_; }
    void set_signed_in(SignedIn who);
    void clear_signed_in();
    // Whether the lobby deltas are pushed to this session (lobby.watch, on by
    // default). Scripts that never look at the lobby turn them off.
    bool wants_lobby_updates() const { return wants_lobby_updates_; }
    void set_wants_lobby_updates(bool on) { wants_lobby_updates_ = on; }
    // Queues a batch of lobby delta lines, unless this connection is so far
    // behind that its queue holds kMaxQueuedFramesForDeltas frames: then the
    // batch is dropped (false) and the client, seeing the gap in the
    // sequence numbers, asks for a snapshot once it catches up. A reader
    // that stalls therefore costs the server a bounded queue, not one copy
    // of every change.
    // The batch is shared by every recipient, never copied per connection.
    bool push_lobby_deltas(std::shared_ptr<const std::string> lines);
    static constexpr std::size_t kMaxQueuedFramesForDeltas = 256;
    // The number of the last lobby delta batch offered to this connection
    // (queued or dropped): a batch reaches the connections a slice at a
    // time, and one that asks for a snapshot meanwhile is given the batch
    // first, so it is offered each batch once and always before the answer.
    std::uint64_t lobby_batch() const { return lobby_batch_; }
    void set_lobby_batch(std::uint64_t batch) { lobby_batch_ = batch; }
    // The address this client reached us by: what it should dial for a game
    // server on this machine when no --advertise-host is configured.
    // The room this connection entered (created, joined or acted in); 0
    // for none. A room member none of whose live connections entered the
    // room is a leftover of a session that ended (RoomService).
    std::int64_t attached_room() const { return attached_room_; }
    void attach_room(std::int64_t room_id) { attached_room_ = room_id; }
    std::string local_address() const { return channel_.local_address_text(); }
    std::string remote_endpoint() const { return channel_.remote_endpoint_text(); }

private:
    boost::asio::awaitable<void> handle_line(const std::string& line);
    boost::asio::awaitable<std::optional<std::filesystem::path>> receive_blob(std::uint64_t bytes);
    void arm_deadline();

    LobbyServer& server_;
    net::NdjsonChannel channel_;
    std::uint64_t id_;
    std::optional<SignedIn> signed_in_;
    bool wants_lobby_updates_ = true;
    std::uint64_t lobby_batch_ = 0;
    std::int64_t attached_room_ = 0;
    boost::asio::steady_timer deadline_;
    std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace gamestore::server
