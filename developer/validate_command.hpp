#pragma once
// `gamestore-dev validate PACKAGE [options]`: every option of
// validate_game_package (docs/VALIDATOR.md), declared here with the same
// names, meanings and ranges and passed through to it unchanged, so the two
// commands take the same flags and give the same verdict (exit 0/1/2).

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
}

namespace gamestore::cli::developer {

struct ValidateCommand {
    std::string package;  // directory or zip
    // Values exactly as typed (the validator parses them again); unset ones
    // are not passed, so the validator's defaults apply.
    std::optional<std::string> players;
    bool no_clients = false;
    bool json = false;
    std::optional<std::string> junit;
    std::optional<std::string> grace;
    std::optional<std::string> heartbeat_cycles;
    std::optional<std::string> timeout_scale;
    std::optional<std::string> match_timeout;
    std::optional<std::string> max_package_bytes;
    std::optional<std::string> max_package_entries;
    std::optional<std::string> max_package_uncompressed;
    bool static_only = false;
    bool keep_temp = false;
    // Repeatable and sandbox options (--client-input, --sandbox, --sandbox-*,
    // --game-*): flag -> value as typed, for the ones given, in order.
    std::vector<std::pair<std::string, std::string>> passed_through;
};

// Adds the `validate` subcommand to `app`, writing into `command`.
CLI::App* add_validate_command(CLI::App& app, ValidateCommand& command);

// validate_game_package's arguments after the program name: the package (as
// an absolute path) and every option that was given.
std::vector<std::string> validator_arguments(const ValidateCommand& command);

// Runs validate_game_package with validator_arguments() and returns its exit
// code (0 passed, 1 a check failed, 2 not checkable). Throws CliFailure when
// the package does not exist or the validator cannot be run.
int run_validate_command(const ValidateCommand& command);

}  // namespace gamestore::cli::developer
