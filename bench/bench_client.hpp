#pragma once
// Lobby steps every benchmark needs: a signed-in connection and a publish.
// Both throw std::runtime_error with the server's sentence on failure.

#include <filesystem>
#include <memory>
#include <string>

#include "bench/bench_common.hpp"
#include "platform/client/lobby_client.hpp"

namespace gamestore::bench {

// Connects, registers (an existing account is fine) and logs in.
boost::asio::awaitable<std::shared_ptr<client::LobbyClient>> signed_in(const BenchServer& server,
                                                                       const std::string& role,
                                                                       const std::string& name);

// Uploads a package zip as the signed-in developer.
boost::asio::awaitable<void> publish_zip(client::LobbyClient& developer, const std::filesystem::path& zip);

}  // namespace gamestore::bench
