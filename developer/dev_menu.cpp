#include "developer/dev_menu.hpp"

#include <iostream>

#include <nlohmann/json.hpp>

#include "developer/dev_commands.hpp"
#include "developer/scaffold.hpp"
#include "platform/cli/console.hpp"
#include "platform/cli/text_table.hpp"
#include "platform/cli/tool_session.hpp"

namespace gamestore::cli::developer {

using nlohmann::json;

namespace {

// nullopt: back (0) or end of input.
std::optional<json> pick(Console& console, const std::string& what, const json& items,
                         const std::function<std::string(const json&)>& describe) {
    std::vector<std::string> lines;
    for (const auto& item : items) {
        lines.push_back(describe(item));
    }
    const auto choice = console.choose("", lines, "Choose " + what);
    if (!choice || *choice == 0) {
        return std::nullopt;
    }
    return items[*choice - 1];
}

MenuStep make_version_live(ToolSession& session, const std::string& game) {
    const auto data =
        session.server().call("dev.versions", {{"game", game}}, "Listing the versions of " + game);
    const auto versions = array_or_empty(data, "versions");
    if (versions.empty()) {
        std::cout << game << " has no versions.\n";
        return MenuStep::Stay;
    }
    std::cout << "Versions of " << game << ":\n";
    const auto chosen =
        pick(session.console(), "the version to make live", versions, [](const json& version) {
            std::string text = string_or(version, "version", "?");
            if (bool_or(version, "live", false)) {
                text += " (live)";
            }
            if (bool_or(version, "hidden", false)) {
                text += " (hidden)";
            }
            return text;
        });
    if (chosen) {
        set_live_version(session, game, string_or(*chosen, "version", ""));
    }
    return MenuStep::Stay;
}

MenuStep toggle_listing(ToolSession& session, const std::string& game) {
    const auto data = session.server().call("dev.games", json::object(), "Listing your games");
    bool delisted = false;
    for (const auto& entry : array_or_empty(data, "games")) {
        if (string_or(entry, "name", "") == game) {
            delisted = bool_or(entry, "delisted", false);
        }
    }
    const std::string question = delisted ? game + " is delisted. List it again?"
                                          : "Delist " + game + "? Players will no longer see it.";
    const auto sure = session.console().confirm(question, false);
    if (sure && *sure) {
        delisted ? relist_game(session, game) : delist_game(session, game);
    }
    return MenuStep::Stay;
}

MenuStep game_menu(ToolSession& session, const std::string& game) {
    std::cout << "\n";
    list_versions(session, game, false);
    const bool more =
        run_menu(session.console(), [&] { return "What would you like to do with " + game + "?"; },
                 {
                     {"Make a version live (update or roll back)",
                      [&] { return make_version_live(session, game); }},
                     {"Delist or relist", [&] { return toggle_listing(session, game); }},
                     {"Back", [] { return MenuStep::Leave; }},
                 });
    return more ? MenuStep::Stay : MenuStep::Leave;
}

MenuStep my_games_menu(ToolSession& session) {
    const auto data = session.server().call("dev.games", json::object(), "Listing your games");
    const auto games = array_or_empty(data, "games");
    if (games.empty()) {
        std::cout << "You have not published any game yet.\n";
        return MenuStep::Stay;
    }
    std::cout << "\nYour games:\n";
    const auto chosen = pick(session.console(), "a game", games, [](const json& game) {
        return string_or(game, "name", "?") + " - live " + string_or(game, "live_version", "none") +
               (bool_or(game, "delisted", false) ? ", delisted" : "");
    });
    if (!chosen) {
        return session.console().input_ended() ? MenuStep::Leave : MenuStep::Stay;
    }
    return game_menu(session, string_or(*chosen, "name", ""));
}

MenuStep publish_menu(ToolSession& session) {
    auto& console = session.console();
    const auto path = console.read_line("Package directory or zip file: ");
    if (!path || path->empty()) {
        return MenuStep::Stay;
    }
    PublishOptions options;
    const auto notes = console.read_line("Release notes (one line, may be empty): ");
    if (!notes) {
        return MenuStep::Leave;
    }
    options.notes = *notes;
    const auto hidden =
        console.confirm("Publish it hidden (the live version stays as it is)?", false);
    if (!hidden) {
        return MenuStep::Leave;
    }
    options.hidden = *hidden;
    publish_package(session, *path, options);
    return MenuStep::Stay;
}

MenuStep init_menu(ToolSession& session) {
    auto& console = session.console();
    const auto dir = console.read_line("Directory for the new game: ");
    if (!dir || dir->empty()) {
        return MenuStep::Stay;
    }
    const auto name = console.read_line("Game name (empty: the directory's name): ");
    if (!name) {
        return MenuStep::Leave;
    }
    const auto kind = console.menu(
        "Which template?",
        {"Python: server.py and client.py (standard library only)",
         "C++: src/server.cpp and src/client.cpp on the C++ SDK (build bin/ before publishing)"});
    if (!kind) {
        return MenuStep::Leave;
    }
    init_package(*dir, *name, *kind == 0 ? ScaffoldTemplate::Python : ScaffoldTemplate::Cpp);
    return MenuStep::Stay;
}

}  // namespace

int run_dev_menu(ToolSession& session) {
    std::cout << program_name()
              << ": the gamestore developer menu. Choose by number; end of input quits.\n";
    if (!sign_in_interactively(session)) {
        return kExitOk;
    }
    watch_session(session.console(), session.server(), nullptr);
    run_menu(
        session.console(),
        [&session] { return "Main menu (signed in as developer " + session.identity().user + ")"; },
        {
            {"My games", [&session] { return my_games_menu(session); }},
            {"Publish a package", [&session] { return publish_menu(session); }},
            {"Create a new game package", [&session] { return init_menu(session); }},
            {"Sign out",
             [&session] {
                 sign_out_interactively(session);
                 return MenuStep::Leave;
             }},
            {"Quit", [] { return MenuStep::Leave; }},
        });
    session.console().watch(nullptr, nullptr, nullptr);
    return kExitOk;
}

}  // namespace gamestore::cli::developer
