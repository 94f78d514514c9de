#include "player/player_store.hpp"

#include <iostream>

#include <nlohmann/json.hpp>

#include "platform/cli/progress.hpp"
#include "platform/cli/text_table.hpp"
#include "platform/cli/tool_session.hpp"
#include "platform/protocol/semver.hpp"

namespace gamestore::cli::player {

using nlohmann::json;

GameLibrary installed_games(ToolSession& session) {
    return GameLibrary(session.identity().user_dir());
}

namespace {

// store.show, or nullopt when the store does not know the game (never
// published, or delisted: players no longer see it).
std::optional<json> fetch_game(ToolSession& session, const std::string& game) {
    auto response = session.server().call_raw("store.show", {{"game", game}});
    if (!response.ok && response.error_code == "NOT_FOUND") {
        return std::nullopt;
    }
    return require_ok(response, "Looking up " + game + " in the store");
}

const json* find_version(const json& show, const std::string& version) {
    const auto it = show.find("versions");
    if (it == show.end() || !it->is_array()) {
        return nullptr;
    }
    for (const auto& entry : *it) {
        if (string_or(entry, "version", "") == version) {
            return &entry;
        }
    }
    return nullptr;
}

std::string available_versions(const json& show) {
    std::string list;
    if (show.contains("versions") && show["versions"].is_array()) {
        for (const auto& entry : show["versions"]) {
            list += (list.empty() ? "" : ", ") + string_or(entry, "version", "?");
        }
    }
    return list.empty() ? "none" : list;
}

// -1 / 0 / 1 by semver precedence; plain text order when either is not semver.
int compare_versions(const std::string& a, const std::string& b) {
    const auto va = protocol::parse_semver(a);
    const auto vb = protocol::parse_semver(b);
    if (va && vb) {
        return protocol::compare(*va, *vb);
    }
    return a.compare(b);
}

InstallStatus status_from(const InstalledGame& installed, const std::optional<json>& show) {
    InstallStatus status;
    if (!show) {
        status.code = "delisted";
        status.text = "no longer in the store";
        return status;
    }
    const auto& game = object_or_empty(*show, "game");
    if (bool_or(game, "delisted", false)) {
        status.code = "delisted";
        status.text = "delisted by its developer";
        return status;
    }
    const std::string live = string_or(game, "live_version", "");
    const json* live_version = live.empty() ? nullptr : find_version(*show, live);
    if (!live_version) {
        status.code = "unknown";
        status.text = "no live version in the store";
        return status;
    }
    status.live = *live_version;
    if (live == installed.version && string_or(*live_version, "sha256", "") == installed.sha256) {
        status.code = "up_to_date";
        status.text = "up to date";
    } else if (compare_versions(live, installed.version) >= 0) {
        status.code = "update_available";
        status.text = "update available: " + live;
    } else {
        // The developer set an older version live (a rollback): offer it too.
        status.code = "rollback_available";
        status.text = "rollback available: " + live;
    }
    return status;
}

void print_install_result(const InstallResult& result) {
    const auto& installed = result.installed;
    if (result.already_installed) {
        std::cout << installed.game << " " << installed.version << " is already installed.\n";
        return;
    }
    std::cout << "Installed " << installed.game << " " << installed.version << " ("
              << human_bytes(installed.size);
    if (result.previous_version) {
        std::cout << ", replacing " << *result.previous_version;
    }
    std::cout << ") in " << installed.package_root.string() << ".\n";
}

}  // namespace

InstallStatus install_status(ToolSession& session, const InstalledGame& installed) {
    return status_from(installed, fetch_game(session, installed.game));
}

json list_store_games(ToolSession& session) {
    json games = json::array();
    std::int64_t offset = 0;
    // store.list answers in pages (docs/PROTOCOL.md); each page moves the
    // offset forward, and a server can list at most `total` games.
    for (int page = 0; page < 100000; ++page) {
        const auto data = session.server().call("store.list", {{"offset", offset}, {"limit", 200}},
                                                "Listing the store");
        for (const auto& game : array_or_empty(data, "games")) {
            games.push_back(game);
        }
        if (!data.contains("next_offset") || !data["next_offset"].is_number_integer() ||
            data["next_offset"].get<std::int64_t>() <= offset) {
            break;
        }
        offset = data["next_offset"].get<std::int64_t>();
    }
    return games;
}

int store_list(ToolSession& session, bool as_json) {
    const json games = list_store_games(session);
    if (as_json) {
        std::cout << json{{"games", games}}.dump() << "\n";
        return kExitOk;
    }
    if (games.empty()) {
        std::cout << "The store has no games yet.\n";
        return kExitOk;
    }
    auto library = installed_games(session);
    TextTable table({"GAME", "VERSION", "TYPE", "PLAYERS", "RATING", "AUTHOR", "INSTALLED"});
    for (const auto& game : games) {
        const std::string name = string_or(game, "name", "?");
        const auto installed = library.find(name);
        table.add_row({name, string_or(game, "live_version", "-"), string_or(game, "type", "?"),
                       format_players(game), format_rating(object_or_empty(game, "rating")),
                       string_or(game, "author", "?"), installed ? installed->version : "-"});
    }
    table.print(std::cout);
    return kExitOk;
}

int store_show(ToolSession& session, const std::string& game, bool as_json) {
    const auto data = session.server().call("store.show", {{"game", game}},
                                            "Looking up " + game + " in the store");
    if (as_json) {
        std::cout << data.dump() << "\n";
        return kExitOk;
    }
    const auto summary = object_or_empty(data, "game");
    std::cout << string_or(summary, "name", game) << " "
              << string_or(summary, "live_version", "(no live version)") << " by "
              << string_or(summary, "author", "?") << " (" << string_or(summary, "type", "?")
              << ", " << format_players(summary) << " players)\n";
    const std::string description = string_or(summary, "description", "");
    if (!description.empty()) {
        std::cout << description << "\n";
    }
    std::cout << "Rating: " << format_rating(object_or_empty(summary, "rating")) << "\n";
    if (const auto installed = installed_games(session).find(game)) {
        std::cout << "Installed: " << installed->version << " ("
                  << status_from(*installed, data).text << ")\n";
    }
    std::cout << "\nVersions:\n";
    TextTable versions({"VERSION", "LIVE", "SIZE", "PUBLISHED", "NOTES"});
    for (const auto& version : array_or_empty(data, "versions")) {
        versions.add_row(
            {string_or(version, "version", "?"), bool_or(version, "live", false) ? "live" : "",
             human_bytes(static_cast<std::uint64_t>(number_or(version, "size", 0))),
             format_unix_ms((version.contains("published_at") ? version["published_at"] : json())),
             string_or(version, "notes", "")});
    }
    versions.print(std::cout);
    const auto reviews = array_or_empty(data, "reviews");
    std::cout << "\nRecent reviews:\n";
    if (reviews.empty()) {
        std::cout << "  none yet\n";
    }
    for (const auto& review : reviews) {
        const int stars = static_cast<int>(number_or(review, "rating", 0));
        std::cout << "  " << stars << "/5 by " << string_or(review, "author", "?") << " (version "
                  << string_or(review, "version", "?") << ", "
                  << format_unix_ms((review.contains("updated_at") ? review["updated_at"] : json()))
                  << ")";
        const std::string text = string_or(review, "text", "");
        if (!text.empty()) {
            std::cout << ": " << text;
        }
        std::cout << "\n";
    }
    return kExitOk;
}

int install_game(ToolSession& session, const std::string& game,
                 const std::optional<std::string>& version) {
    const auto show = fetch_game(session, game);
    if (!show) {
        throw CliFailure(kExitRefused, "The store has no game called '" + game + "'.");
    }
    std::string wanted;
    if (version) {
        wanted = *version;
    } else {
        wanted = string_or(object_or_empty(*show, "game"), "live_version", "");
        if (wanted.empty()) {
            throw CliFailure(kExitRefused, game + " has no live version to install.");
        }
    }
    const json* entry = find_version(*show, wanted);
    if (!entry) {
        throw CliFailure(kExitRefused, game + " has no version " + wanted +
                                           "; available: " + available_versions(*show) + ".");
    }
    // The store's spelling names the install, whatever case was typed.
    const auto name = string_or(object_or_empty(*show, "game"), "name", game);
    auto library = installed_games(session);
    const auto result = library.install(session.server().raw(), package_target(name, *entry));
    print_install_result(result);
    return kExitOk;
}

int update_games(ToolSession& session, const std::optional<std::string>& game) {
    auto library = installed_games(session);
    std::vector<InstalledGame> targets;
    if (game) {
        auto installed = library.find(*game);
        if (!installed) {
            throw CliFailure(kExitUsage, *game + " is not installed; install it with: " +
                                             program_name() + " install " + *game);
        }
        targets.push_back(std::move(*installed));
    } else {
        targets = library.list();
        if (targets.empty()) {
            std::cout << "No games are installed; nothing to update.\n";
            return kExitOk;
        }
    }
    int worst = kExitOk;
    for (const auto& installed : targets) {
        try {
            const auto status = install_status(session, installed);
            if (status.code == "up_to_date") {
                std::cout << installed.game << " is up to date (" << installed.version << ").\n";
                continue;
            }
            if (!status.live) {
                std::cout << installed.game << " is " << status.text << "; keeping "
                          << installed.version << ".\n";
                continue;
            }
            const auto result = library.install(session.server().raw(),
                                                package_target(installed.game, *status.live));
            if (status.code == "rollback_available") {
                std::cout << "Rolled " << installed.game << " back from " << installed.version
                          << " to " << result.installed.version
                          << ", the version its developer made live.\n";
            } else {
                std::cout << "Updated " << installed.game << " from " << installed.version << " to "
                          << result.installed.version << ".\n";
            }
        } catch (const CliFailure& failure) {
            if (failure.code() == kExitUnreachable || targets.size() == 1) {
                throw;  // nothing else can work without the server
            }
            std::cerr << program_name() << ": " << failure.what() << "\n";
            worst = std::max(worst, failure.code());
        }
    }
    return worst;
}

int list_installed(ToolSession& session, bool as_json) {
    auto library = installed_games(session);
    const auto games = library.list();
    // Statuses need the server; without it the local list is still useful.
    std::optional<std::string> offline_reason;
    std::vector<InstallStatus> statuses;
    for (const auto& installed : games) {
        InstallStatus status{"unknown", "live version unknown", std::nullopt};
        if (!offline_reason) {
            try {
                status = install_status(session, installed);
            } catch (const SessionEnded&) {
                throw;
            } catch (const CliFailure& failure) {
                if (failure.code() != kExitUnreachable && failure.code() != kExitUsage) {
                    throw;
                }
                offline_reason = failure.what();
            }
        }
        statuses.push_back(std::move(status));
    }
    if (offline_reason) {
        std::cerr << program_name() << ": cannot compare with the store (" << *offline_reason
                  << "); showing local versions only.\n";
    }
    if (as_json) {
        json list = json::array();
        for (std::size_t i = 0; i < games.size(); ++i) {
            const auto& installed = games[i];
            list.push_back({{"game", installed.game},
                            {"version", installed.version},
                            {"sha256", installed.sha256},
                            {"size", installed.size},
                            {"path", installed.package_root.string()},
                            {"installed_at", installed.installed_at_ms},
                            {"live_version", statuses[i].live
                                                 ? json(string_or(*statuses[i].live, "version", ""))
                                                 : json(nullptr)},
                            {"status", statuses[i].code}});
        }
        std::cout << json{{"installed", list}}.dump() << "\n";
        return kExitOk;
    }
    if (games.empty()) {
        std::cout << "No games are installed.\n";
        return kExitOk;
    }
    TextTable table({"GAME", "INSTALLED", "LIVE", "STATUS"});
    for (std::size_t i = 0; i < games.size(); ++i) {
        table.add_row({games[i].game, games[i].version,
                       statuses[i].live ? string_or(*statuses[i].live, "version", "-") : "-",
                       statuses[i].text});
    }
    table.print(std::cout);
    return kExitOk;
}

int uninstall_game(ToolSession& session, const std::string& game) {
    auto library = installed_games(session);
    if (!library.uninstall(game)) {
        throw CliFailure(kExitUsage, game + " is not installed.");
    }
    std::cout << "Uninstalled " << game << ".\n";
    return kExitOk;
}

int post_review(ToolSession& session, const std::string& game, int rating,
                const std::string& text) {
    if (rating < 1 || rating > 5) {
        throw CliFailure(kExitUsage, "A rating is a whole number from 1 to 5.");
    }
    json args = {{"game", game}, {"rating", rating}};
    if (!text.empty()) {
        args["text"] = text;
    }
    session.server().call("review.post", args, "Reviewing " + game);
    std::cout << "Your review of " << game << " (" << rating << "/5) was saved.\n";
    return kExitOk;
}

int delete_review(ToolSession& session, const std::string& game) {
    session.server().call("review.delete", {{"game", game}}, "Deleting your review of " + game);
    std::cout << "Your review of " << game << " was deleted.\n";
    return kExitOk;
}

}  // namespace gamestore::cli::player
