#include "platform/client/sync_client.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <future>
#include <utility>

namespace gamestore::client {

SyncLobbyClient::SyncLobbyClient() : work_(asio::make_work_guard(io_)) {
    event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    thread_ = std::thread([this] { io_.run(); });
}

SyncLobbyClient::~SyncLobbyClient() {
    close();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) {
        thread_.join();
    }
    if (event_fd_ >= 0) {
        ::close(event_fd_);
    }
}

void SyncLobbyClient::connect(const std::string& host, std::uint16_t port,
                              std::chrono::milliseconds timeout) {
    auto future = asio::co_spawn(io_, LobbyClient::connect(host, port, timeout), asio::use_future);
    auto fresh = future.get();
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(mutex_);
        generation = ++generation_;
        closed_ = false;
    }
    // Handlers are installed on the client's own thread, before any event can
    // arrive. The connection this one replaces may still report its close:
    // only the current generation's close counts.
    std::promise<void> installed;
    asio::post(io_, [this, &installed, fresh, generation] {
        fresh->set_event_handler([this](const protocol::Event& event) { push_event(event); });
        fresh->set_close_handler([this, generation] {
            std::lock_guard lock(mutex_);
            if (generation != generation_) {
                return;
            }
            closed_ = true;
            cv_.notify_all();
            const std::uint64_t one = 1;
            [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
        });
        installed.set_value();
    });
    installed.get_future().get();
    if (auto previous = std::exchange(client_, std::move(fresh))) {
        asio::post(io_, [previous] { previous->close(); });
    }
}

protocol::Response SyncLobbyClient::call(const std::string& op, nlohmann::json args, CallOptions options) {
    if (!client_) {
        return local_error(0, "UNAVAILABLE", "not connected to the server");
    }
    auto client = client_;
    auto future = asio::co_spawn(
        io_,
        [client, op, args = std::move(args), options = std::move(options)]() mutable
            -> asio::awaitable<protocol::Response> {
            co_return co_await client->call(op, std::move(args), std::move(options));
        },
        asio::use_future);
    return future.get();
}

void SyncLobbyClient::push_event(protocol::Event event) {
    {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(event));
    }
    cv_.notify_all();
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
}

std::optional<protocol::Event> SyncLobbyClient::next_event(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [this] { return !events_.empty() || closed_; });
    if (events_.empty()) {
        std::uint64_t drained = 0;
        [[maybe_unused]] auto n = ::read(event_fd_, &drained, sizeof drained);
        return std::nullopt;
    }
    auto event = std::move(events_.front());
    events_.pop_front();
    if (events_.empty() && !closed_) {
        std::uint64_t drained = 0;
        [[maybe_unused]] auto n = ::read(event_fd_, &drained, sizeof drained);
    }
    return event;
}

bool SyncLobbyClient::connected() const {
    std::lock_guard lock(mutex_);
    return client_ && !closed_;
}

std::string SyncLobbyClient::local_address() const {
    return client_ ? client_->local_address() : std::string();
}

void SyncLobbyClient::close() {
    if (!client_) {
        return;
    }
    auto client = client_;
    std::promise<void> done;
    asio::post(io_, [client, &done] {
        client->close();
        done.set_value();
    });
    done.get_future().get();
}

}  // namespace gamestore::client
