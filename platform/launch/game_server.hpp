#pragma once
// One way to start a package's game server, shared by the platform and
// validate_game_package: render the manifest's command for the match as the
// game will see it (inside the sandbox: its package at /sandbox/game, its
// match files at /match), refuse a launch that would put a token in argv,
// and wrap it in the sandbox.

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "platform/launch/sandbox.hpp"
#include "platform/packages/command_template.hpp"
#include "platform/packages/manifest.hpp"

namespace gamestore::launch {

// `base` with `extra` on top: an entry of the same name takes extra's value
// (the platform's variables win over the base environment).
std::vector<std::pair<std::string, std::string>> environment_with(
    std::vector<std::pair<std::string, std::string>> base,
    const std::vector<std::pair<std::string, std::string>>& extra);

struct GameServerLaunch {
    SandboxedLaunch sandboxed;
    std::vector<std::string> game_argv;  // the game's own argv, as rendered (no secrets)
};

// `context` describes the match with the host's paths (match_dir and the
// token and players files the launcher wrote there). `package_bytes` is
// package_view_bytes(package_root) (bwrap mode only; computed off the I/O
// thread by the caller). Output and session settings are left to the caller.
// A sentence when the launch cannot be prepared.
std::variant<GameServerLaunch, std::string> prepare_game_server(
    const packages::Manifest& manifest, const packages::LaunchContext& context,
    const std::filesystem::path& package_root, std::uint64_t package_bytes, const Sandbox& sandbox);

}  // namespace gamestore::launch
