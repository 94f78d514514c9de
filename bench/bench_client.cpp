#include "bench/bench_client.hpp"

#include "platform/packages/sha256.hpp"
#include "platform/packages/zip.hpp"

namespace gamestore::bench {

namespace asio = boost::asio;
using nlohmann::json;

asio::awaitable<std::shared_ptr<client::LobbyClient>> signed_in(const BenchServer& server, const std::string& role,
                                                                 const std::string& name) {
    auto connection = co_await client::LobbyClient::connect(server.lobby_host, server.lobby_port);
    // Arguments are built before the co_await (GCC 12: docs/ARCHITECTURE.md).
    json credentials = {{"role", role}, {"name", name}, {"password", "bench-password"}};
    co_await connection->call("auth.register", credentials);
    auto login = co_await connection->call("auth.login", credentials);
    if (!login.ok) {
        throw std::runtime_error("login of " + name + " failed: " + login.message);
    }
    co_return connection;
}

asio::awaitable<void> publish_zip(client::LobbyClient& developer, const std::filesystem::path& zip) {
    client::CallOptions options;
    options.upload = client::Upload{zip, 0, std::filesystem::file_size(zip)};
    options.timeout = std::chrono::minutes(10);
    json args = {{"sha256", packages::sha256_file(zip)}};
    auto published = co_await developer.call("dev.publish", args, options);
    if (!published.ok) {
        throw std::runtime_error("publish of " + zip.filename().string() + " failed: " + published.message);
    }
}

void publish_catalogue(const BenchServer& server, const std::filesystem::path& work, int games) {
    asio::io_context io(1);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto dev = co_await signed_in(server, "developer", "benchdev");
            for (int i = 0; i < games; ++i) {
                const std::string name = "Bench Game " + std::to_string(i);
                const auto dir = work / "packages" / name;
                write_tiny_package(dir, name, "1.0.0");
                const auto zip = work / "packages" / (name + ".zip");
                packages::create_zip(dir, zip);
                co_await publish_zip(*dev, zip);
            }
            dev->close();
        },
        [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
    io.run();
}

}  // namespace gamestore::bench
