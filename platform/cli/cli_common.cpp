#include "platform/cli/cli_common.hpp"

#include <cctype>
#include <iostream>

#include "platform/net/channel.hpp"

namespace gamestore::cli {

namespace {
std::string& program_name_storage() {
    static std::string name = "gamestore";
    return name;
}
}  // namespace

void set_program_name(std::string name) {
    program_name_storage() = std::move(name);
}

const std::string& program_name() {
    return program_name_storage();
}

void add_common_options(CLI::App& app, CommonOptions& options) {
    app.add_option("--server", options.server, "lobby server HOST:PORT")
        ->envname("GAMESTORE_SERVER")
        ->capture_default_str();
    app.add_option("--user", options.user, "account name")->envname("GAMESTORE_USER");
    app.add_option("--home", options.home,
                   "where sessions (and, for players, installs) are kept "
                   "(default $XDG_DATA_HOME/gamestore or ~/.local/share/gamestore)")
        ->envname("GAMESTORE_HOME");
}

void connect_or_fail(client::SyncLobbyClient& client, const CommonOptions& options) {
    std::string error;
    const auto endpoint = net::parse_host_port(options.server, &error);
    if (!endpoint) {
        throw CliFailure(kExitUsage, "--server: " + as_sentence(error));
    }
    try {
        client.connect(endpoint->host, endpoint->port);
    } catch (const std::exception& e) {
        throw CliFailure(kExitUnreachable, as_sentence(e.what()));
    }
}

int exit_code_for(const protocol::Response& response) {
    if (response.error_code == "TIMEOUT") {
        return kExitUnreachable;
    }
    if (response.error_code == "UNAVAILABLE" &&
        (response.message.find("connection") != std::string::npos ||
         response.message.find("not connected") != std::string::npos)) {
        return kExitUnreachable;
    }
    return kExitRefused;
}

nlohmann::json require_ok(const protocol::Response& response, const std::string& what) {
    if (response.ok) {
        return response.data;
    }
    throw CliFailure(exit_code_for(response), what + " failed: " + as_sentence(response.message));
}

std::string as_sentence(std::string_view text) {
    std::string out(text);
    while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) {
        out.pop_back();
    }
    if (out.empty()) {
        return "No reason was given.";
    }
    out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    const char last = out.back();
    if (last != '.' && last != '!' && last != '?' && last != ')' && last != '"' && last != '\'') {
        out += '.';
    }
    return out;
}

int run_reporting_failures(const std::function<int()>& body) {
    try {
        return body();
    } catch (const CliFailure& failure) {
        std::cout.flush();
        std::cerr << program_name() << ": " << failure.what() << "\n";
        return failure.code();
    } catch (const std::exception& e) {
        std::cout.flush();
        std::cerr << program_name() << ": " << as_sentence(e.what()) << "\n";
        return kExitUsage;
    }
}

}  // namespace gamestore::cli
