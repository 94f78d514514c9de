#pragma once
// One fakegame match for a test: a control-plane endpoint, the match's
// launch environment, the real `fakegame server` process, and clients.

#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/sdk/support/child_process.hpp"
#include "tests/sdk/support/report_endpoint.hpp"

namespace gamestore::fakegame_test {

using sdk_test::ChildProcess;
using sdk_test::EndpointOptions;
using sdk_test::ExitStatus;
using sdk_test::FakeMatch;
using sdk_test::ReportEndpoint;
using Status = protocol::ReportStatus;

inline const std::string kFakegame = FAKEGAME_BINARY;

struct FakegameRun {
    // `launcher`, if given, runs the server: its argv comes first (for
    // example prlimit with a resource limit for the server alone).
    FakegameRun(std::vector<std::string> players, std::vector<std::string> server_args,
                std::string heartbeat_interval_sec = "5", EndpointOptions endpoint_options = {},
                std::vector<std::string> launcher = {})
        : endpoint(endpoint_options),
          match(std::move(players), endpoint.port(), std::move(heartbeat_interval_sec)),
          port(sdk_test::pick_free_port()) {
        std::vector<std::string> argv = std::move(launcher);
        argv.insert(argv.end(), {kFakegame, "server"});
        argv.insert(argv.end(), server_args.begin(), server_args.end());
        // Like the platform, which runs the server in its package directory:
        // whatever the server writes into its current directory stays in the
        // match's temp dir.
        std::filesystem::create_directory(game_dir());
        server = std::make_unique<ChildProcess>(argv, match.server_env(port),
                                                match.dir.path() / "server.out",
                                                match.dir.path() / "server.err", game_dir());
    }

    // The server's current directory.
    std::filesystem::path game_dir() const { return match.dir.path() / "game"; }

    // A `fakegame client` for `player`, started now.
    std::unique_ptr<ChildProcess> client(const std::string& player,
                                         std::vector<std::string> args = {}, int client_port = 0) {
        std::vector<std::string> argv{kFakegame, "client"};
        argv.insert(argv.end(), args.begin(), args.end());
        const auto stem = match.dir.path() / (player + "-" + std::to_string(++clients));
        return std::make_unique<ChildProcess>(
            argv, match.client_env(player, client_port ? client_port : port),
            stem.string() + ".out", stem.string() + ".err");
    }

    // Parsed reports of the main Reporter connection and every other one, in order.
    std::vector<Status> statuses() const {
        std::vector<Status> out;
        for (const auto& r : endpoint.reports()) {
            out.push_back(r.report->status);
        }
        return out;
    }

    std::string server_log() const { return server->stderr_text(); }

    ReportEndpoint endpoint;
    FakeMatch match;
    int port;
    std::unique_ptr<ChildProcess> server;
    int clients = 0;
};

// The one JSON line a fakegame client prints on stdout.
inline nlohmann::json client_result(const ChildProcess& client) {
    const auto text = client.stdout_text();
    const auto parsed = nlohmann::json::parse(text, nullptr, false);
    return parsed.is_discarded() ? nlohmann::json{{"unparsable_stdout", text}} : parsed;
}

}  // namespace gamestore::fakegame_test

// REQUIRE that also shows the server's stderr (read when the check runs, so
// it holds the server's own account of what happened).
#define REQUIRE_LOGGED(run, expr)                                                  \
    do {                                                                           \
        const bool ok_ = static_cast<bool>(expr);                                  \
        INFO(#expr << "\n--- fakegame server stderr ---\n" << (run).server_log()); \
        REQUIRE(ok_);                                                              \
    } while (0)
