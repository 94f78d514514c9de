#pragma once
// The accept loop both listening ports of the server share (lobby and
// control plane).

#include <functional>
#include <string>

#include "platform/asio/asio.hpp"

namespace gamestore::server {

// Accepts connections on `acceptor` and hands each socket to `on_accept`
// until `stopping` is set or the acceptor is closed. A failed accept (EMFILE
// and friends) is logged under `label` and retried after 50 ms, so the
// connections already open keep being served.
boost::asio::awaitable<void> accept_connections(boost::asio::ip::tcp::acceptor& acceptor, const bool& stopping,
                                                std::string label,
                                                std::function<void(boost::asio::ip::tcp::socket)> on_accept);

}  // namespace gamestore::server
