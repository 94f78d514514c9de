// kill -9 of the server, driven through both CLIs: everything a tool was told
// succeeded (accounts, sessions, versions live and hidden, a delisting, a
// played match and the review it allowed) is there after a restart.

#include <catch2/catch.hpp>

#include "tests/cli/cli_harness.hpp"
#include "tests/support/platform_harness.hpp"

using namespace gamestore::cli_test;
using namespace std::chrono_literals;
using gamestore::testing::ServerFixture;
using nlohmann::json;

namespace {

// A copy of a fakegame package retitled as `game` `version`.
fs::path fakegame_copy(const fs::path& parent, const std::string& game, const std::string& version) {
    const auto source = gamestore::testing::build_dir() / "fakegames" / "packages" / "ok";
    REQUIRE(fs::exists(source / "manifest.json"));
    const auto dir = parent / (game + "-" + version);
    fs::copy(source, dir, fs::copy_options::recursive);
    auto manifest = json::parse(file_text(dir / "manifest.json"));
    manifest["game_name"] = game;
    manifest["version"] = version;
    manifest["min_players"] = 2;
    gamestore::testing::write_file(dir / "manifest.json", manifest.dump(2));
    return dir;
}

bool has_version(const json& versions, const std::string& version, bool live, bool hidden) {
    for (const auto& v : versions) {
        if (v.at("version") == version) {
            return v.at("live") == live && v.at("hidden") == hidden;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("kill -9 and a restart lose nothing the CLIs were told succeeded", "[cli][integration]") {
    gamestore::testing::TempDir temp;
    const auto data = temp.path() / "var";
    std::vector<std::string> args = {"--fast-password-hash", "--stop-grace", "1", "--end-grace", "1"};
    for (const auto& arg : gamestore::testing::unique_game_ports_args()) {
        args.push_back(arg);
    }

    auto first = std::make_unique<ServerFixture>(args, data);
    CliHarness cli(*first);
    auto dev = [&](std::vector<std::string> a, const ServerFixture& server) {
        a.insert(a.begin(), {"--user", "dora"});
        const auto r = cli.dev(a, {}, {{"GAMESTORE_SERVER", server.lobby_address()}});
        INFO("gamestore-dev " << a.at(2) << ": " << r.text());
        REQUIRE(r.code == 0);
        return r;
    };
    auto player = [&](const std::string& user, std::vector<std::string> a, const ServerFixture& server) {
        a.insert(a.begin(), {"--user", user});
        return cli.player(a, {}, {{"GAMESTORE_SERVER", server.lobby_address()}});
    };

    dev({"account", "register"}, *first);
    dev({"publish", fakegame_copy(cli.work(), "Keep", "1.0.0").string()}, *first);
    dev({"publish", fakegame_copy(cli.work(), "Keep", "1.1.0").string(), "--hidden", "--notes", "beta"}, *first);
    dev({"publish", fakegame_copy(cli.work(), "Gone", "1.0.0").string()}, *first);
    dev({"delist", "Gone"}, *first);
    for (const char* user : {"ann", "bob"}) {
        REQUIRE(player(user, {"account", "register"}, *first).code == 0);
    }

    // A review before playing is refused; after a match it is accepted.
    auto early = player("ann", {"review", "Keep", "--rating", "4", "--text", "solid"}, *first);
    INFO(early.text());
    CHECK(early.code == 1);
    gamestore::testing::TestPlayer observer(*first, "watcher");
    auto host = cli.start_player({"--user", "ann", "play", "Keep", "--start-at", "2", "--timeout", "120"},
                                 {{"GAMESTORE_SERVER", first->lobby_address()}});
    // bob joins ann's room, so it must exist first.
    REQUIRE(observer.wait_lobby_room("Keep", true, 60s));
    auto guest = cli.start_player({"--user", "bob", "play", "Keep", "--timeout", "120"},
                                  {{"GAMESTORE_SERVER", first->lobby_address()}});
    finish_match_ok(host, guest);
    auto review = player("ann", {"review", "Keep", "--rating", "4", "--text", "solid"}, *first);
    INFO(review.text());
    REQUIRE(review.code == 0);

    // Every command above was acknowledged; the server now dies hard.
    first->kill_hard();
    first.reset();
    ServerFixture second(args, data);

    // ann's saved session still works (no password prompt needed: none given).
    auto shown = cli.player({"--user", "ann", "store", "show", "Keep", "--json"}, {},
                            {{"GAMESTORE_SERVER", second.lobby_address()}, {"GAMESTORE_PASSWORD", ""}});
    INFO(shown.text());
    REQUIRE(shown.code == 0);
    const auto details = shown.json();
    CHECK(details.at("game").at("live_version") == "1.0.0");
    CHECK(details.at("game").at("rating").at("count") == 1);
    REQUIRE(details.at("reviews").size() == 1);
    CHECK(details.at("reviews")[0].at("author") == "ann");
    CHECK(details.at("reviews")[0].at("rating") == 4);
    CHECK(details.at("reviews")[0].at("text") == "solid");

    auto listed = player("bob", {"store", "list", "--json"}, second);
    INFO(listed.text());
    REQUIRE(listed.code == 0);
    REQUIRE(listed.json().at("games").size() == 1);
    CHECK(listed.json().at("games")[0].at("name") == "Keep");

    auto versions = dev({"versions", "Keep", "--json"}, second).json().at("versions");
    CHECK(has_version(versions, "1.0.0", true, false));
    CHECK(has_version(versions, "1.1.0", false, true));
    auto games = dev({"games", "--json"}, second).json().at("games");
    bool gone_delisted = false;
    for (const auto& game : games) {
        gone_delisted = gone_delisted || (game.at("name") == "Gone" && game.at("delisted") == true);
    }
    CHECK(gone_delisted);
    // bob played, so bob may review after the restart too.
    CHECK(player("bob", {"review", "Keep", "--rating", "5"}, second).code == 0);
}
