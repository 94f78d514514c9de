#include "platform/cli/tool_session.hpp"

#include <iostream>

#include <nlohmann/json.hpp>

namespace gamestore::cli {

ToolSession::ToolSession(CommonOptions options, Role role, Console& console, bool interactive)
    : options_(std::move(options)), role_(role), console_(console), interactive_(interactive) {}

const Identity& ToolSession::identity() {
    if (!identity_) {
        Console* prompt = (interactive_ || console_.input_is_terminal()) ? &console_ : nullptr;
        identity_ = identify(options_, role_, prompt);
    }
    return *identity_;
}

SignedInClient& ToolSession::server() {
    if (!server_) {
        server_ = std::make_unique<SignedInClient>(options_, identity(), console_);
        if (role_ == Role::Player) {
            // gamestore-player lists rooms when asked (room.list) and never
            // keeps a copy of the lobby: the deltas would only pile up
            // unread while it installs or waits.
            server_->call_raw("lobby.watch", {{"on", false}});
        }
    }
    return *server_;
}

bool sign_in_interactively(ToolSession& session) {
    const auto& identity = session.identity();
    if (load_session(identity)) {
        session.server();
        return true;
    }
    bool signed_in = false;
    const std::string role(role_name(session.role()));
    const bool more = run_menu(
        session.console(), [&] { return "Welcome, " + identity.user + ". You are not signed in on this machine."; },
        {
            {"Sign in", [&] {
                 session.server();
                 signed_in = true;
                 return MenuStep::Leave;
             }},
            {"Create a new " + role + " account", [&] {
                 register_account(session.options(), identity, session.console());
                 session.server();
                 signed_in = true;
                 return MenuStep::Leave;
             }},
            {"Quit", [] { return MenuStep::Leave; }},
        });
    return more && signed_in;
}

void sign_out_interactively(ToolSession& session) {
    // On this connection, so the server ends exactly this session; stop
    // watching first: the connection is about to go.
    session.console().watch(nullptr, nullptr, nullptr);
    session.server().call("auth.logout", nlohmann::json::object(), "Signing out");
    forget_session(session.identity());
    session.drop_server();
    std::cout << "Signed out of the " << role_name(session.role()) << " account '" << session.identity().user
              << "'.\n";
}

}  // namespace gamestore::cli
