// The store's whole flow through the real command-line tools (docs/CLI.md):
// a developer registers and publishes two versions, a player lists and
// installs, the developer rolls back and the player follows, the developer
// delists and the game disappears. Plus accounts, sessions and exit codes.

#include <sys/stat.h>

#include <optional>

#include <catch2/catch.hpp>

#include "platform/packages/sha256.hpp"
#include "tests/cli/cli_harness.hpp"

using namespace gamestore::cli_test;
using gamestore::testing::ServerFixture;
using nlohmann::json;

namespace {

// A copy, never a pointer: callers pass temporaries (r.json()).
std::optional<json> find_game(const json& games, const std::string& name) {
    for (const auto& game : games) {
        if (game.at("name") == name) {
            return game;
        }
    }
    return std::nullopt;
}

json installed_entry(CliHarness& cli, const std::string& user, const std::string& game) {
    const auto result = cli.player({"--user", user, "installed", "--json"});
    REQUIRE(result.code == 0);
    const auto document = result.json();
    for (const auto& entry : document.at("installed")) {
        if (entry.at("game") == game) {
            return entry;
        }
    }
    return nullptr;
}

}  // namespace

TEST_CASE("publish two versions, install, roll back, update, delist", "[cli][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);

    auto r = cli.dev({"--user", "alice", "account", "register"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    CHECK(r.out.find("Created the developer account 'alice'") != std::string::npos);

    // 1.0.0 from a directory (packed by the tool), 1.1.0 from a zip.
    const auto dir_v1 = make_package_dir(cli.work(), "Pebbles", "1.0.0", "version one");
    r = cli.dev({"--user", "alice", "publish", dir_v1.string(), "--notes", "first release"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    CHECK(r.out.find("Created the game Pebbles.") != std::string::npos);
    CHECK(r.out.find("Published Pebbles 1.0.0") != std::string::npos);

    const auto zip_v2 = make_package_zip(cli.work(), "Pebbles", "1.1.0", "version two");
    r = cli.dev({"--user", "alice", "publish", zip_v2.string(), "--notes", "better"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    CHECK(r.out.find("it is now live") != std::string::npos);

    r = cli.dev({"--user", "alice", "versions", "Pebbles", "--json"});
    REQUIRE(r.code == 0);
    const auto versions = r.json().at("versions");
    REQUIRE(versions.size() == 2);
    for (const auto& version : versions) {
        CHECK(version.at("live") == (version.at("version") == "1.1.0"));
    }

    // The player sees 1.1.0 and installs it.
    r = cli.player({"--user", "bob", "account", "register"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    r = cli.player({"--user", "bob", "store", "list", "--json"});
    REQUIRE(r.code == 0);
    const auto listed = find_game(r.json().at("games"), "Pebbles");
    REQUIRE(listed);
    CHECK(listed->at("live_version") == "1.1.0");
    CHECK(listed->at("author") == "alice");

    r = cli.player({"--user", "bob", "install", "Pebbles"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    CHECK(r.out.find("Installed Pebbles 1.1.0") != std::string::npos);
    const auto game_dir = cli.player_dir("bob") / "games" / "Pebbles";
    CHECK(file_text(game_dir / "1.1.0" / "data" / "payload.bin") == "version two");
    const auto record = json::parse(file_text(game_dir / "installed.json"));
    CHECK(record.at("version") == "1.1.0");
    CHECK(record.at("sha256") == gamestore::packages::sha256_file(zip_v2));
    auto entry = installed_entry(cli, "bob", "Pebbles");
    CHECK(entry.at("status") == "up_to_date");

    // Installing again does nothing.
    r = cli.player({"--user", "bob", "install", "Pebbles"});
    REQUIRE(r.code == 0);
    CHECK(r.out.find("already installed") != std::string::npos);

    // Rollback: the developer makes 1.0.0 live; the player is offered it.
    r = cli.dev({"--user", "alice", "set-live", "Pebbles", "1.0.0"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    entry = installed_entry(cli, "bob", "Pebbles");
    CHECK(entry.at("version") == "1.1.0");
    CHECK(entry.at("live_version") == "1.0.0");
    CHECK(entry.at("status") == "rollback_available");
    r = cli.player({"--user", "bob", "installed"});
    CHECK(r.out.find("rollback available: 1.0.0") != std::string::npos);

    r = cli.player({"--user", "bob", "update"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    CHECK(r.out.find("Rolled Pebbles back from 1.1.0 to 1.0.0") != std::string::npos);
    CHECK(file_text(game_dir / "1.0.0" / "data" / "payload.bin") == "version one");
    CHECK_FALSE(fs::exists(game_dir / "1.1.0"));  // the replaced version is removed
    entry = installed_entry(cli, "bob", "Pebbles");
    CHECK(entry.at("version") == "1.0.0");
    CHECK(entry.at("status") == "up_to_date");
    r = cli.player({"--user", "bob", "update", "Pebbles"});
    REQUIRE(r.code == 0);
    CHECK(r.out.find("Pebbles is up to date (1.0.0)") != std::string::npos);

    // An explicit older/newer version can be installed too.
    r = cli.player({"--user", "bob", "install", "Pebbles", "--version", "1.1.0"});
    REQUIRE(r.code == 0);
    CHECK(installed_entry(cli, "bob", "Pebbles").at("status") == "rollback_available");
    r = cli.player({"--user", "bob", "install", "Pebbles", "--version", "9.9.9"});
    CHECK(r.code == 1);
    CHECK(r.err.find("has no version 9.9.9") != std::string::npos);

    // Delist: gone from the store, install refused; relist brings it back.
    r = cli.dev({"--user", "alice", "delist", "Pebbles"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    r = cli.dev({"--user", "alice", "games", "--json"});
    REQUIRE(r.code == 0);
    const auto mine = find_game(r.json().at("games"), "Pebbles");
    REQUIRE(mine);
    CHECK(mine->at("delisted") == true);

    r = cli.player({"--user", "bob", "store", "list", "--json"});
    REQUIRE(r.code == 0);
    CHECK_FALSE(find_game(r.json().at("games"), "Pebbles").has_value());
    r = cli.player({"--user", "carol", "account", "register"});
    REQUIRE(r.code == 0);
    r = cli.player({"--user", "carol", "install", "Pebbles"});
    INFO(r.text());
    CHECK(r.code == 1);
    CHECK_FALSE(r.err.empty());
    CHECK_FALSE(fs::exists(cli.player_dir("carol") / "games" / "Pebbles"));
    // The installed copy stays and is reported as delisted.
    CHECK(installed_entry(cli, "bob", "Pebbles").at("status") == "delisted");

    r = cli.dev({"--user", "alice", "relist", "Pebbles"});
    REQUIRE(r.code == 0);
    r = cli.player({"--user", "bob", "store", "list", "--json"});
    REQUIRE(r.code == 0);
    CHECK(find_game(r.json().at("games"), "Pebbles").has_value());

    // Hidden versions do not go live.
    const auto zip_v3 = make_package_zip(cli.work(), "Pebbles", "1.2.0", "version three");
    r = cli.dev({"--user", "alice", "publish", zip_v3.string(), "--hidden"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    CHECK(r.out.find("hidden, 1.0.0 stays live") != std::string::npos);
    r = cli.player({"--user", "bob", "store", "show", "Pebbles", "--json"});
    REQUIRE(r.code == 0);
    const auto shown = r.json();
    CHECK(shown.at("game").at("live_version") == "1.0.0");
    for (const auto& version : shown.at("versions")) {
        CHECK(version.at("version") != "1.2.0");
    }
}

TEST_CASE("sessions are saved per role and user with mode 0600 and survive between runs", "[cli][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);

    REQUIRE(cli.player({"--user", "dana", "account", "register"}).code == 0);
    const auto session_file = cli.home() / "player" / "dana" / "session.json";
    REQUIRE(fs::exists(session_file));
    struct stat info {};
    REQUIRE(::stat(session_file.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    const auto token = json::parse(file_text(session_file)).at("token").get<std::string>();
    CHECK(token.size() >= 32);

    // The saved token is resumed: no password needed any more.
    auto r = cli.player({"--user", "dana", "store", "list"}, {}, {{"GAMESTORE_PASSWORD", ""}});
    INFO(r.text());
    CHECK(r.code == 0);
    CHECK(r.out.find("The store has no games yet.") != std::string::npos);
    // ...and never on the command line of a child, nor in output.
    CHECK(r.text().find(token) == std::string::npos);

    // Developer and player namespaces are separate.
    r = cli.dev({"--user", "dana", "games"});
    CHECK(r.code == 1);
    CHECK(r.err.find("Signing in as the developer account 'dana' failed") != std::string::npos);

    // Logging out ends the session and deletes the file; then a password is needed.
    r = cli.player({"--user", "dana", "account", "logout"});
    INFO(r.text());
    CHECK(r.code == 0);
    CHECK_FALSE(fs::exists(session_file));
    r = cli.player({"--user", "dana", "store", "list"}, {}, {{"GAMESTORE_PASSWORD", ""}});
    CHECK(r.code == 2);
    CHECK(r.err.find("set GAMESTORE_PASSWORD") != std::string::npos);
    r = cli.player({"--user", "dana", "account", "login"});
    CHECK(r.code == 0);
    CHECK(fs::exists(session_file));

    // A stale token (revoked by a later login elsewhere) falls back to the password.
    auto elsewhere = sign_in(server, "player", "dana", /*register_first=*/false);
    r = cli.player({"--user", "dana", "store", "list"});
    INFO(r.text());
    CHECK(r.code == 0);

    // Wrong password: refused with the server's sentence.
    gamestore::cli_test::CliResult wrong = cli.player({"--user", "dana", "account", "login"}, {},
                                                      {{"GAMESTORE_PASSWORD", "not-the-password"}});
    CHECK(wrong.code == 1);
    CHECK(wrong.err.find("failed:") != std::string::npos);
}

TEST_CASE("exit codes: usage 2, unreachable 3, refused 1", "[cli][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);

    CHECK(cli.player({"--no-such-flag"}).code == 2);
    CHECK(cli.player({"review", "Pebbles", "--rating", "9"}).code == 2);
    CHECK(cli.player({"review", "Pebbles", "--rating", "3", "--delete"}).code == 2);
    CHECK(cli.dev({"set-live", "OnlyOneArg"}).code == 2);
    auto r = cli.player({"store", "list"});  // no --user and no terminal to ask on
    CHECK(r.code == 2);
    CHECK(r.err.find("--user") != std::string::npos);
    CHECK(cli.player({"--help"}).code == 0);

    // Nothing listens on port 1.
    r = cli.player({"--user", "erin", "store", "list"}, {}, {{"GAMESTORE_SERVER", "127.0.0.1:1"}});
    CHECK(r.code == 3);
    CHECK(r.err.find("Cannot reach the server") != std::string::npos);
    r = cli.dev({"--user", "erin", "account", "register"}, {}, {{"GAMESTORE_SERVER", "127.0.0.1:1"}});
    CHECK(r.code == 3);

    REQUIRE(cli.player({"--user", "erin", "account", "register"}).code == 0);
    r = cli.player({"--user", "erin", "account", "register"});
    CHECK(r.code == 1);  // the name is taken
    r = cli.player({"--user", "erin", "store", "show", "NoSuchGame"});
    CHECK(r.code == 1);
    CHECK(r.err.find("NoSuchGame") != std::string::npos);
    r = cli.player({"--user", "erin", "install", "NoSuchGame"});
    CHECK(r.code == 1);
    r = cli.player({"--user", "erin", "uninstall", "NoSuchGame"});
    CHECK(r.code == 2);
    r = cli.player({"--user", "erin", "update", "NoSuchGame"});
    CHECK(r.code == 2);

    // Reviews need a played match: refused with a sentence, not a code.
    REQUIRE(cli.dev({"--user", "fred", "account", "register"}).code == 0);
    const auto dir = make_package_dir(cli.work(), "Reviewed", "1.0.0");
    REQUIRE(cli.dev({"--user", "fred", "publish", dir.string()}).code == 0);
    r = cli.player({"--user", "erin", "review", "Reviewed", "--rating", "4", "--text", "nice"});
    CHECK(r.code == 1);
    CHECK(r.err.find("FORBIDDEN") == std::string::npos);
    CHECK(r.err.find("Reviewing Reviewed failed:") != std::string::npos);
    r = cli.player({"--user", "erin", "review", "Reviewed", "--delete"});
    CHECK(r.code == 1);
}

TEST_CASE("init scaffolds a package that passes the local and the server checks", "[cli][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);
    const auto dir = cli.work() / "my-game";
    auto r = cli.dev({"init", dir.string(), "--name", "Scaffolded"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    for (const char* file : {"manifest.json", "server.py", "client.py", "gamestore_sdk.py", "README.md"}) {
        CHECK(fs::is_regular_file(dir / file));
    }
    const auto manifest = json::parse(file_text(dir / "manifest.json"));
    CHECK(manifest.at("game_name") == "Scaffolded");
    CHECK(manifest.at("version") == "0.1.0");
    CHECK(file_text(dir / "server.py").find("GAME_NAME = \"Scaffolded\"") != std::string::npos);

    // A second init into the same (now non-empty) directory is refused.
    r = cli.dev({"init", dir.string()});
    CHECK(r.code == 2);
    // A name the manifest rules refuse is refused before anything is written.
    r = cli.dev({"init", (cli.work() / "bad").string(), "--name", "a/b"});
    CHECK(r.code == 2);
    CHECK_FALSE(fs::exists(cli.work() / "bad"));

    REQUIRE(cli.dev({"--user", "gina", "account", "register"}).code == 0);
    r = cli.dev({"--user", "gina", "publish", dir.string(), "--json"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    CHECK(r.json().at("game").at("name") == "Scaffolded");
    CHECK(r.json().at("game_created") == true);
}
