#pragma once
// Accounts on the client side: where a user's state lives under --home, the
// saved session token (<home>/<role>/<user>/session.json, mode 0600), the
// sign-in flow (resume the saved token, else log in with a password from
// GAMESTORE_PASSWORD or a hidden prompt) and the `account register|login|
// logout` subcommands both tools share.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "platform/cli/cli_common.hpp"
#include "platform/protocol/redirect.hpp"

namespace gamestore::cli {

class Console;

enum class Role { Player, Developer };
std::string_view role_name(Role role);  // "player" / "developer" (the wire values)

// --home, else $XDG_DATA_HOME/gamestore, else ~/.local/share/gamestore.
// Throws CliFailure(kExitUsage) when none can be determined.
std::filesystem::path resolve_home(const std::string& home_option);

struct Identity {
    Role role = Role::Player;
    std::string user;
    std::filesystem::path home;

    std::filesystem::path user_dir() const;  // <home>/<role>/<user>
    std::filesystem::path session_file() const { return user_dir() / "session.json"; }
};

// The account name from --user/GAMESTORE_USER, else asked for on `console`
// when one is given (interactive mode or a terminal); else CliFailure(kExitUsage).
Identity identify(const CommonOptions& options, Role role, Console* console);

struct SavedSession {
    std::string token;
    std::string server;  // where it was issued, informational
};
std::optional<SavedSession> load_session(const Identity& identity);
void save_session(const Identity& identity, const std::string& server, const std::string& token);
void forget_session(const Identity& identity);

// GAMESTORE_PASSWORD, else a hidden prompt when stdin is a terminal (asked
// twice when `confirm`), else CliFailure(kExitUsage).
std::string obtain_password(Console& console, const Identity& identity, bool confirm);

// A connection signed in as one account. The constructor connects, then
// resumes the saved session or logs in with a password (saving the new
// token); every failure is a CliFailure with a sentence.
class SignedInClient {
public:
    SignedInClient(const CommonOptions& options, const Identity& identity, Console& console);
    ~SignedInClient();
    SignedInClient(const SignedInClient&) = delete;
    SignedInClient& operator=(const SignedInClient&) = delete;

    client::SyncLobbyClient& raw() { return *client_; }
    const Identity& identity() const { return identity_; }
    const nlohmann::json& account() const { return account_; }
    // True when this run typed/used a password (no saved session worked).
    bool logged_in_with_password() const { return used_password_; }

    // Both follow a cluster node's MOVED answer (at most twice): connect to
    // the node named, resume the session there and repeat the request; the
    // connection is then that node's. call = call_raw + require_ok.
    nlohmann::json call(const std::string& op, const nlohmann::json& args, const std::string& what,
                        client::CallOptions call_options = {});
    protocol::Response call_raw(const std::string& op, const nlohmann::json& args,
                                client::CallOptions call_options = {});

private:
  void follow(const protocol::Redirect& redirect);

  std::unique_ptr<client::SyncLobbyClient> client_;
  Identity identity_;
  nlohmann::json account_;
  bool used_password_ = false;
};

// Makes `console` show this session's events while it waits for input:
// `session.revoked` and a closed connection end the menus (SessionEnded with
// a sentence); every other event goes to `on_event` (may be empty).
void watch_session(Console& console, SignedInClient& session,
                   std::function<void(const protocol::Event&)> on_event);

// `account register|login|logout` under `app`.
struct AccountCommands {
    CLI::App* account = nullptr;
    CLI::App* register_cmd = nullptr;
    CLI::App* login = nullptr;
    CLI::App* logout = nullptr;
};
AccountCommands add_account_commands(CLI::App& app);
// Runs whichever of them was given; returns the exit code.
int run_account_command(const AccountCommands& commands, const CommonOptions& options, Role role,
                        Console& console);

// The individual actions, also used by the interactive menus.
void register_account(const CommonOptions& options, const Identity& identity, Console& console);
nlohmann::json log_in_fresh(client::SyncLobbyClient& client, const CommonOptions& options,
                            const Identity& identity, Console& console);
// Revokes the session on the server (when it can be reached) and deletes
// the saved token; prints what happened.
void log_out(const CommonOptions& options, const Identity& identity);

}  // namespace gamestore::cli
