#pragma once
// Lobby steps every benchmark needs: a signed-in connection, a publish and a
// small catalogue. They throw std::runtime_error with the server's sentence
// on failure.

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

// Publishes `games` tiny games ("Bench Game 0", ...; write_tiny_package) as
// the developer `benchdev`, building their zips under `work`/packages. Runs
// an io_context of its own until done.
void publish_catalogue(const BenchServer& server, const std::filesystem::path& work, int games);

}  // namespace gamestore::bench
