#pragma once
// gamestore-dev's commands. Each prints its result (JSON with `json`) and
// returns the exit code, or throws CliFailure with a sentence; the menus
// call the same functions.

#include <filesystem>
#include <string>

namespace gamestore::cli {
class ToolSession;
}  // namespace gamestore::cli

namespace gamestore::cli::developer {

struct PublishOptions {
    std::string notes;
    bool hidden = false;
};

enum class ScaffoldTemplate;

// Local only: writes a new package skeleton (see scaffold.hpp).
int init_package(const std::filesystem::path& dir, const std::string& game_name);
int init_package(const std::filesystem::path& dir, const std::string& game_name,
                 ScaffoldTemplate kind);

// Where validate_game_package is: next to this executable (installed side
// by side, as in build/bin/). Empty when it is not there (then PATH decides
// at launch).
std::filesystem::path find_validator();
// Checks locally (exit 2 listing every problem, nothing uploaded), then uploads.
int publish_package(ToolSession& session, const std::filesystem::path& input,
                    const PublishOptions& options);
int list_my_games(ToolSession& session, bool json);
int list_versions(ToolSession& session, const std::string& game, bool json);
int set_live_version(ToolSession& session, const std::string& game, const std::string& version);
int delist_game(ToolSession& session, const std::string& game);
int relist_game(ToolSession& session, const std::string& game);

}  // namespace gamestore::cli::developer
