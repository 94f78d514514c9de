#pragma once
// Manifest v2: the `manifest.json` at the root of every game package.
// Parsing validates everything a static check can (docs/MANIFEST.md is the
// reference for game developers) and reports every problem at once, each with
// the JSON path it concerns, so a developer fixes a package in one round trip.

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gamestore::packages {

struct ManifestIssue {
    std::string path;     // JSON path, e.g. "server.command" or "server.env.PORT"; "" = whole file
    std::string message;  // a sentence a game developer can act on
};

// "server.command: must not be empty"
std::string format_issue(const ManifestIssue& issue);

enum class GameType {
    Cli,  // gets the player's terminal
    Gui,  // runs in the background
};

std::string_view to_string(GameType type);  // "CLI" / "GUI"

// One process (server or client) as declared: argv templates, env templates
// and working directory. Templates still contain `{placeholders}`; rendering
// them is command_template.hpp's job.
struct ProcessTemplate {
    // Already split into argv (a string command is quote-split once at parse
    // time; a JSON array is taken as-is). Placeholders are not rendered yet.
    std::vector<std::string> argv;
    // Name -> value template, in the manifest's (alphabetical) order.
    std::vector<std::pair<std::string, std::string>> env;
    // Working directory relative to the package root; "" = the package root.
    std::string cwd;
};

struct HealthcheckTemplate {
    std::string tcp_port = "{port}";  // template; renders to a TCP port number
    double timeout_sec = 10.0;
    std::string host;       // template; "" = not set (try 127.0.0.1, then the advertised host)
    bool declared = false;  // false when the manifest had no healthcheck section
};

struct Manifest {
    std::string game_name;
    std::string version;  // strict SemVer 2.0 (protocol::parse_semver accepts it)
    GameType type = GameType::Cli;
    int max_players = 2;
    int min_players = 2;
    std::string description;
    int protocol_version = 1;

    ProcessTemplate server;
    ProcessTemplate client;
    double startup_timeout_sec = 10.0;    // server.startup_timeout
    double heartbeat_interval_sec = 5.0;  // server.heartbeat_interval_sec
    HealthcheckTemplate healthcheck;
};

struct ManifestResult {
    std::optional<Manifest> manifest;     // set exactly when `issues` is empty
    std::vector<ManifestIssue> issues;    // errors: the package is refused
    std::vector<ManifestIssue> warnings;  // shown by the validator, never fatal
    bool ok() const { return issues.empty(); }
};

// Largest manifest.json we read; real ones are a few hundred bytes.
inline constexpr std::size_t kMaxManifestBytes = 1024 * 1024;

ManifestResult parse_manifest(std::string_view json_text);
ManifestResult parse_manifest_json(const nlohmann::json& document);
// Reads and parses a manifest.json file (unreadable or oversized files become issues).
ManifestResult load_manifest(const std::filesystem::path& manifest_file);

// Checks against the unpacked package what the JSON alone cannot tell:
// - `cwd` exists and is a directory inside the package;
// - argv[0], when it is a relative path ("./server.py", "bin/server"), exists
//   inside the package, is a regular file and is executable;
// - later argv elements that look like package files (a relative path with a
//   '/' or a script extension such as .py .js .sh .jar, not an option and not
//   templated) exist;
// - no path escapes the package root (".." or a symlink pointing outside).
// Absolute paths and bare program names looked up in PATH ("python3") are
// accepted as they are. Relative paths are resolved against the process's
// working directory (package root + cwd), exactly as the launcher runs them.
std::vector<ManifestIssue> check_referenced_files(const Manifest& manifest,
                                                  const std::filesystem::path& package_root);

}  // namespace gamestore::packages
