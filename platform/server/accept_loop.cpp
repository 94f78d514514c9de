#include "platform/server/accept_loop.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

namespace gamestore::server {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> accept_connections(tcp::acceptor& acceptor, const bool& stopping, std::string label,
                                         std::function<void(tcp::socket)> on_accept) {
    while (!stopping) {
        boost::system::error_code ec;
        tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (stopping || ec == asio::error::operation_aborted) {
                break;
            }
            spdlog::warn("{}: accept failed: {}", label, ec.message());
            asio::steady_timer backoff(acceptor.get_executor(), std::chrono::milliseconds(50));
            co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        on_accept(std::move(socket));
    }
}

}  // namespace gamestore::server
