#pragma once
// Runs the validate_game_package executable (the real CLI, exit codes and
// --json output included) on packages, several at once: every run has its
// own temp dir, loopback ports and process tree, so they do not interfere.

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gamestore::testing {

struct ValidatorRun {
    std::vector<std::string> args;  // after the executable
    int exit_code = -1;
    std::string output;       // stdout
    std::string errors;       // stderr
    nlohmann::json json;      // parsed stdout when --json was given and it parsed
    double seconds = 0.0;     // wall time
    bool temp_left_behind = false;  // a gamestore-validate-* dir remained in its TMPDIR

    std::set<std::string> checks_with(const std::string& status) const;
    std::string status_of(const std::string& check) const;
    // The whole run, for failure messages.
    std::string describe() const;
};

std::filesystem::path validator_binary();
std::filesystem::path fakegame_packages_dir();

// Runs every argument list, at most `parallel` at a time; results in order.
std::vector<ValidatorRun> run_validators(const std::vector<std::vector<std::string>>& runs, int parallel);
ValidatorRun run_validator(const std::vector<std::string>& args);

// "a,b" -> {a, b}; "-" -> {}.
std::set<std::string> split_names(const std::string& text);

// The rows of a tab-separated table: blank lines and '#' comments skipped,
// each row with its 1-based line number for failure messages.
struct TableRow {
    int line = 0;
    std::vector<std::string> columns;
};
std::vector<TableRow> read_table(const std::filesystem::path& file);

}  // namespace gamestore::testing
