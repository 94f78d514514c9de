// The interactive menus, scripted over stdin: numbered choices, re-prompts
// with the valid range, actions reaching the server, and a clean exit at end
// of input.

#include <catch2/catch.hpp>

#include "tests/cli/cli_harness.hpp"

using namespace gamestore::cli_test;
using gamestore::testing::ServerFixture;
using nlohmann::json;

namespace {

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        ++count;
    }
    return count;
}

}  // namespace

TEST_CASE("the player menu: invalid input re-prompts, install via the store, end of input exits", "[cli][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);
    REQUIRE(cli.dev({"--user", "ada", "account", "register"}).code == 0);
    REQUIRE(cli.dev({"--user", "ada", "publish", make_package_dir(cli.work(), "Menu Game", "1.0.0").string()}).code ==
            0);

    SECTION("not signed in yet: create the account from the menu") {
        // 7: out of range; "x": not a number; 2: create account; then main
        // menu 1: browse, 1: first game, 1: install, 4: back; 2: installed
        // games, 0: back; 5: quit.
        const auto r = cli.player({"--user", "mia"}, "7\nx\n2\n1\n1\n1\n4\n2\n0\n5\n");
        INFO(r.text());
        CHECK(r.code == 0);
        CHECK(count_of(r.out, "Please enter a number from 1 to 3.") == 2);
        CHECK(r.out.find("Created the player account 'mia' and signed in.") != std::string::npos);
        CHECK(r.out.find("Main menu (signed in as player mia)") != std::string::npos);
        CHECK(r.out.find("1) Menu Game 1.0.0") != std::string::npos);
        CHECK(r.out.find("Installed Menu Game 1.0.0") != std::string::npos);
        CHECK(r.out.find("Menu Game 1.0.0 - up to date") != std::string::npos);
        CHECK(fs::exists(cli.player_dir("mia") / "games" / "Menu Game" / "installed.json"));
    }

    SECTION("a saved session goes straight to the main menu; end of input quits cleanly") {
        REQUIRE(cli.player({"--user", "mia", "account", "register"}).code == 0);
        const auto r = cli.player({"--user", "mia"}, "0\n6\n1\n9\n");
        INFO(r.text());
        CHECK(r.code == 0);
        CHECK(r.out.find("Welcome") == std::string::npos);
        CHECK(count_of(r.out, "Please enter a number from 1 to 5.") == 2);
        CHECK(r.out.find("Please enter a number from 0 to 1.") != std::string::npos);
    }

    SECTION("the account name is asked for when --user is missing; sign out from the menu") {
        REQUIRE(cli.player({"--user", "nia", "account", "register"}).code == 0);
        const auto r = cli.player({}, "nia\n4\n");
        INFO(r.text());
        CHECK(r.code == 0);
        CHECK(r.out.find("Account name: ") != std::string::npos);
        CHECK(r.out.find("Signed out of the player account 'nia'.") != std::string::npos);
        CHECK_FALSE(fs::exists(cli.home() / "player" / "nia" / "session.json"));
    }

    SECTION("a failure is a sentence and the menu comes back") {
        REQUIRE(cli.player({"--user", "mia", "account", "register"}).code == 0);
        // browse, game 1, write a review (3 stars, text): refused (never played), back, quit.
        const auto r = cli.player({"--user", "mia"}, "1\n1\n2\n3\ngreat\n4\n5\n");
        INFO(r.text());
        CHECK(r.code == 0);
        CHECK(r.out.find("Reviewing Menu Game failed:") != std::string::npos);
        CHECK(r.out.find("FORBIDDEN") == std::string::npos);
        CHECK(count_of(r.out, "What would you like to do with Menu Game?") == 2);
    }
}

TEST_CASE("the developer menu: publish, roll back and delist by number", "[cli][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);
    REQUIRE(cli.dev({"--user", "dev", "account", "register"}).code == 0);
    const auto v1 = make_package_dir(cli.work(), "Menu Dev", "1.0.0");
    const auto v2 = make_package_dir(cli.work(), "Menu Dev", "2.0.0");

    // 6: out of range; publish v1 (notes, not hidden); publish v2; my games,
    // game 1, make a version live, pick 2 (1.0.0, listed newest first),
    // delist (yes), back; quit.
    const std::string script = "6\n2\n" + v1.string() + "\nfirst\n\n2\n" + v2.string() + "\nsecond\nn\n" +
                               "1\n1\n1\n2\n2\ny\n3\n5\n";
    const auto r = cli.dev({"--user", "dev"}, script);
    INFO(r.text());
    CHECK(r.code == 0);
    CHECK(r.out.find("Please enter a number from 1 to 5.") != std::string::npos);
    CHECK(r.out.find("Published Menu Dev 1.0.0") != std::string::npos);
    CHECK(r.out.find("Published Menu Dev 2.0.0") != std::string::npos);
    CHECK(r.out.find("Menu Dev 1.0.0 is live.") != std::string::npos);
    CHECK(r.out.find("Menu Dev is delisted") != std::string::npos);

    const auto games = cli.dev({"--user", "dev", "games", "--json"});
    REQUIRE(games.code == 0);
    REQUIRE(games.json().at("games").size() == 1);
    CHECK(games.json().at("games")[0].at("live_version") == "1.0.0");
    CHECK(games.json().at("games")[0].at("delisted") == true);

    // Scaffolding from the menu, then end of input in the middle of a prompt.
    const auto scaffold = cli.work() / "from-menu";
    const auto r2 = cli.dev({"--user", "dev"}, "3\n" + scaffold.string() + "\nFromMenu\n1\n2\n");
    INFO(r2.text());
    CHECK(r2.code == 0);
    CHECK(fs::exists(scaffold / "manifest.json"));
    CHECK(fs::exists(scaffold / "server.py"));
}
