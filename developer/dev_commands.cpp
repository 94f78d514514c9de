#include "developer/dev_commands.hpp"

#include <chrono>
#include <iostream>

#include <nlohmann/json.hpp>

#include "developer/package_check.hpp"
#include "developer/scaffold.hpp"
#include "platform/cli/progress.hpp"
#include "platform/cli/text_table.hpp"
#include "platform/cli/tool_session.hpp"
#include "platform/packages/sha256.hpp"

namespace gamestore::cli::developer {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Generous: the deadline only catches a server that stopped answering. It
// covers the upload and the server's validation of the package.
std::chrono::milliseconds upload_timeout(std::uint64_t bytes) {
    return std::chrono::milliseconds(120'000 + bytes / 256);  // 2 min + 256 KiB/s
}

std::string bullet_list(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) {
        text += "\n  - " + line;
    }
    return text;
}

// INVALID_PACKAGE details.reasons -> one line each: "[manifest] server.command: ... (code)".
std::vector<std::string> refusal_reasons(const json& details) {
    std::vector<std::string> lines;
    for (const auto& reason : array_or_empty(details, "reasons")) {
        std::string line = "[" + string_or(reason, "source", "package") + "] ";
        const std::string where = string_or(reason, "where", "");
        if (!where.empty()) {
            line += where + ": ";
        }
        line += string_or(reason, "message", "no explanation given");
        const std::string code = string_or(reason, "code", "");
        if (!code.empty()) {
            line += " (" + code + ")";
        }
        lines.push_back(std::move(line));
    }
    return lines;
}

std::string describe_summary(const json& game) {
    const std::string name = string_or(game, "name", "?");
    const std::string live = string_or(game, "live_version", "");
    std::string text = name + (live.empty() ? " has no live version" : " " + live + " is live");
    if (bool_or(game, "delisted", false)) {
        text += " (delisted)";
    }
    return text;
}

}  // namespace

int init_package(const fs::path& dir, const std::string& game_name) {
    return init_package(dir, game_name, ScaffoldTemplate::Python);
}

int init_package(const fs::path& dir, const std::string& game_name, ScaffoldTemplate kind) {
    const std::string name =
        game_name.empty() ? fs::absolute(dir).lexically_normal().filename().string() : game_name;
    const auto files = scaffold_package(dir, name, kind);
    std::cout << "Created a package for " << name << " 0.1.0 in " << dir.string() << ":\n";
    for (const auto& file : files) {
        std::cout << "  " << file << "\n";
    }
    if (kind == ScaffoldTemplate::Cpp) {
        std::cout << "Build bin/server and bin/client first (see " << (dir / "README.md").string()
                  << "), e.g. in " << dir.string() << ":\n"
                  << "  mkdir -p bin\n"
                  << "  g++ -std=c++20 -O2 -pthread -Iinclude src/server.cpp -o bin/server\n"
                  << "  g++ -std=c++20 -O2 -pthread -Iinclude src/client.cpp -o bin/client\n";
        std::cout << "Then check it with `" << program_name() << " validate " << dir.string()
                  << "` (add --players 2 to play a match with its clients too), publish it with `"
                  << program_name() << " publish " << dir.string() << "`.\n";
        return kExitOk;
    }
    std::cout << "Check it with `" << program_name() << " validate " << dir.string()
              << "` (add --players 2 to play a match with its clients too), publish it with `"
              << program_name() << " publish " << dir.string() << "`.\n";
    return kExitOk;
}

int publish_package(ToolSession& session, const fs::path& input, const PublishOptions& options) {
    const auto checked = check_package(input);
    for (const auto& warning : checked.warnings) {
        std::cerr << program_name() << ": warning: " << warning << "\n";
    }
    if (!checked.ok()) {
        throw CliFailure(kExitUsage, "The package " + input.string() + " has " +
                                         std::to_string(checked.problems.size()) +
                                         (checked.problems.size() == 1 ? " problem" : " problems") +
                                         "; nothing was uploaded:" + bullet_list(checked.problems));
    }
    const auto& manifest = *checked.manifest;
    const std::string label = manifest.game_name + " " + manifest.version;
    const std::uint64_t size = file_size_or_zero(checked.zip);
    const std::string sha256 = packages::sha256_file(checked.zip);

    auto& server = session.server();
    json args = {{"sha256", sha256}, {"hidden", options.hidden}};
    if (!options.notes.empty()) {
        args["notes"] = options.notes;
    }
    client::CallOptions call_options;
    call_options.timeout = upload_timeout(size);
    call_options.upload = client::Upload{checked.zip, 0, size};
    protocol::Response response;
    {
        ProgressBar bar("Uploading " + label, size);
        UploadProgress sampler(bar, size);
        response = server.call_raw("dev.publish", args, std::move(call_options));
        if (response.ok) {
            bar.update(size);
            bar.finish();
        }
    }
    if (!response.ok) {
        if (response.error_code == "INVALID_PACKAGE") {
            auto reasons = refusal_reasons(response.details);
            if (reasons.empty()) {
                reasons.push_back(as_sentence(response.message));
            }
            throw CliFailure(kExitRefused,
                             "The server refused " + label + ":" + bullet_list(reasons));
        }
        throw CliFailure(exit_code_for(response),
                         "Publishing " + label + " failed: " + as_sentence(response.message));
    }
    const auto& data = response.data;
    const auto game = object_or_empty(data, "game");
    const auto version = object_or_empty(data, "version");
    if (session.options().json) {
        std::cout << data.dump() << "\n";
        return kExitOk;
    }
    if (bool_or(data, "game_created", false)) {
        std::cout << "Created the game " << manifest.game_name << ".\n";
    }
    std::cout << "Published " << label << " (" << human_bytes(size) << ", sha256 " << sha256 << ")";
    if (bool_or(version, "live", false)) {
        std::cout << "; it is now live.\n";
    } else {
        const std::string live = string_or(game, "live_version", "");
        std::cout << "; it is hidden" << (live.empty() ? "" : ", " + live + " stays live") << ".\n";
    }
    return kExitOk;
}

int list_my_games(ToolSession& session, bool as_json) {
    const auto data = session.server().call("dev.games", json::object(), "Listing your games");
    const auto games = array_or_empty(data, "games");
    if (as_json) {
        std::cout << json{{"games", games}}.dump() << "\n";
        return kExitOk;
    }
    if (games.empty()) {
        std::cout << "You have not published any game yet; start one with `" << program_name()
                  << " init DIR`.\n";
        return kExitOk;
    }
    TextTable table({"GAME", "LIVE", "TYPE", "PLAYERS", "RATING", "STATE"});
    for (const auto& game : games) {
        table.add_row({string_or(game, "name", "?"), string_or(game, "live_version", "-"),
                       string_or(game, "type", "?"), format_players(game),
                       format_rating(object_or_empty(game, "rating")),
                       bool_or(game, "delisted", false) ? "delisted" : "listed"});
    }
    table.print(std::cout);
    return kExitOk;
}

int list_versions(ToolSession& session, const std::string& game, bool as_json) {
    const auto data =
        session.server().call("dev.versions", {{"game", game}}, "Listing the versions of " + game);
    const auto versions = array_or_empty(data, "versions");
    if (as_json) {
        std::cout << json{{"game", game}, {"versions", versions}}.dump() << "\n";
        return kExitOk;
    }
    if (versions.empty()) {
        std::cout << game << " has no versions.\n";
        return kExitOk;
    }
    TextTable table({"VERSION", "STATE", "SIZE", "PUBLISHED", "SHA256", "NOTES"});
    for (const auto& version : versions) {
        std::string state = bool_or(version, "live", false) ? "live" : "";
        if (bool_or(version, "hidden", false)) {
            state += state.empty() ? "hidden" : ", hidden";
        }
        table.add_row(
            {string_or(version, "version", "?"), state.empty() ? "-" : state,
             human_bytes(static_cast<std::uint64_t>(number_or(version, "size", 0))),
             format_unix_ms(version.contains("published_at") ? version["published_at"] : json()),
             string_or(version, "sha256", "").substr(0, 12), string_or(version, "notes", "")});
    }
    table.print(std::cout);
    return kExitOk;
}

int set_live_version(ToolSession& session, const std::string& game, const std::string& version) {
    const auto data = session.server().call("dev.set_live", {{"game", game}, {"version", version}},
                                            "Making " + game + " " + version + " live");
    std::cout << describe_summary(object_or_empty(data, "game")) << ".\n";
    return kExitOk;
}

int delist_game(ToolSession& session, const std::string& game) {
    session.server().call("dev.delist", {{"game", game}}, "Delisting " + game);
    std::cout << game
              << " is delisted: players no longer see it and no new rooms open; running matches "
                 "finish.\n";
    return kExitOk;
}

int relist_game(ToolSession& session, const std::string& game) {
    const auto data =
        session.server().call("dev.relist", {{"game", game}}, "Listing " + game + " again");
    std::cout << game << " is listed again; " << describe_summary(object_or_empty(data, "game"))
              << ".\n";
    return kExitOk;
}

}  // namespace gamestore::cli::developer
