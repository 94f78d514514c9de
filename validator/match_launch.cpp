#include "validator/match_launch.hpp"

#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "platform/protocol/redact.hpp"

namespace gamestore::validator {

namespace fs = std::filesystem;

std::string random_hex(std::size_t bytes) {
    static const bool ready = sodium_init() >= 0;
    if (!ready) {
        throw std::runtime_error("libsodium could not be initialised");
    }
    std::vector<unsigned char> raw(bytes);
    randombytes_buf(raw.data(), raw.size());
    std::string hex(bytes * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
    hex.pop_back();
    return hex;
}

std::string new_match_id() {
    return "m-" + random_hex(12);
}

std::string redact_secrets(std::string text, const std::vector<std::string>& secrets) {
    for (const auto& secret : secrets) {
        if (secret.empty()) {
            continue;
        }
        const std::string shown = protocol::redact_token(secret);
        for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + shown.size())) {
            text.replace(at, secret.size(), shown);
        }
    }
    return text;
}

namespace {

// The kernel's ephemeral range (outgoing connections and bind(0) draw from it).
std::pair<unsigned, unsigned> ephemeral_range() {
    unsigned low = 32768, high = 60999;
    if (std::FILE* file = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
        unsigned a = 0, b = 0;
        if (std::fscanf(file, "%u %u", &a, &b) == 2 && a <= b) {
            low = a;
            high = b;
        }
        std::fclose(file);
    }
    return {low, high};
}

bool can_bind_any(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::runtime_error(std::string("cannot create a socket: ") + std::strerror(errno));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(port);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

std::uint16_t find_free_port() {
    // A port from the ephemeral range would be free now and could be taken by
    // any outgoing connection on this machine before the game binds it (seen
    // in CI: the game failed to listen 26 ms later). Ports below that range are
    // only ever taken by explicit binds, so draw at random from there.
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium could not be initialised");
    }
    const auto [ephemeral_low, ephemeral_high] = ephemeral_range();
    unsigned low = 10000, high = ephemeral_low > 10001 ? ephemeral_low - 1 : 0;
    if (high <= low) {  // unusual ranges: use the space above it instead
        low = ephemeral_high + 1;
        high = 65535;
    }
    for (int attempt = 0; attempt < 200 && low < high; ++attempt) {
        const auto port = static_cast<std::uint16_t>(low + randombytes_uniform(high - low + 1));
        if (can_bind_any(port)) {
            return port;
        }
    }
    throw std::runtime_error("cannot find a free TCP port outside the ephemeral range " +
                             std::to_string(ephemeral_low) + "-" + std::to_string(ephemeral_high));
}

ServerMatch prepare_server_match(const fs::path& match_dir, int players, std::uint16_t port,
                                 std::uint16_t report_port) {
    ServerMatch match;
    auto& context = match.context;
    context.room_id = 1;
    context.match_id = new_match_id();
    context.port = port;
    context.host = "127.0.0.1";
    context.bind_host = "0.0.0.0";  // the platform's default bind address
    context.report_host = "127.0.0.1";
    context.report_port = report_port;
    context.client_token = random_hex(16);
    context.report_token = random_hex(16);
    for (int i = 1; i <= players; ++i) {
        context.players.push_back("player" + std::to_string(i));
    }
    context.match_dir = match_dir;
    context.client_token_path = match_dir / "client_token";
    context.report_token_path = match_dir / "report_token";
    context.players_json_path = match_dir / "players.json";
    launch::create_private_dir(match_dir);
    launch::write_private_file(context.client_token_path, context.client_token);
    launch::write_private_file(context.report_token_path, context.report_token);
    launch::write_private_file(context.players_json_path, nlohmann::json(context.players).dump());
    match.marker = "MATCH_ID=" + context.match_id;
    return match;
}

std::variant<launch::GameServerLaunch, std::string> server_launch(
    const packages::Manifest& manifest, const ServerMatch& match, const fs::path& package_root,
    const launch::Sandbox& sandbox) {
    std::uint64_t package_bytes = 0;
    if (sandbox.mode() == launch::SandboxMode::Bwrap) {
        try {
            package_bytes = launch::package_view_bytes(package_root);
        } catch (const std::exception& e) {
            return std::string("the package could not be read: ") + e.what();
        }
    }
    return launch::prepare_game_server(manifest, match.context, package_root, package_bytes,
                                       sandbox);
}

ClientLaunch prepare_client(const fs::path& client_dir, const ServerMatch& match, const std::string& player_name,
                            const std::string& host, std::uint16_t port) {
    ClientLaunch client;
    auto& context = client.context;
    context.room_id = match.context.room_id;
    context.match_id = match.context.match_id;
    context.host = host;
    context.port = port;
    context.client_token = match.context.client_token;
    context.players = match.context.players;
    context.player_name = player_name;
    context.match_dir = client_dir;
    context.client_token_path = client_dir / "client_token";
    launch::create_private_dir(client_dir);
    launch::write_private_file(context.client_token_path, context.client_token);
    return client;
}

std::variant<launch::ProcessSpec, std::string> client_process_spec(const packages::Manifest& manifest,
                                                                  const ClientLaunch& client,
                                                                  const fs::path& package_root) {
    packages::LaunchSpec spec;
    try {
        spec = packages::render_client_launch(manifest, client.context, package_root);
    } catch (const std::exception& e) {
        return std::string("the client command could not be rendered: ") + e.what();
    }
    if (packages::argv_contains_secret(spec.argv, {client.context.client_token})) {
        return std::string("refusing to launch: the client token would appear in the client's argv");
    }
    spec.env.emplace_back("GAMESTORE_BOT", "1");
    launch::ProcessSpec process;
    process.argv = std::move(spec.argv);
    process.env = launch::environment_with(launch::base_environment(), spec.env);
    process.cwd = spec.cwd;
    process.new_session = false;
    process.new_process_group = true;
    process.inherit_stdin = false;
    return process;
}

}  // namespace gamestore::validator
