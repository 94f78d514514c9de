#include "platform/cli/scaffold.hpp"

#include <sys/stat.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "platform/cli/cli_common.hpp"
#include "platform/packages/manifest.hpp"

namespace gamestore::cli {

namespace fs = std::filesystem;

namespace {

std::string_view embedded(std::string_view name) {
    for (std::size_t i = 0; i < kEmbeddedFileCount; ++i) {
        if (kEmbeddedFiles[i].name == name) {
            return kEmbeddedFiles[i].content;
        }
    }
    throw CliFailure(kExitUsage, "This gamestore-dev was built without the scaffold file " + std::string(name) + ".");
}

std::string make_manifest(const std::string& game_name) {
    // Start from the SDK example's manifest so commands and timings stay in
    // step with the code they start; ordered_json keeps its field order.
    auto manifest = nlohmann::ordered_json::parse(embedded("manifest.json"));
    manifest["game_name"] = game_name;
    manifest["version"] = "0.1.0";
    manifest["description"] =
        "Each player picks a whole number; the highest number wins. Replace this with your game's "
        "description.";
    return manifest.dump(2) + "\n";
}

// The example server names its game in its reports; give it the new name.
std::string make_server(const std::string& game_name) {
    std::string server(embedded("server.py"));
    const std::string marker = "GAME_NAME = \"HigherNumber\"";
    const auto at = server.find(marker);
    if (at != std::string::npos) {
        // A JSON string literal (ASCII-escaped) is also a valid Python literal.
        server.replace(at, marker.size(), "GAME_NAME = " + nlohmann::json(game_name).dump(-1, ' ', true));
    }
    return server;
}

std::string make_readme(const std::string& game_name) {
    return "# " + game_name +
           "\n\n"
           "A game package for gamestore, started from the Python SDK's reference game\n"
           "(players each pick a whole number; the highest wins).\n\n"
           "- `manifest.json`: how the platform starts the game server and each player's client.\n"
           "- `server.py`: the game server. It reads its launch environment, listens, reports\n"
           "  STARTED, sends heartbeats and reports END with every player's result.\n"
           "- `client.py`: the game client. It connects with the v1 handshake and plays.\n"
           "- `gamestore_sdk.py`: the SDK (standard library only), vendored so the package\n"
           "  runs anywhere Python 3 does.\n\n"
           "Check it: `validate_game_package .`\n"
           "Publish it: `gamestore-dev publish .` (bump `version` in manifest.json for every release).\n";
}

void write_file(const fs::path& path, std::string_view content, fs::perms perms) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) {
        throw CliFailure(kExitUsage, "Cannot write " + path.string() + ".");
    }
    fs::permissions(path, perms, fs::perm_options::replace);
}

}  // namespace

std::vector<std::string> scaffold_package(const fs::path& dir, const std::string& game_name) {
    const std::string manifest = make_manifest(game_name);
    const auto parsed = packages::parse_manifest(manifest);
    if (!parsed.ok()) {
        std::string reasons;
        for (const auto& issue : parsed.issues) {
            reasons += " " + as_sentence(packages::format_issue(issue));
        }
        throw CliFailure(kExitUsage, "'" + game_name + "' cannot be used as a game name:" + reasons);
    }
    std::error_code ec;
    if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
        throw CliFailure(kExitUsage, dir.string() + " already exists and is not an empty directory; "
                                                    "choose a new one.");
    }
    fs::create_directories(dir, ec);
    if (ec) {
        throw CliFailure(kExitUsage, "Cannot create " + dir.string() + ": " + ec.message() + ".");
    }
    constexpr auto kReadable = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                               fs::perms::others_read;
    constexpr auto kExecutable = kReadable | fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec;
    write_file(dir / "manifest.json", manifest, kReadable);
    write_file(dir / "server.py", make_server(game_name), kExecutable);
    write_file(dir / "client.py", embedded("client.py"), kExecutable);
    write_file(dir / "gamestore_sdk.py", embedded("gamestore_sdk.py"), kReadable);
    write_file(dir / "README.md", make_readme(game_name), kReadable);
    return {"manifest.json", "server.py", "client.py", "gamestore_sdk.py", "README.md"};
}

}  // namespace gamestore::cli
