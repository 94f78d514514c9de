#include "player/player_menu.hpp"

#include <iostream>

#include <nlohmann/json.hpp>

#include "platform/cli/text_table.hpp"
#include "platform/cli/tool_session.hpp"
#include "player/player_store.hpp"
#include "player/room_menu.hpp"

namespace gamestore::cli::player {

using nlohmann::json;

namespace {

MenuStep write_review(ToolSession& session, const std::string& game) {
    auto& console = session.console();
    const auto rating = console.read_number("Your rating (1-5): ", 1, 5);
    if (!rating) {
        return MenuStep::Leave;
    }
    const auto text = console.read_line("Your review (one line, may be empty): ");
    if (!text) {
        return MenuStep::Leave;
    }
    post_review(session, game, static_cast<int>(*rating), *text);
    return MenuStep::Stay;
}

MenuStep game_menu(ToolSession& session, const std::string& game) {
    std::cout << "\n";
    store_show(session, game, false);
    const bool more =
        run_menu(session.console(), [&] { return "What would you like to do with " + game + "?"; },
                 {
                     {"Install or update",
                      [&] {
                          install_game(session, game, std::nullopt);
                          return MenuStep::Stay;
                      }},
                     {"Write or edit my review", [&] { return write_review(session, game); }},
                     {"Delete my review",
                      [&] {
                          delete_review(session, game);
                          return MenuStep::Stay;
                      }},
                     {"Back", [] { return MenuStep::Leave; }},
                 });
    return more ? MenuStep::Stay : MenuStep::Leave;
}

MenuStep installed_game_menu(ToolSession& session, const std::string& game) {
    const bool more = run_menu(
        session.console(),
        [&] {
            auto installed = installed_games(session).find(game);
            return installed ? game + " " + installed->version +
                                   " is installed. What would you like to do?"
                             : game + " is not installed any more.";
        },
        {
            {"Update to the store's live version",
             [&] {
                 update_games(session, game);
                 return MenuStep::Stay;
             }},
            {"Uninstall",
             [&] {
                 const auto sure = session.console().confirm("Uninstall " + game + "?", false);
                 if (sure && *sure) {
                     uninstall_game(session, game);
                     return MenuStep::Leave;
                 }
                 return MenuStep::Stay;
             }},
            {"Back", [] { return MenuStep::Leave; }},
        });
    return more ? MenuStep::Stay : MenuStep::Leave;
}

}  // namespace

MenuStep browse_store_menu(ToolSession& session) {
    const auto games = list_store_games(session);
    if (games.empty()) {
        std::cout << "The store has no games yet.\n";
        return MenuStep::Stay;
    }
    std::vector<std::string> lines;
    for (const auto& game : games) {
        lines.push_back(string_or(game, "name", "?") + " " + string_or(game, "live_version", "") +
                        " - " + format_players(game) + " players, " +
                        format_rating(object_or_empty(game, "rating")));
    }
    const auto choice = session.console().choose("Games in the store:", lines, "Choose a game");
    if (!choice) {
        return MenuStep::Leave;
    }
    if (*choice == 0) {
        return MenuStep::Stay;
    }
    return game_menu(session, string_or(games[*choice - 1], "name", ""));
}

MenuStep installed_games_menu(ToolSession& session) {
    const auto games = installed_games(session).list();
    if (games.empty()) {
        std::cout << "No games are installed yet; browse the store to install one.\n";
        return MenuStep::Stay;
    }
    std::vector<std::string> lines;
    for (const auto& game : games) {
        lines.push_back(game.game + " " + game.version + " - " +
                        install_status(session, game).text);
    }
    const auto choice = session.console().choose("Installed games:", lines, "Choose a game");
    if (!choice) {
        return MenuStep::Leave;
    }
    if (*choice == 0) {
        return MenuStep::Stay;
    }
    return installed_game_menu(session, games[*choice - 1].game);
}

std::vector<MenuEntry> player_main_menu(ToolSession& session) {
    return {
        {"Browse the store", [&session] { return browse_store_menu(session); }},
        {"My installed games", [&session] { return installed_games_menu(session); }},
        {"Rooms and matches", [&session] { return rooms_menu(session); }},
        {"Sign out",
         [&session] {
             sign_out_interactively(session);
             return MenuStep::Leave;
         }},
        {"Quit", [] { return MenuStep::Leave; }},
    };
}

int run_player_menu(ToolSession& session) {
    std::cout << program_name()
              << ": the gamestore player menu. Choose by number; end of input quits.\n";
    if (!sign_in_interactively(session)) {
        return kExitOk;
    }
    watch_session(session.console(), session.server(), nullptr);
    run_menu(
        session.console(),
        [&session] { return "Main menu (signed in as player " + session.identity().user + ")"; },
        player_main_menu(session));
    session.console().watch(nullptr, nullptr, nullptr);
    return kExitOk;
}

}  // namespace gamestore::cli::player
