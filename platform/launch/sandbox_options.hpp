#pragma once
// The sandbox's command-line options, shared by gamestore-server and
// validate_game_package so an admin and a developer set the same knobs the
// same way (docs/SERVER.md, docs/SECURITY.md).

#include "platform/launch/sandbox.hpp"

namespace CLI {
class App;
}

namespace gamestore::launch {

// Adds --sandbox, --sandbox-user, --sandbox-bwrap, --sandbox-init and the
// --game-* limits to `app`, each with its GAMESTORE_* environment variable
// (and so its --config key where the app has one), writing into `settings`.
// Call finish_sandbox_options() after parsing.
struct SandboxOptionValues {
    std::string mode = "bwrap";
    std::uint64_t file_size_mib = 0;
    std::uint64_t memory_mib = 0;
    std::uint64_t writable_mib = 0;
};
void add_sandbox_options(CLI::App& app, SandboxSettings& settings, SandboxOptionValues& values);
// Applies the parsed values; throws CLI::ValidationError for a bad mode.
void finish_sandbox_options(SandboxSettings& settings, const SandboxOptionValues& values);

}  // namespace gamestore::launch
