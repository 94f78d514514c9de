#pragma once
// Launching a package's game server and clients the way the platform and
// gamestore-player do: fresh random tokens and match_id, a private match
// directory (0700) with the token files and players.json (0600), argv and env
// rendered by platform/packages, spawned by platform/launch. Only the values
// the validator controls differ: its own control plane, a free port.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "platform/launch/game_server.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/packages/command_template.hpp"
#include "platform/packages/manifest.hpp"

namespace gamestore::validator {

// `bytes` random bytes as lowercase hex (libsodium randombytes_buf).
std::string random_hex(std::size_t bytes);
// A fresh match id in the platform's format: "m-" + 24 hex digits.
std::string new_match_id();

// `text` with every occurrence of each non-empty secret replaced by its
// redacted form (6 characters + "…"): what the game sends or prints is shown
// to the developer, its tokens never are.
std::string redact_secrets(std::string text, const std::vector<std::string>& secrets);

// A TCP port nothing is bound to right now, drawn at random from below the
// kernel's ephemeral range so outgoing connections cannot take it meanwhile.
// Throws std::runtime_error.
std::uint16_t find_free_port();

// The server side of one match, as the platform prepares it.
struct ServerMatch {
    packages::LaunchContext context;  // room 1, player1..playerN, tokens, paths
    std::string marker;               // "MATCH_ID=<match_id>": how escaped processes are found
};

// Creates `match_dir` (0700) with client_token, report_token and players.json
// (0600) and fills the context. Throws on I/O errors.
ServerMatch prepare_server_match(const std::filesystem::path& match_dir, int players, std::uint16_t port,
                                 std::uint16_t report_port);

// The game server's launch, exactly as the platform prepares it
// (launch::prepare_game_server in `sandbox`): a new session, output left to
// the caller. A sentence when it cannot be launched (render failure, a token
// would be in argv, the sandbox refused).
std::variant<launch::GameServerLaunch, std::string> server_launch(
    const packages::Manifest& manifest, const ServerMatch& match,
    const std::filesystem::path& package_root, const launch::Sandbox& sandbox);

// What the player's launcher knows about one player of the match.
struct ClientLaunch {
    packages::LaunchContext context;
};

// Creates `client_dir` (0700) with the client_token file (0600) and the
// client's context: HOST/PORT to connect to, its player name, the client
// token. Throws on I/O errors.
ClientLaunch prepare_client(const std::filesystem::path& client_dir, const ServerMatch& match,
                            const std::string& player_name, const std::string& host, std::uint16_t port);

// The game client's process spec as gamestore-player launches it
// (render_client_launch, base environment, no new session but a process
// group of its own, stdin from /dev/null) plus GAMESTORE_BOT=1, which tells
// reference games to play by themselves.
std::variant<launch::ProcessSpec, std::string> client_process_spec(const packages::Manifest& manifest,
                                                                  const ClientLaunch& client,
                                                                  const std::filesystem::path& package_root);

}  // namespace gamestore::validator
