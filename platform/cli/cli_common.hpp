#pragma once
// What gamestore-dev and gamestore-player share: the --server/--user/--home/
// --json options, the exit-code convention of docs/CLI.md and turning a
// server refusal into a sentence.

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "platform/client/sync_client.hpp"

namespace gamestore::cli {

// Exit codes (docs/CLI.md, "Exit codes"): scripts and tests rely on these.
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

// The connection or the session is gone for good (server closed it, another
// login revoked it): menus stop instead of offering actions that cannot work.
class SessionEnded : public CliFailure {
public:
    using CliFailure::CliFailure;
};

struct CommonOptions {
    std::string server = "127.0.0.1:16534";
    std::string user;
    std::string home;
    bool json = false;
};

// The tool's name for messages ("gamestore-dev"); main() sets it first.
void set_program_name(std::string name);
const std::string& program_name();

// Adds --server, --user, --home (and their GAMESTORE_* env) to the app.
void add_common_options(CLI::App& app, CommonOptions& options);

// Connects or throws CliFailure(kExitUnreachable) with a sentence.
void connect_or_fail(client::SyncLobbyClient& client, const CommonOptions& options);

// The response's data, or CliFailure(kExitRefused) carrying the server's
// sentence (and kExitUnreachable when the connection itself failed).
// `what` names the action: "Publishing the package" -> "Publishing the
// package failed: <server's sentence>".
nlohmann::json require_ok(const protocol::Response& response, const std::string& what);

// The exit code a failed response maps to: kExitUnreachable when no server
// answered (connection lost, deadline passed), else kExitRefused.
int exit_code_for(const protocol::Response& response);

// Capitalises the first letter and ends the text with a full stop unless it
// already ends with punctuation: library and server texts become sentences.
std::string as_sentence(std::string_view text);

// Runs a command body and turns CliFailure into the message on stderr
// ("gamestore-dev: <sentence>") and its exit code; any other exception is a
// local error (exit 2).
int run_reporting_failures(const std::function<int()>& body);

}  // namespace gamestore::cli
