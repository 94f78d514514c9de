#pragma once
// State one gamestore-player or gamestore-dev run works with: the options,
// the console, the account (resolved once) and a signed-in connection opened
// on first use, so local-only commands (uninstall, init) never need the
// server and a menu reuses one connection.

#include <memory>
#include <optional>

#include "platform/cli/account.hpp"
#include "platform/cli/cli_common.hpp"
#include "platform/cli/console.hpp"
#include "player/installer.hpp"

namespace gamestore::cli {

class ToolSession {
public:
    // `interactive`: the numbered menus are running, so a missing account
    // name may be asked for on stdin.
    ToolSession(CommonOptions options, Role role, Console& console, bool interactive);

    const CommonOptions& options() const { return options_; }
    Role role() const { return role_; }
    Console& console() { return console_; }
    bool interactive() const { return interactive_; }
    const Identity& identity();
    // Connects and signs in on first use.
    SignedInClient& server();
    bool has_server() const { return server_ != nullptr; }
    // Forgets the connection (after signing out).
    void drop_server() { server_.reset(); }

  private:
    CommonOptions options_;
    Role role_;
    Console& console_;
    bool interactive_;
    std::optional<Identity> identity_;
    std::unique_ptr<SignedInClient> server_;
};

// The start of both tools' menus: resumes the saved session, or offers
// "Sign in / Create a new account / Quit" when none is saved here. False
// when the user quit or input ended.
bool sign_in_interactively(ToolSession& session);

// The "Sign out" menu action: ends the session on this connection and
// forgets the saved token.
void sign_out_interactively(ToolSession& session);

}  // namespace gamestore::cli
