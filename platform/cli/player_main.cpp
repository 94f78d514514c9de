// gamestore-player: the player's launcher (DESIGN.md 8 and 9).

#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "platform/cli/cli_common.hpp"

namespace {

using namespace gamestore::cli;

int run_ping(const CommonOptions& options) {
    gamestore::client::SyncLobbyClient client;
    connect_or_fail(client, options);
    const auto start = std::chrono::steady_clock::now();
    const auto data = require_ok(client.call("ping"), "ping");
    const auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    if (options.json) {
        std::cout << nlohmann::json{{"server", options.server}, {"rtt_ms", elapsed.count()}}.dump() << "\n";
    } else {
        std::cout << "pong from " << options.server << " in " << std::fixed;
        std::cout.precision(2);
        std::cout << elapsed.count() << " ms\n";
    }
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"gamestore-player: browse the store, install games, join rooms and play"};
    CommonOptions options;
    add_common_options(app, options);
    app.require_subcommand(0, 1);

    auto* ping = app.add_subcommand("ping", "check that the server answers");
    ping->add_flag("--json", options.json, "print JSON");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : kExitUsage;
    }
    try {
        if (*ping) {
            return run_ping(options);
        }
        std::cout << app.help();
        return kExitUsage;
    } catch (const CliFailure& failure) {
        std::cerr << "gamestore-player: " << failure.what() << "\n";
        return failure.code();
    }
}
