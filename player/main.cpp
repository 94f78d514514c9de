// gamestore-player: the player's launcher (docs/CLI.md). Subcommands
// for scripts; the numbered menus when run without one.

#include <chrono>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>

#include "platform/cli/account.hpp"
#include "platform/cli/cli_common.hpp"
#include "platform/cli/console.hpp"
#include "platform/cli/tool_session.hpp"
#include "player/player_menu.hpp"
#include "player/player_store.hpp"
#include "player/rooms.hpp"

namespace {

using namespace gamestore::cli;
using namespace gamestore::cli::player;

int run_ping(const CommonOptions& options) {
    gamestore::client::SyncLobbyClient client;
    connect_or_fail(client, options);
    const auto start = std::chrono::steady_clock::now();
    const auto data = require_ok(client.call("ping"), "Pinging the server");
    const auto elapsed =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    if (options.json) {
        std::cout << nlohmann::json{{"server", options.server}, {"rtt_ms", elapsed.count()}}.dump()
                  << "\n";
    } else {
        std::cout << "pong from " << options.server << " in " << std::fixed;
        std::cout.precision(2);
        std::cout << elapsed.count() << " ms\n";
    }
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    set_program_name("gamestore-player");
    CLI::App app{
        "gamestore-player: browse the store, install games, join rooms and play.\n"
        "Without a command it shows numbered menus."};
    app.fallthrough();  // --server/--user/--home may follow the command too
    CommonOptions options;
    add_common_options(app, options);
    app.require_subcommand(0, 1);

    auto* ping = app.add_subcommand("ping", "check that the server answers");
    ping->add_flag("--json", options.json, "print JSON");

    const auto account = add_account_commands(app);

    auto* store = app.add_subcommand("store", "browse the store");
    store->require_subcommand(1);
    auto* store_list_cmd = store->add_subcommand("list", "games you can install");
    store_list_cmd->add_flag("--json", options.json, "print JSON");
    std::string game;
    auto* store_show_cmd =
        store->add_subcommand("show", "a game's versions, rating and recent reviews");
    store_show_cmd->add_option("GAME", game, "game name")->required();
    store_show_cmd->add_flag("--json", options.json, "print JSON");

    std::optional<std::string> version;
    auto* install = app.add_subcommand(
        "install", "download, verify and install a game (the live version by default)");
    install->add_option("GAME", game, "game name")->required();
    install->add_option("--version", version, "install this version instead of the live one");

    std::optional<std::string> update_game;
    auto* update = app.add_subcommand(
        "update", "install the live version of GAME (default: of every installed game)");
    update->add_option("GAME", update_game, "game name");

    auto* installed =
        app.add_subcommand("installed", "installed games and whether an update is available");
    installed->add_flag("--json", options.json, "print JSON");

    auto* uninstall = app.add_subcommand("uninstall", "remove an installed game");
    uninstall->add_option("GAME", game, "game name")->required();

    int rating = 0;
    std::string review_text;
    bool review_delete = false;
    auto* review = app.add_subcommand(
        "review", "rate a game you have played (1-5, optional text), or delete your review");
    review->add_option("GAME", game, "game name")->required();
    auto* rating_opt =
        review->add_option("--rating", rating, "1 to 5 stars")->check(CLI::Range(1, 5));
    auto* text_opt =
        review->add_option("--text", review_text, "what you thought (at most 2000 characters)");
    auto* delete_opt = review->add_flag("--delete", review_delete, "delete your review of GAME");
    delete_opt->excludes(rating_opt)->excludes(text_opt);
    text_opt->needs(rating_opt);

    PlayOptions play_options;
    std::int64_t join_room = 0;
    int start_at = 0;
    int timeout_sec = 600;
    auto* play = app.add_subcommand("play",
                                    "install GAME, join its oldest open room (or create one), get "
                                    "ready, play a match, print the result");
    play->add_option("GAME", play_options.game, "game name")->required();
    auto* new_room_opt =
        play->add_flag("--new-room", play_options.new_room, "always create a new room");
    play->add_option("--join", join_room, "join this room (by id) instead")
        ->check(CLI::PositiveNumber)
        ->excludes(new_room_opt);
    play->add_option("--start-at", start_at,
                     "as host: start once N players are ready (default: the game's minimum)")
        ->check(CLI::Range(1, 1000));
    play->add_option("--timeout", timeout_sec, "give up after SEC seconds for the whole flow")
        ->capture_default_str()
        ->check(CLI::Range(1, 86400));
    play->add_flag("--json", options.json, "print the result as one JSON object on stdout");

    auto* rooms =
        app.add_subcommand("rooms", "the lobby's rooms: id, game, version, host, members, state");
    rooms->add_flag("--json", options.json, "print JSON");
    auto* players = app.add_subcommand("players", "players online: name, room, state");
    players->add_flag("--json", options.json, "print JSON");

    try {
        app.parse(argc, argv);
        if (*review && !review_delete && rating_opt->count() == 0) {
            throw CLI::ValidationError("review", "give --rating N (1-5), or --delete");
        }
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kExitOk : kExitUsage;
    }

    return run_reporting_failures([&]() -> int {
        Console console;
        if (*ping) {
            return run_ping(options);
        }
        if (*account.account) {
            return run_account_command(account, options, Role::Player, console);
        }
        ToolSession session(options, Role::Player, console,
                            /*interactive=*/app.get_subcommands().empty());
        if (*store_list_cmd) {
            return store_list(session, options.json);
        }
        if (*store_show_cmd) {
            return store_show(session, game, options.json);
        }
        if (*install) {
            return install_game(session, game, version);
        }
        if (*update) {
            return update_games(session, update_game);
        }
        if (*installed) {
            return list_installed(session, options.json);
        }
        if (*uninstall) {
            return uninstall_game(session, game);
        }
        if (*play) {
            if (play->count("--join") > 0) {
                play_options.join = join_room;
            }
            if (play->count("--start-at") > 0) {
                play_options.start_at = start_at;
            }
            play_options.timeout = std::chrono::seconds(timeout_sec);
            play_options.json = options.json;
            return play_game(session, play_options);
        }
        if (*rooms) {
            return list_rooms(session, options.json);
        }
        if (*players) {
            return list_players(session, options.json);
        }
        if (*review) {
            return review_delete ? delete_review(session, game)
                                 : post_review(session, game, rating, review_text);
        }
        return run_player_menu(session);
    });
}
