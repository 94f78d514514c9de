#include "platform/cli/cli_common.hpp"

#include "platform/net/channel.hpp"

namespace gamestore::cli {

void add_common_options(CLI::App& app, CommonOptions& options) {
    app.add_option("--server", options.server, "lobby server HOST:PORT")
        ->envname("GAMESTORE_SERVER")
        ->capture_default_str();
    app.add_option("--user", options.user, "account name")->envname("GAMESTORE_USER");
    app.add_option("--home", options.home, "where sessions (and, for players, installs) are kept")
        ->envname("GAMESTORE_HOME");
}

void connect_or_fail(client::SyncLobbyClient& client, const CommonOptions& options) {
    std::string error;
    const auto endpoint = net::parse_host_port(options.server, &error);
    if (!endpoint) {
        throw CliFailure(kExitUsage, "--server: " + error);
    }
    try {
        client.connect(endpoint->host, endpoint->port);
    } catch (const std::exception& e) {
        throw CliFailure(kExitUnreachable, e.what());
    }
}

nlohmann::json require_ok(const protocol::Response& response, const std::string& what) {
    if (response.ok) {
        return response.data;
    }
    if (response.error_code == "UNAVAILABLE" || response.error_code == "TIMEOUT") {
        if (response.message.find("connection") != std::string::npos ||
            response.message.find("not connected") != std::string::npos ||
            response.error_code == "TIMEOUT") {
            throw CliFailure(kExitUnreachable, what + " failed: " + response.message);
        }
    }
    throw CliFailure(kExitRefused, what + " failed: " + response.message);
}

}  // namespace gamestore::cli
