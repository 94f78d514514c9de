#include "platform/cli/account.hpp"

#include <cstdlib>
#include <iostream>

#include "platform/cli/console.hpp"
#include "platform/cli/fs_util.hpp"
#include "platform/cli/text_table.hpp"
#include "platform/net/channel.hpp"

namespace gamestore::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Codes with which auth.resume says "this token is no good any more": the
// saved session is then forgotten and a password login follows.
bool is_stale_session(const protocol::Response& response) {
    return response.error_code == "UNAUTHENTICATED" || response.error_code == "NOT_FOUND" ||
           response.error_code == "BAD_REQUEST" || response.error_code == "FORBIDDEN";
}

std::string describe(const Identity& identity) {
    return std::string(role_name(identity.role)) + " account '" + identity.user + "'";
}

}  // namespace

std::string_view role_name(Role role) {
    return role == Role::Developer ? "developer" : "player";
}

fs::path resolve_home(const std::string& home_option) {
    if (!home_option.empty()) {
        return fs::absolute(home_option);
    }
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg == '/') {
        return fs::path(xdg) / "gamestore";
    }
    if (const char* home = std::getenv("HOME"); home && *home) {
        return fs::path(home) / ".local" / "share" / "gamestore";
    }
    throw CliFailure(kExitUsage, "Cannot tell where to keep your data: pass --home DIR or set GAMESTORE_HOME.");
}

fs::path Identity::user_dir() const {
    return home / std::string(role_name(role)) / user;
}

Identity identify(const CommonOptions& options, Role role, Console* console) {
    Identity identity;
    identity.role = role;
    identity.home = resolve_home(options.home);
    identity.user = options.user;
    if (identity.user.empty() && console) {
        auto line = console->read_line("Account name: ");
        if (!line) {
            throw CliFailure(kExitUsage, "No account name was given.");
        }
        identity.user = *line;
    }
    if (identity.user.empty()) {
        throw CliFailure(kExitUsage, "No account name: pass --user NAME or set GAMESTORE_USER.");
    }
    if (!is_safe_component(identity.user)) {
        throw CliFailure(kExitUsage, "'" + identity.user +
                                         "' cannot be an account name: it must not be empty, '.', '..' "
                                         "or contain '/'.");
    }
    return identity;
}

std::optional<SavedSession> load_session(const Identity& identity) {
    const auto file = identity.session_file();
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
        return std::nullopt;
    }
    try {
        const auto document = json::parse(read_small_file(file, 64 * 1024));
        SavedSession session;
        session.token = document.at("token").get<std::string>();
        session.server = document.value("server", "");
        if (session.token.empty()) {
            return std::nullopt;
        }
        return session;
    } catch (const json::exception&) {
        // A damaged file is as good as none: the next login replaces it.
        return std::nullopt;
    }
}

void save_session(const Identity& identity, const std::string& server, const std::string& token) {
    ensure_private_dir(identity.user_dir());
    const json document = {{"role", role_name(identity.role)},
                           {"user", identity.user},
                           {"server", server},
                           {"token", token}};
    write_file_atomically(identity.session_file(), document.dump(2) + "\n", 0600);
}

void forget_session(const Identity& identity) {
    std::error_code ec;
    fs::remove(identity.session_file(), ec);
}

std::string obtain_password(Console& console, const Identity& identity, bool confirm) {
    if (const char* env = std::getenv("GAMESTORE_PASSWORD"); env && *env) {
        return env;
    }
    if (!console.input_is_terminal()) {
        throw CliFailure(kExitUsage, "No password for the " + describe(identity) +
                                         ": set GAMESTORE_PASSWORD or run " + program_name() +
                                         " on a terminal to type it.");
    }
    auto password = console.read_secret(confirm ? "Choose a password: " : "Password for " + identity.user + ": ");
    if (!password || password->empty()) {
        throw CliFailure(kExitUsage, "No password was typed.");
    }
    if (confirm) {
        auto again = console.read_secret("Type it again: ");
        if (!again || *again != *password) {
            throw CliFailure(kExitUsage, "The two passwords differ; nothing was changed.");
        }
    }
    return *password;
}

json log_in_fresh(client::SyncLobbyClient& client, const CommonOptions& options, const Identity& identity,
                  Console& console) {
    const std::string password = obtain_password(console, identity, false);
    const auto data = require_ok(
        client.call("auth.login",
                    {{"role", role_name(identity.role)}, {"name", identity.user}, {"password", password}}),
        "Signing in as the " + describe(identity));
    const auto token = string_or(data, "token", "");
    if (token.empty()) {
        throw CliFailure(kExitRefused, "The server signed us in but sent no session token.");
    }
    save_session(identity, options.server, token);
    return object_or_empty(data, "account");
}

SignedInClient::SignedInClient(const CommonOptions& options, const Identity& identity, Console& console)
    : client_(std::make_unique<client::SyncLobbyClient>()), identity_(identity) {
    connect_or_fail(*client_, options);
    if (auto saved = load_session(identity_)) {
        auto response = client_->call("auth.resume", {{"token", saved->token}});
        if (response.ok) {
            const auto account = object_or_empty(response.data, "account");
            if (string_or(account, "name", "") == identity_.user &&
                string_or(account, "role", "") == role_name(identity_.role)) {
                account_ = account;
                return;
            }
            // A token for someone else (a hand-edited file): never act as them.
            client_->call("auth.logout");
        } else if (!is_stale_session(response)) {
            require_ok(response, "Resuming the saved session");
        }
        forget_session(identity_);
    }
    account_ = log_in_fresh(*client_, options, identity_, console);
    used_password_ = true;
}

SignedInClient::~SignedInClient() = default;

protocol::Response SignedInClient::call_raw(const std::string& op, const json& args,
                                            client::CallOptions call_options) {
    auto response = client_->call(op, args, call_options);
    for (int hop = 0; hop < protocol::kMaxRedirects; ++hop) {
        std::string malformed;
        const auto redirect = protocol::redirect_of(response, &malformed);
        if (!redirect) {
            if (!malformed.empty()) {
                throw CliFailure(kExitRefused, as_sentence(malformed));
            }
            return response;
        }
        follow(*redirect);
        response = client_->call(op, args, call_options);
    }
    return response;
}

void SignedInClient::follow(const protocol::Redirect& redirect) {
    const std::string where = "node " + redirect.node_id + " (" + redirect.address + ")";
    std::string error;
    const auto endpoint = net::parse_host_port(redirect.address, &error);
    if (!endpoint) {
        throw CliFailure(kExitRefused, "The server sent us to " + where +
                                           ", an address we cannot use: " + as_sentence(error));
    }
    try {
        client_->connect(endpoint->host, endpoint->port);
    } catch (const std::exception& e) {
        throw CliFailure(kExitUnreachable,
                         "The server sent us to " + where +
                             ", which cannot be reached: " + as_sentence(e.what()));
    }
    const auto saved = load_session(identity_);
    if (!saved) {
        throw CliFailure(kExitRefused, "The server sent us to " + where +
                                           ", but there is no saved session to resume there.");
    }
    require_ok(client_->call("auth.resume", {{"token", saved->token}}),
               "Resuming the session on " + where);
}

json SignedInClient::call(const std::string& op, const json& args, const std::string& what,
                          client::CallOptions call_options) {
    return require_ok(call_raw(op, args, std::move(call_options)), what);
}

void register_account(const CommonOptions& options, const Identity& identity, Console& console) {
    const std::string password = obtain_password(console, identity, true);
    client::SyncLobbyClient client;
    connect_or_fail(client, options);
    require_ok(client.call("auth.register",
                           {{"role", role_name(identity.role)}, {"name", identity.user}, {"password", password}}),
               "Creating the " + describe(identity));
    // Registering does not sign in; do it now so the next command just works.
    const auto data = require_ok(
        client.call("auth.login",
                    {{"role", role_name(identity.role)}, {"name", identity.user}, {"password", password}}),
        "Signing in as the new " + describe(identity));
    save_session(identity, options.server, string_or(data, "token", ""));
    std::cout << "Created the " << describe(identity) << " and signed in.\n";
}

void log_out(const CommonOptions& options, const Identity& identity) {
    const auto saved = load_session(identity);
    if (!saved) {
        std::cout << "Not signed in as the " << describe(identity) << " on this machine; nothing to do.\n";
        return;
    }
    client::SyncLobbyClient client;
    try {
        connect_or_fail(client, options);
    } catch (const CliFailure& failure) {
        forget_session(identity);
        throw CliFailure(failure.code(), std::string(failure.what()) +
                                             " The saved session was deleted here; the server ends it when it "
                                             "expires.");
    }
    auto resumed = client.call("auth.resume", {{"token", saved->token}});
    if (resumed.ok) {
        require_ok(client.call("auth.logout"), "Signing out");
    } else if (!is_stale_session(resumed)) {
        require_ok(resumed, "Signing out");
    }
    forget_session(identity);
    std::cout << "Signed out of the " << describe(identity) << ".\n";
}

void watch_session(Console& console, SignedInClient& session,
                   std::function<void(const protocol::Event&)> on_event) {
    // Shared between the two handlers: the revocation arrives just before the close.
    auto revoked_reason = std::make_shared<std::optional<std::string>>();
    console.watch(
        &session.raw(),
        [revoked_reason, on_event = std::move(on_event)](const protocol::Event& event) {
            if (event.name == "session.revoked") {
                *revoked_reason = string_or(event.data, "reason", "another sign-in replaced this session");
                return;
            }
            if (on_event) {
                on_event(event);
            }
        },
        [revoked_reason] {
            if (*revoked_reason) {
                throw SessionEnded(kExitRefused, "The server ended this session: " + as_sentence(**revoked_reason));
            }
            throw SessionEnded(kExitUnreachable, "The connection to the server was lost.");
        });
}

AccountCommands add_account_commands(CLI::App& app) {
    AccountCommands commands;
    commands.account = app.add_subcommand("account", "create an account, sign in or sign out");
    commands.account->require_subcommand(1);
    commands.register_cmd = commands.account->add_subcommand("register", "create an account (--user) and sign in");
    commands.login = commands.account->add_subcommand("login", "sign in with the password and save the session");
    commands.logout = commands.account->add_subcommand("logout", "end the session and delete the saved token");
    return commands;
}

int run_account_command(const AccountCommands& commands, const CommonOptions& options, Role role,
                        Console& console) {
    // Ask for a missing account name only where someone can answer.
    Console* prompt_console = console.input_is_terminal() ? &console : nullptr;
    const Identity identity = identify(options, role, prompt_console);
    if (*commands.register_cmd) {
        register_account(options, identity, console);
        return kExitOk;
    }
    if (*commands.login) {
        client::SyncLobbyClient client;
        connect_or_fail(client, options);
        log_in_fresh(client, options, identity, console);
        std::cout << "Signed in as the " << describe(identity) << ".\n";
        return kExitOk;
    }
    log_out(options, identity);
    return kExitOk;
}

}  // namespace gamestore::cli
