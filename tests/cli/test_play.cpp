// gamestore-player play / rooms / players and the room menu against the real
// server with fakegame packages, plus gamestore-dev validate and the C++
// init template. Every wait is on a process exit or a pushed event, with a
// deadline.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>

#include <catch2/catch.hpp>

#include "platform/packages/command_template.hpp"
#include "tests/cli/cli_harness.hpp"
#include "tests/support/platform_harness.hpp"
#include "tests/support/tcp_cutter.hpp"

using namespace gamestore::cli_test;
using namespace std::chrono_literals;
using gamestore::testing::ServerFixture;
using gamestore::testing::TestDeveloper;
using gamestore::testing::TestPlayer;
using nlohmann::json;

namespace {

std::vector<std::string> server_args() {
    std::vector<std::string> args = {"--fast-password-hash", "--stop-grace", "1", "--end-grace", "1"};
    auto ports = gamestore::testing::unique_game_ports_args();
    args.insert(args.end(), ports.begin(), ports.end());
    return args;
}

bool directory_empty_or_missing(const fs::path& dir) {
    std::error_code ec;
    return !fs::exists(dir, ec) || fs::is_empty(dir, ec);
}

// The compiler as execve needs it: the first g++ in PATH, found the way the
// platform's launcher finds a manifest's program.
fs::path find_compiler() {
    const char* path = std::getenv("PATH");
    const auto found = gamestore::packages::resolve_program(gamestore::packages::LaunchSpec{{"g++"}, {}, {}},
                                                            path ? path : "/usr/bin:/bin");
    return found ? *found : fs::path();
}

fs::path fakegame_package(const std::string& profile) {
    return gamestore::testing::build_dir() / "fakegames" / "packages" / profile;
}

// Publishes a one-player copy of a fakegame profile as `title`, after
// `edit` changed its manifest; returns the title.
std::string publish_one_player_variant(TestDeveloper& dev, CliHarness& cli, const std::string& profile,
                                       const std::string& title, const std::function<void(json&)>& edit) {
    const auto dir = cli.work() / title;
    fs::copy(fakegame_package(profile), dir, fs::copy_options::recursive);
    auto manifest = json::parse(file_text(dir / "manifest.json"));
    manifest["game_name"] = title;
    manifest["min_players"] = 1;
    edit(manifest);
    gamestore::testing::write_file(dir / "manifest.json", manifest.dump(2));
    const auto published = dev.publish_zip(gamestore::testing::zip_package_dir(dir, cli.work()));
    INFO(published.message << " " << published.details.dump());
    REQUIRE(published.ok);
    return title;
}

// A one-player fakegame variant whose client thinks `think_ms` after its
// handshake (then moves; `client_extra` adds client flags) and whose server
// waits `move_timeout_ms` for a move.
std::string publish_thinker(TestDeveloper& dev, CliHarness& cli, const std::string& title,
                            int move_timeout_ms, int think_ms,
                            const std::string& client_extra = "") {
    return publish_one_player_variant(dev, cli, "ok", title, [&](json& manifest) {
        manifest["server"]["command"] = manifest["server"]["command"].get<std::string>() +
                                        " --move-timeout-ms " + std::to_string(move_timeout_ms);
        manifest["client"]["command"] =
            "bin/fakegame client --think-ms " + std::to_string(think_ms) + client_extra;
    });
}

}  // namespace

TEST_CASE("play: two players run a match to END; rooms and players show the lobby", "[cli][play][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("ok", "Fake Duel", "1.0.0", 2);
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "ann", "account", "register"}).code == 0);
    REQUIRE(cli.player({"--user", "bob", "account", "register"}).code == 0);
    TestPlayer observer(server, "watcher");

    auto host = cli.start_player({"--user", "ann", "play", game, "--start-at", "2", "--json", "--timeout", "120"});
    const auto room = observer.wait_lobby_room(game, true, 60s);
    REQUIRE(room);
    CHECK(room->at("host") == "ann");
    CHECK(room->at("state") == "WAITING");

    // The lobby as the listings show it, while ann waits for a second player.
    const auto rooms = cli.player({"--user", "watcher", "rooms", "--json"},
                                  {}, {{"GAMESTORE_PASSWORD", "password123"}});
    INFO(rooms.text());
    REQUIRE(rooms.code == 0);
    const auto listed = rooms.json().at("rooms");
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].at("room_id") == room->at("room_id"));
    CHECK(listed[0].at("game") == game);
    CHECK(listed[0].at("version") == "1.0.0");
    CHECK(listed[0].at("host") == "ann");
    CHECK(listed[0].at("members").size() == 1);
    const auto table = cli.player({"--user", "watcher", "rooms"}, {}, {{"GAMESTORE_PASSWORD", "password123"}});
    CHECK(table.out.find("Fake Duel") != std::string::npos);
    CHECK(table.out.find("ann (ready)") != std::string::npos);
    const auto players = cli.player({"--user", "watcher", "players", "--json"},
                                    {}, {{"GAMESTORE_PASSWORD", "password123"}});
    INFO(players.text());
    REQUIRE(players.code == 0);
    bool ann_in_room = false;
    const auto online = players.json();
    for (const auto& player : online.at("players")) {
        if (player.at("name") == "ann") {
            ann_in_room = player.at("room_id") == room->at("room_id") && player.at("state") == "in_room";
        }
    }
    CHECK(ann_in_room);

    // bob joins the oldest open room of the game: ann's.
    auto guest = cli.start_player({"--user", "bob", "play", game, "--timeout", "120"});
    const auto [host_result, guest_result] = finish_match_ok(host, guest);

    // --json: stdout is exactly one object (the game's output went to stderr).
    const auto result = json::parse(host_result.out);
    CHECK(result.at("status") == "END");
    CHECK(result.at("room_id") == room->at("room_id"));
    CHECK(result.at("player") == "ann");
    CHECK(result.at("you").at("player") == "ann");
    CHECK(result.at("client").at("exit_code") == 0);
    CHECK(result.at("results").size() == 2);
    CHECK(result.at("exit_code") == 0);
    const std::string match_id = result.at("match_id");

    // bob's human output: the client starts only once the room is IN_GAME
    // (the fakegame client prints its result line on the terminal we gave it).
    const auto& out = guest_result.out;
    const auto in_game_at = out.find("is IN_GAME: starting the Fake Duel 1.0.0 client");
    const auto client_line_at = out.find("\"result\":\"finished\"");
    REQUIRE(in_game_at != std::string::npos);
    REQUIRE(client_line_at != std::string::npos);
    CHECK(in_game_at < client_line_at);
    CHECK(out.find(match_id) != std::string::npos);
    CHECK(out.find("You are in room " + std::to_string(room->at("room_id").get<int>()) + ".") != std::string::npos);
    CHECK(out.find("ended: END.") != std::string::npos);
    CHECK(out.find("bob (you)") != std::string::npos);
    CHECK(out.find("Back in room") != std::string::npos);
    CHECK(out.find("STARTING") < in_game_at);
    // Per-match directories (token files) are gone; tokens never reached stdout.
    CHECK(directory_empty_or_missing(cli.player_dir("ann") / "matches"));
    CHECK(directory_empty_or_missing(cli.player_dir("bob") / "matches"));
    CHECK(host_result.text().find("client_token") == std::string::npos);
    CHECK(guest_result.text().find("client_token") == std::string::npos);
}

TEST_CASE("play: a game server that crashes after STARTED makes play exit 1 with the reason",
          "[cli][play][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("exit-after-started", "Fake Crash", "1.0.0", 2);
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "cat", "account", "register"}).code == 0);
    // A second member that gets ready but never launches a client: the
    // server waits for it and crashes 500 ms after STARTED.
    TestPlayer idle(server, "idle");

    auto host = cli.start_player({"--user", "cat", "play", game, "--start-at", "2", "--timeout", "90"});
    const auto room = idle.wait_lobby_room(game, true, 60s);
    REQUIRE(room);
    idle.require("room.join", {{"room_id", room->at("room_id")}});
    idle.require("room.ready", {{"ready", true}});
    const auto r = host.finish(120s);
    INFO(r.text());
    CHECK(r.code == 1);
    CHECK(r.err.find("the match ended with ") != std::string::npos);
    CHECK(r.err.find("the match ended with END") == std::string::npos);
    CHECK(r.out.find("is IN_GAME: starting") != std::string::npos);
    CHECK(r.out.find("Back in room") != std::string::npos);
    CHECK(directory_empty_or_missing(cli.player_dir("cat") / "matches"));
}

TEST_CASE("play: a match that fails before IN_GAME never launches the client", "[cli][play][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("exit-before-started", "Fake Early", "1.0.0", 1);
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "fay", "account", "register"}).code == 0);

    const auto r = cli.player({"--user", "fay", "play", game, "--json", "--timeout", "90"});
    INFO(r.text());
    CHECK(r.code == 1);
    const auto result = json::parse(r.out);
    CHECK(result.at("status") != "END");
    CHECK_FALSE(result.at("reason").get<std::string>().empty());
    CHECK(result.at("client").at("launched") == false);
    CHECK(r.err.find("is IN_GAME") == std::string::npos);
    CHECK(r.err.find("STARTING") != std::string::npos);
}

TEST_CASE("play: a client that cannot start or cannot get in is explained, and the player is back in the room",
          "[cli][play][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "gus", "account", "register"}).code == 0);

    // A one-player fakegame whose server gives up on missing players after
    // 2 s, with the client command (and server flags) of each case.
    auto publish_variant = [&](const std::string& profile, const std::string& title, const std::string& client_command) {
        return publish_one_player_variant(dev, cli, profile, title, [&](json& manifest) {
            manifest["server"]["command"] = manifest["server"]["command"].get<std::string>() + " --player-timeout-ms 2000";
            manifest["client"]["command"] = client_command;
        });
    };

    SECTION("the client program does not exist") {
        const auto game = publish_variant("ok", "No Client", "no-such-gamestore-client --name {player_name}");
        const auto r = cli.player({"--user", "gus", "play", game, "--json", "--timeout", "90"});
        INFO(r.text());
        CHECK(r.code == 1);
        const auto result = json::parse(r.out);
        CHECK(result.at("client").at("launched") == false);
        const auto problem = result.at("client").at("problem").get<std::string>();
        CHECK(problem.find("could not start") != std::string::npos);
        CHECK(problem.find("no-such-gamestore-client") != std::string::npos);
        CHECK(r.err.find("You stay in room") != std::string::npos);
        CHECK(r.err.find("Back in room") != std::string::npos);
    }

    SECTION("the game server turns the client away") {
        const auto game = publish_variant("reject-all-clients", "Closed Door", "bin/fakegame client");
        const auto r = cli.player({"--user", "gus", "play", game, "--json", "--timeout", "90"});
        INFO(r.text());
        CHECK(r.code == 1);
        const auto result = json::parse(r.out);
        CHECK(result.at("client").at("launched") == true);
        CHECK(result.at("client").at("exit_code") != 0);
        const auto problem = result.at("client").at("problem").get<std::string>();
        CHECK(problem.find("Your game client") != std::string::npos);
        CHECK(r.err.find("You stay in room") != std::string::npos);
        CHECK(r.err.find("Back in room") != std::string::npos);
    }
    // Either way nothing of the match is left on the player's machine.
    CHECK(directory_empty_or_missing(cli.player_dir("gus") / "matches"));
}

TEST_CASE("play: a GUI game's client gets its own log, not the terminal; a failing one is explained from it",
          "[cli][play][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "gia", "account", "register"}).code == 0);
    auto publish_gui = [&](const std::string& profile, const std::string& title) {
        return publish_one_player_variant(dev, cli, profile, title, [](json& manifest) { manifest["type"] = "GUI"; });
    };

    SECTION("a well-behaved GUI client plays to END") {
        const auto game = publish_gui("ok", "Fake Window");
        const auto r = cli.player({"--user", "gia", "play", game, "--timeout", "90"});
        INFO(r.text());
        CHECK(r.code == 0);
        CHECK(r.out.find("is IN_GAME: starting the Fake Window 1.0.0 client") != std::string::npos);
        // Where to look: the window's title (proposed to the game in
        // GAMESTORE_WINDOW_TITLE), then the result here.
        CHECK(r.out.find("Fake Window is playing in a window: \"Fake Window - gia\". The result is "
                         "printed here "
                         "when the match ends.") != std::string::npos);
        CHECK(r.out.find("ended: END.") != std::string::npos);
        // The fakegame client prints its result line; a GUI client's output
        // goes to its log in the match directory, never to our terminal.
        CHECK(r.text().find("\"result\":\"finished\"") == std::string::npos);
    }

    SECTION("a GUI client the server turns away: the reason quotes its log") {
        const auto game = publish_gui("reject-all-clients", "Closed Window");
        const auto r = cli.player({"--user", "gia", "play", game, "--json", "--timeout", "90"});
        INFO(r.text());
        CHECK(r.code == 1);
        const auto result = json::parse(r.out);
        CHECK(result.at("client").at("launched") == true);
        const auto problem = result.at("client").at("problem").get<std::string>();
        CHECK(problem.find("Your game client exited with code") != std::string::npos);
        CHECK(problem.find("Its last output:") != std::string::npos);
        CHECK(problem.find("  | fakegame client: the server refused the handshake") != std::string::npos);
        CHECK(r.err.find("Back in room") != std::string::npos);
    }
    // The log went with the match directory.
    CHECK(directory_empty_or_missing(cli.player_dir("gia") / "matches"));
}

TEST_CASE("play: Ctrl-C during a terminal game ends the client, not the launcher; the player is back in the room",
          "[cli][play][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "ivy", "account", "register"}).code == 0);
    // A one-player fakegame whose client thinks for a minute after its
    // handshake, and whose server gives a silent player 3 s.
    publish_thinker(dev, cli, "Slow Thinker", 3000, 60000);

    // As from a shell: the launcher leads its own process group and the
    // terminal game runs in that same group, so Ctrl-C reaches both.
    auto play = cli.start_player({"--user", "ivy", "play", "Slow Thinker", "--json", "--timeout", "90"}, {}, {},
                                 /*own_session=*/true);
    REQUIRE(gamestore::testing::wait_for_text(play.err_file, "thinking for 60000 ms", 60s));
    ::kill(-play.process->pid(), SIGINT);
    const auto r = play.finish(60s);
    INFO(r.text());
    // The launcher was not killed by the signal: it explains and returns.
    REQUIRE(r.code >= 0);
    const auto result = json::parse(r.out);
    CHECK(result.at("client").at("launched") == true);
    CHECK(result.at("client").at("exit_code") != 0);
    // The client stopped at the Ctrl-C, while the match still ran (it was
    // not stopped by the launcher after the match ended).
    CHECK(r.err.find("\"result\":\"stopped\"") != std::string::npos);
    // The one player quitting ends this match at once, so two things race:
    // the launcher seeing its client exit (it then says the player stays in
    // the room until the match ends) and the server's match.ended (after
    // which there is nothing to stay for). Either order is right; a loaded
    // machine shows the second.
    const bool ended_first =
        result.at("status") == "END" && r.err.find("You stay in room") == std::string::npos;
    CHECK((r.err.find("You stay in room") != std::string::npos || ended_first));
    CHECK(r.err.find("The match is over but the game client is still running") == std::string::npos);
    CHECK(r.err.find("Back in room") != std::string::npos);
    CHECK(directory_empty_or_missing(cli.player_dir("ivy") / "matches"));
}

TEST_CASE(
    "play: with its input piped from a script, a terminal game plays to END as host and as guest",
    "[cli][play][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    const auto package_dir =
        gamestore::testing::build_dir() / "games" / "packages" / "connect_four";
    REQUIRE(dev.publish_zip(gamestore::testing::zip_package_dir(package_dir,
                                                                server.data_dir().parent_path()))
                .ok);
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "ann", "account", "register"}).code == 0);
    REQUIRE(cli.player({"--user", "bob", "account", "register"}).code == 0);
    TestPlayer observer(server, "watcher");
    // Each script's moves, read by the game client from the same stdin the
    // launcher was given; ann's fourth disc in column 1 wins.
    gamestore::testing::write_file(cli.work() / "ann.moves", "1\n1\n1\n1\n");
    gamestore::testing::write_file(cli.work() / "bob.moves", "2\n2\n2\n");
    auto host =
        cli.start_player({"--user", "ann", "play", "Connect Four", "--json", "--timeout", "120"},
                         {}, cli.work() / "ann.moves");
    REQUIRE(observer.wait_lobby_room("Connect Four", true, 60s));
    auto guest =
        cli.start_player({"--user", "bob", "play", "Connect Four", "--json", "--timeout", "120"},
                         {}, cli.work() / "bob.moves");
    const auto [host_result, guest_result] = finish_match_ok(host, guest);
    const auto ann = json::parse(host_result.out);
    const auto bob = json::parse(guest_result.out);
    CHECK(ann.at("status") == "END");
    CHECK(ann.at("you").at("outcome") == "WIN");
    CHECK(bob.at("you").at("outcome") == "LOSE");
    CHECK(ann.at("match_id") == bob.at("match_id"));
    // Neither launcher's connection dropped while its game read the input.
    CHECK(host_result.err.find("reconnecting") == std::string::npos);
    CHECK(guest_result.err.find("reconnecting") == std::string::npos);
}

TEST_CASE(
    "play: SIGTERM or SIGHUP mid-match stops the client and leaves the room; a room left behind by "
    "kill -9 "
    "is released by the next play",
    "[cli][play][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "ivy", "account", "register"}).code == 0);
    TestPlayer observer(server, "watcher");
    publish_thinker(dev, cli, "Long Thinker", 600000, 600000, " --result-timeout-ms 600000");
    const auto room_gone = [&](std::int64_t room_id) {
        return observer.wait_lobby(
            [&](const gamestore::protocol::LobbyMirror& lobby) {
                return lobby.rooms().count(room_id) == 0;
            },
            60s);
    };

    for (const int signal_number : {SIGTERM, SIGHUP}) {
        const std::string name = signal_number == SIGTERM ? "SIGTERM" : "SIGHUP";
        DYNAMIC_SECTION(name) {
            auto play = cli.start_player(
                {"--user", "ivy", "play", "Long Thinker", "--new-room", "--timeout", "300"});
            REQUIRE(
                gamestore::testing::wait_for_text(play.err_file, "thinking for 600000 ms", 60s));
            const auto room = observer.wait_lobby_room("Long Thinker", true, 30s);
            REQUIRE(room);
            ::kill(play.process->pid(), signal_number);
            const auto r = play.finish(60s);
            INFO(r.text());
            CHECK(r.code == 128 + signal_number);
            CHECK(r.text().find("Stopping the game client (" + name + ")") != std::string::npos);
            CHECK(r.text().find("Stopped by " + name + "; left room " +
                                std::to_string(room->at("room_id").get<int>())) !=
                  std::string::npos);
            // Its only player gone, the room and its match go too.
            CHECK(room_gone(room->at("room_id").get<std::int64_t>()));
            CHECK(directory_empty_or_missing(cli.player_dir("ivy") / "matches"));
        }
    }
    SECTION("kill -9") {
        auto play = cli.start_player(
            {"--user", "ivy", "play", "Long Thinker", "--new-room", "--timeout", "300"}, {}, {},
            /*own_session=*/true);
        REQUIRE(gamestore::testing::wait_for_text(play.err_file, "thinking for 600000 ms", 60s));
        const auto room = observer.wait_lobby_room("Long Thinker", true, 30s);
        REQUIRE(room);
        const auto old_room = room->at("room_id").get<std::int64_t>();
        // The launcher dies (a crash, an OOM kill); its game client plays on,
        // so the match goes on with the member disconnected. (Killing the
        // client too would end this one-player match at once, and the room
        // with it.) The client goes when the old match is stopped.
        ::kill(play.process->pid(), SIGKILL);
        play.finish(30s);
        const auto again =
            cli.player({"--user", "ivy", "play", "Long Thinker", "--new-room", "--timeout", "5"});
        INFO(again.text());
        CHECK(
            again.text().find("You were still in room " + std::to_string(old_room) +
                              " (Long Thinker) from an earlier session that ended; you left it.") !=
            std::string::npos);
        CHECK(room_gone(old_room));
        // The orphaned client thinks on (it does not watch its server while
        // it thinks): its process group is the dead launcher's.
        ::kill(-play.process->pid(), SIGKILL);
    }
}

TEST_CASE(
    "play: a lobby connection cut mid-match comes back, and the result reaches play even if the "
    "match "
    "ended meanwhile",
    "[cli][play][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "lea", "account", "register"}).code == 0);
    TestPlayer observer(server, "watcher");
    publish_thinker(dev, cli, "Short Thinker", 60000, 3000);
    // The player reaches the lobby through a link the test can cut.
    gamestore::testing::TcpCutter lobby_link(server.endpoints().lobby_host,
                                             server.endpoints().lobby_port);
    const std::map<std::string, std::string> through_link = {
        {"GAMESTORE_SERVER", lobby_link.address()}};

    SECTION("the connection comes back while the match runs") {
        auto play = cli.start_player(
            {"--user", "lea", "play", "Short Thinker", "--json", "--timeout", "120"}, through_link);
        REQUIRE(gamestore::testing::wait_for_text(play.err_file, "thinking for 3000 ms", 60s));
        lobby_link.cut(/*refuse=*/false);
        const auto r = play.finish(120s);
        INFO(r.text());
        CHECK(r.code == 0);
        CHECK(r.err.find("The connection to the server was lost; reconnecting.") !=
              std::string::npos);
        CHECK(r.err.find("Reconnected; still in room") != std::string::npos);
        const auto result = json::parse(r.out);
        CHECK(result.at("status") == "END");
        CHECK(result.at("connection_lost") == false);
    }
    SECTION("the match ends while the connection is down") {
        auto play = cli.start_player(
            {"--user", "lea", "play", "Short Thinker", "--json", "--timeout", "120"}, through_link);
        REQUIRE(gamestore::testing::wait_for_text(play.err_file, "thinking for 3000 ms", 60s));
        const auto room = observer.wait_lobby_room("Short Thinker", true, 30s);
        REQUIRE(room);
        lobby_link.cut(/*refuse=*/true);
        // The client plays on and the match ends; the disconnected member
        // leaves with it, and so does the room.
        const auto room_id = room->at("room_id").get<std::int64_t>();
        REQUIRE(observer.wait_lobby(
            [&](const gamestore::protocol::LobbyMirror& lobby) {
                return lobby.rooms().count(room_id) == 0;
            },
            60s));
        lobby_link.allow();
        const auto r = play.finish(120s);
        INFO(r.text());
        CHECK(r.code == 0);
        CHECK(r.err.find("Reconnected, but no longer in room") != std::string::npos);
        const auto result = json::parse(r.out);
        CHECK(result.at("status") == "END");
        CHECK(result.at("you").at("player") == "lea");
    }
}

TEST_CASE(
    "play: once every player's client has exited, a match its server keeps alive is ABORTED after "
    "the grace",
    "[cli][play][integration]") {
    auto args = server_args();
    args.insert(args.end(), {"--everyone-left-grace", "2"});
    ServerFixture server(args);
    TestDeveloper dev(server, "maker");
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "kim", "account", "register"}).code == 0);
    // The server waits an hour for a handshake that its client never sends.
    publish_one_player_variant(dev, cli, "ok", "Empty Table", [](json& manifest) {
        manifest["server"]["command"] =
            manifest["server"]["command"].get<std::string>() + " --player-timeout-ms 3600000";
        manifest["client"]["command"] = "bin/fakegame client --no-handshake --hold-ms 100";
    });
    const auto r =
        cli.player({"--user", "kim", "play", "Empty Table", "--json", "--timeout", "120"});
    INFO(r.text());
    CHECK(r.code == 1);
    const auto result = json::parse(r.out);
    CHECK(result.at("status") == "ABORTED");
    CHECK(result.at("reason").get<std::string>().find("everyone left") != std::string::npos);
    CHECK(result.at("client").at("exit_code") == 0);
    TestPlayer observer(server, "watcher");
    CHECK(observer.require("server.stats").at("ports_in_use") == 0);
}

TEST_CASE("play: bad usage and an unknown game are sentences with exit codes", "[cli][play][integration]") {
    ServerFixture server(server_args());
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "dan", "account", "register"}).code == 0);
    const auto unknown = cli.player({"--user", "dan", "play", "No Such Game", "--timeout", "30"});
    CHECK(unknown.code == 1);
    CHECK(unknown.err.find("The store has no game called 'No Such Game'.") != std::string::npos);
    const auto both = cli.player({"--user", "dan", "play", "X", "--new-room", "--join", "3"});
    CHECK(both.code == 2);
}

TEST_CASE("the room menu: create a room for an installed game, then leave it", "[cli][play][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("ok", "Fake Menu", "1.0.0", 2);
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "eve", "account", "register"}).code == 0);
    REQUIRE(cli.player({"--user", "eve", "install", game}).code == 0);

    // Main menu 3: rooms; 2: create; 1: the installed game; room screen 1:
    // ready, 3: chat "hello", 5: leave; rooms 4: players online, 5: back; main 5: quit.
    // (The chat echo is an event: when it is printed depends on timing, so
    // only the absence of a failure is checked.)
    const auto r = cli.player({"--user", "eve"}, "3\n2\n1\n1\n3\nhello\n5\n4\n5\n5\n");
    INFO(r.text());
    CHECK(r.code == 0);
    CHECK(r.out.find("You created room 1 and are its host.") != std::string::npos);
    CHECK(r.out.find("Room 1: Fake Menu 1.0.0, WAITING, host eve; eve") != std::string::npos);
    CHECK(r.out.find("You are ready.") != std::string::npos);
    CHECK(r.out.find("Sending the message failed") == std::string::npos);
    CHECK(r.out.find("You left room 1.") != std::string::npos);
    CHECK(r.out.find("Rooms (signed in as player eve)") != std::string::npos);

    const auto rooms = cli.player({"--user", "eve", "rooms", "--json"});
    REQUIRE(rooms.code == 0);
    CHECK(rooms.json().at("rooms").empty());
}

TEST_CASE("the room screen launches the client on IN_GAME and comes back to the room", "[cli][play][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("ok", "Fake Pair", "1.0.0", 2);
    CliHarness cli(server);
    REQUIRE(cli.player({"--user", "gil", "account", "register"}).code == 0);
    REQUIRE(cli.player({"--user", "gil", "install", game}).code == 0);
    // The second member follows the room through its own events and runs
    // its client by hand; those events also tell the test when to type.
    TestPlayer mate(server, "mate");

    // stdin is a FIFO the test keeps open: the menu waits at its prompt
    // (showing events) instead of reaching end of input.
    const auto fifo = cli.work() / "menu.in";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // never blocks, keeps the FIFO open
    REQUIRE(writer >= 0);
    const auto type = [writer](const std::string& text) {
        REQUIRE(::write(writer, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    };
    auto menu = cli.start_player({"--user", "gil"}, {}, fifo);
    // Rooms, create, the game: the room screen.
    type("3\n2\n1\n");
    const auto room = mate.wait_lobby_room(game, false, 60s);
    REQUIRE(room);
    mate.require("room.join", {{"room_id", room->at("room_id")}});
    mate.require("room.ready", {{"ready", true}});
    // Ready, start: the screen then waits while the match runs.
    type("1\n2\n");
    const auto in_game = mate.wait_room([](const json& r) { return r.at("state") == "IN_GAME"; }, 60s);
    REQUIRE(in_game);
    const auto package = gamestore::testing::build_dir() / "fakegames" / "packages" / "ok";
    const auto launch = gamestore::testing::client_launch_for(package, in_game->at("launch"), "mate",
                                                              cli.work() / "mate-match");
    gamestore::testing::SpawnOptions options;
    options.argv = launch.argv;
    options.argv[0] = (launch.cwd / launch.argv[0]).lexically_normal().string();
    for (const auto& [key, value] : launch.env) options.env[key] = value;
    options.cwd = launch.cwd;
    options.stdout_file = cli.work() / "mate-client.log";
    options.stderr_file = cli.work() / "mate-client.log";
    gamestore::testing::ChildProcess mate_client(options);
    CHECK(mate_client.wait_exit_code(60s) == 0);
    const auto waiting = mate.wait_room([](const json& r) { return r.at("state") == "WAITING"; }, 60s);
    REQUIRE(waiting);
    // Leave the room, back, quit.
    type("5\n5\n5\n");
    ::close(writer);
    const auto r = menu.finish(60s);
    INFO(r.text());
    CHECK(r.code == 0);
    const auto in_game_at = r.out.find("is IN_GAME: starting the Fake Pair 1.0.0 client");
    REQUIRE(in_game_at != std::string::npos);
    const auto client_line_at = r.out.find("\"result\":\"finished\"");
    REQUIRE(client_line_at != std::string::npos);
    CHECK(in_game_at < client_line_at);
    CHECK(r.out.find("ended: END.") != std::string::npos);
    CHECK(r.out.find("gil (you)") != std::string::npos);
    const auto back_at = r.out.find("Back in room " + std::to_string(room->at("room_id").get<int>()) + ".");
    REQUIRE(back_at != std::string::npos);
    // The room screen again, then leaving it.
    CHECK(r.out.find("You are the host; you are", back_at) != std::string::npos);
    CHECK(r.out.find("You left room", back_at) != std::string::npos);
    CHECK(directory_empty_or_missing(cli.player_dir("gil") / "matches"));
}

TEST_CASE("gamestore-dev validate runs the validator and returns its verdict", "[cli][validate][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);
    const auto ok = cli.dev({"validate", fakegame_package("ok").string()});
    INFO(ok.text());
    CHECK(ok.code == 0);
    const auto never = cli.dev({"validate", fakegame_package("never-started").string(), "--json"});
    INFO(never.text());
    CHECK(never.code == 1);
    CHECK_NOTHROW(json::parse(never.out));
    const auto missing = cli.dev({"validate", (cli.work() / "nothing-here").string()});
    CHECK(missing.code == 2);
}

TEST_CASE("gamestore-dev init --template cpp builds with g++ and passes the validator with its clients",
          "[cli][validate][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);
    const auto dir = cli.work() / "cpp-game";
    const auto init = cli.dev({"init", dir.string(), "--template", "cpp", "--name", "Cpp Game"});
    INFO(init.text());
    REQUIRE(init.code == 0);
    CHECK(fs::exists(dir / "include" / "gamestore" / "sdk.hpp"));
    CHECK(fs::exists(dir / "include" / "gamestore" / "sdk" / "reporter.hpp"));
    CHECK(fs::exists(dir / "CMakeLists.txt"));
    const auto manifest = json::parse(file_text(dir / "manifest.json"));
    CHECK(manifest.at("game_name") == "Cpp Game");
    CHECK(manifest.at("server").at("command") == "bin/server");

    // Unbuilt, the package refers to binaries that do not exist yet.
    const auto unbuilt = cli.dev({"validate", dir.string()});
    CHECK(unbuilt.code != 0);

    // The README's build, one g++ per binary (-O0 keeps it quick), no shell.
    const auto compiler = find_compiler();
    REQUIRE_FALSE(compiler.empty());
    for (const std::string role : {"server", "client"}) {
        gamestore::testing::SpawnOptions options;
        options.argv = {compiler.string(), "-std=c++20", "-O0", "-pthread", "-Iinclude", "src/" + role + ".cpp", "-o", "bin/" + role};
        options.cwd = dir;
        options.stdout_file = cli.work() / ("gxx-" + role + ".log");
        options.stderr_file = cli.work() / ("gxx-" + role + ".log");
        gamestore::testing::ChildProcess compiler(options);
        const auto code = compiler.wait_exit_code(240s);
        INFO(file_text(cli.work() / ("gxx-" + role + ".log")));
        REQUIRE(code == 0);
    }
    // A whole match: the scaffolded client never reads the keyboard (it
    // plays a random number), so it runs headless as the validator starts it.
    // Heartbeats every 5 s: one interval keeps the run short.
    const auto built = cli.dev({"validate", dir.string(), "--players", "2", "--heartbeat-cycles", "1", "--json"});
    INFO(built.text());
    CHECK(built.code == 0);
    const auto report = json::parse(built.out);
    for (const auto& check : report.at("checks")) {
        INFO(check.dump());
        CHECK(check.at("status") != "fail");
        CHECK(check.at("status") != "warn");
        const std::string name = check.at("name");
        if (name == "client_handshake" || name == "match_plays_to_end" || name == "end_results_schema") {
            CHECK(check.at("status") == "pass");
        }
    }
}
