#include "platform/client/lobby_client.hpp"

namespace gamestore::client {

using asio::ip::tcp;

protocol::Response local_error(std::int64_t id, std::string code, std::string message) {
    protocol::Response response;
    response.id = id;
    response.ok = false;
    response.error_code = std::move(code);
    response.message = std::move(message);
    return response;
}

LobbyClient::LobbyClient(tcp::socket socket, std::size_t max_line)
    : channel_(std::move(socket), max_line) {}

asio::awaitable<std::shared_ptr<LobbyClient>> LobbyClient::connect(std::string host, std::uint16_t port,
                                                                     std::chrono::milliseconds timeout,
                                                                     std::size_t max_line) {
    auto executor = co_await asio::this_coro::executor;
    const std::string where = net::HostPort{host, port}.to_string();
    tcp::resolver resolver(executor);
    boost::system::error_code ec;
    auto endpoints = co_await resolver.async_resolve(host, std::to_string(port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        throw std::runtime_error("cannot resolve " + host + ": " + ec.message());
    }
    // Owned by the deadline's handler too: when the connect and the deadline
    // complete together, that handler is already queued when cancel() comes,
    // and runs after this coroutine has gone on (or ended).
    struct Attempt {
        explicit Attempt(const asio::any_io_executor& executor) : socket(executor) {}
        tcp::socket socket;
        bool timed_out = false;
    };
    auto attempt = std::make_shared<Attempt>(executor);
    asio::steady_timer deadline(executor, timeout);
    deadline.async_wait([attempt](const boost::system::error_code& wait_ec) {
        if (!wait_ec) {
            attempt->timed_out = true;
            boost::system::error_code ignored;
            attempt->socket.close(ignored);
        }
    });
    co_await asio::async_connect(attempt->socket, endpoints,
                                 asio::redirect_error(asio::use_awaitable, ec));
    deadline.cancel();
    auto& socket = attempt->socket;
    if (attempt->timed_out) {
        throw std::runtime_error("cannot reach the server at " + where + ": no answer within " +
                                 std::to_string(timeout.count()) + " ms");
    }
    if (ec) {
        throw std::runtime_error("cannot reach the server at " + where + ": " + ec.message());
    }
    auto client = std::make_shared<LobbyClient>(std::move(socket), max_line);
    client->start();
    co_return client;
}

void LobbyClient::start() {
    auto self = shared_from_this();
    auto executor = channel_.socket().get_executor();
    asio::co_spawn(executor, [self]() -> asio::awaitable<void> { co_await self->channel_.run_writer(); },
                   asio::detached);
    asio::co_spawn(executor, [self]() -> asio::awaitable<void> { co_await self->read_loop(); },
                   asio::detached);
}

asio::awaitable<void> LobbyClient::read_loop() {
    while (channel_.is_open()) {
        auto frame = co_await channel_.read_frame();
        if (!frame) {
            break;
        }
        if (frame->kind == protocol::FrameResult::Kind::TooLarge) {
            // The server never sends such lines; the stream can no longer be trusted.
            break;
        }
        if (on_delta_number_) {
            if (const auto delta = protocol::scan_lobby_delta(frame->line)) {
                on_delta_number_(*delta);
                continue;
            }
        }
        auto message = protocol::parse_server_message(frame->line);
        if (auto* event = std::get_if<protocol::Event>(&message)) {
            if (on_event_) {
                on_event_(*event);
            }
            continue;
        }
        if (std::get_if<protocol::MessageError>(&message)) {
            continue;  // tolerate noise; a caller waiting on it times out
        }
        auto& response = std::get<protocol::Response>(message);
        auto it = pending_.find(response.id);
        const std::uint64_t blob = response.blob_bytes.value_or(0);
        if (blob > 0) {
            // A copy: the caller may time out (and drop its Pending) while
            // the blob is still arriving.
            std::function<void(std::string_view)> sink = [](std::string_view) {};
            if (it != pending_.end() && it->second.blob_sink) {
                sink = it->second.blob_sink;
            }
            if (!co_await channel_.read_raw(blob, sink)) {
                break;
            }
            it = pending_.find(response.id);
        }
        // Connection-level errors (auth deadline, line too long, unparsable
        // request) arrive with id null: hand them to every waiting caller. A
        // response whose caller already timed out is dropped.
        if (response.id == protocol::kNoRequestId && !response.ok) {
            for (auto& [id, pending] : pending_) {
                protocol::Response copy = response;
                copy.id = id;
                pending.response = std::move(copy);
                pending.wake->cancel();
            }
            continue;
        }
        if (it != pending_.end()) {
            it->second.response = std::move(response);
            it->second.wake->cancel();
        }
    }
    reader_done_ = true;
    channel_.close();
    fail_all_pending("the connection to the server was closed");
    if (on_close_) {
        on_close_();
    }
}

void LobbyClient::fail_all_pending(const std::string& message) {
    for (auto& [id, pending] : pending_) {
        if (!pending.response) {
            pending.response = local_error(id, "UNAVAILABLE", message);
            pending.wake->cancel();
        }
    }
}

asio::awaitable<protocol::Response> LobbyClient::call(std::string op, nlohmann::json args,
                                                      CallOptions options) {
    auto self = shared_from_this();  // the reader may outlive the caller's handle
    const std::int64_t id = next_id_++;
    if (!channel_.is_open() || reader_done_) {
        co_return local_error(id, "UNAVAILABLE", "not connected to the server");
    }
    Pending pending;
    pending.wake = std::make_unique<asio::steady_timer>(channel_.socket().get_executor());
    pending.wake->expires_after(options.timeout);
    pending.blob_sink = std::move(options.blob_sink);
    auto& slot = pending_.emplace(id, std::move(pending)).first->second;

    if (options.upload) {
        channel_.send_file(protocol::encode_request(id, op, args, options.upload->length),
                           options.upload->file, options.upload->offset, options.upload->length);
    } else {
        channel_.send(protocol::encode_request(id, op, args));
    }
    boost::system::error_code ec;
    co_await slot.wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    auto node = pending_.extract(id);
    auto& done = node.mapped();
    if (done.response) {
        co_return std::move(*done.response);
    }
    co_return local_error(id, "TIMEOUT",
                          "the server did not answer '" + op + "' within " +
                              std::to_string(options.timeout.count()) + " ms");
}

void LobbyClient::close() {
    channel_.close();
}

}  // namespace gamestore::client
