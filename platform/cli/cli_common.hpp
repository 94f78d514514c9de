#pragma once
// What gamestore-dev and gamestore-player share: the --server/--user/--home/
// --json options, the exit-code convention of DESIGN.md 8 and turning a
// server refusal into a sentence.

#include <cstdint>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "platform/client/sync_client.hpp"

namespace gamestore::cli {

// Exit codes (DESIGN.md 8): scripts and tests rely on these.
enum ExitCode : int {
    kExitOk = 0,
    kExitRefused = 1,      // the server refused; the reason is printed
    kExitUsage = 2,        // usage or local error
    kExitUnreachable = 3,  // cannot reach the server
};

// Thrown by commands; main() prints the message and exits with the code.
class CliFailure : public std::runtime_error {
public:
    CliFailure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    int code() const { return code_; }

private:
    int code_;
};

struct CommonOptions {
    std::string server = "127.0.0.1:16534";
    std::string user;
    std::string home;
    bool json = false;
};

// Adds --server, --user, --home (and their GAMESTORE_* env) to the app.
void add_common_options(CLI::App& app, CommonOptions& options);

// Connects or throws CliFailure(kExitUnreachable) with a sentence.
void connect_or_fail(client::SyncLobbyClient& client, const CommonOptions& options);

// The response's data, or CliFailure(kExitRefused) carrying the server's
// sentence (and kExitUnreachable when the connection itself failed).
nlohmann::json require_ok(const protocol::Response& response, const std::string& what);

}  // namespace gamestore::cli
