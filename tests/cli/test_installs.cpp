// Installs on the player's machine: a cut download resumes from the .part,
// a flipped byte is detected and never installed, the previous install
// survives every failure, and two players on one machine are separate.

#include <catch2/catch.hpp>

#include "platform/packages/sha256.hpp"
#include "tests/cli/cli_harness.hpp"

using namespace gamestore::cli_test;
using gamestore::testing::ServerFixture;
using nlohmann::json;

namespace {

struct Published {
    fs::path zip;
    std::string bytes;
    std::string sha256;
};

Published publish_version(CliHarness& cli, const std::string& dev, const std::string& game, const std::string& version,
                          const std::string& payload) {
    Published published;
    published.zip = make_package_zip(cli.work() / (game + "-" + version), game, version, payload);
    published.bytes = file_text(published.zip);
    published.sha256 = gamestore::packages::sha256_file(published.zip);
    const auto r = cli.dev({"--user", dev, "publish", published.zip.string()});
    INFO(r.text());
    REQUIRE(r.code == 0);
    return published;
}

// Leaves what an interrupted download leaves: the first bytes in the .part
// and the record of which package they belong to.
void write_partial(CliHarness& cli, const std::string& user, const std::string& game, const std::string& version,
                   const Published& published, const std::string& part_bytes) {
    const auto tmp = cli.player_dir(user) / "tmp";
    fs::create_directories(tmp);
    const auto part = tmp / (game + "-" + version + ".part");
    gamestore::testing::write_file(part, part_bytes);
    gamestore::testing::write_file(part.string() + ".json", json{{"game", game},
                                                                 {"version", version},
                                                                 {"sha256", published.sha256},
                                                                 {"size", published.bytes.size()}}
                                                                .dump());
}

json record_of(CliHarness& cli, const std::string& user, const std::string& game) {
    return json::parse(file_text(cli.player_dir(user) / "games" / game / "installed.json"));
}

}  // namespace

TEST_CASE("a download cut at 50% resumes; a flipped byte is never installed", "[cli][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);
    REQUIRE(cli.dev({"--user", "ada", "account", "register"}).code == 0);
    REQUIRE(cli.player({"--user", "pat", "account", "register"}).code == 0);

    // Incompressible payloads make the zips big enough for "half" to matter.
    const auto v1 = publish_version(cli, "ada", "Tiles", "1.0.0", noise(512 * 1024, 1));
    REQUIRE(cli.player({"--user", "pat", "install", "Tiles"}).code == 0);
    const auto game_dir = cli.player_dir("pat") / "games" / "Tiles";
    REQUIRE(record_of(cli, "pat", "Tiles").at("version") == "1.0.0");

    const auto v2 = publish_version(cli, "ada", "Tiles", "1.1.0", noise(512 * 1024, 2));
    const auto part = cli.player_dir("pat") / "tmp" / "Tiles-1.1.0.part";

    SECTION("resume from the first half") {
        write_partial(cli, "pat", "Tiles", "1.1.0", v2, v2.bytes.substr(0, v2.bytes.size() / 2));
        const auto r = cli.player({"--user", "pat", "update", "Tiles"});
        INFO(r.text());
        REQUIRE(r.code == 0);
        CHECK(r.out.find("Resuming the download of Tiles 1.1.0") != std::string::npos);
        CHECK(r.out.find("(50%)") != std::string::npos);
        CHECK(r.out.find("Updated Tiles from 1.0.0 to 1.1.0") != std::string::npos);
        const auto record = record_of(cli, "pat", "Tiles");
        CHECK(record.at("version") == "1.1.0");
        CHECK(record.at("sha256") == v2.sha256);
        CHECK(file_text(game_dir / "1.1.0" / "data" / "payload.bin") == noise(512 * 1024, 2));
        CHECK_FALSE(fs::exists(part));
        CHECK_FALSE(fs::exists(part.string() + ".json"));
        CHECK_FALSE(fs::exists(game_dir / "1.0.0"));
    }

    SECTION("a flipped byte in the partial download") {
        std::string half = v2.bytes.substr(0, v2.bytes.size() / 2);
        half[half.size() / 3] = static_cast<char>(half[half.size() / 3] ^ 0x20);
        write_partial(cli, "pat", "Tiles", "1.1.0", v2, half);
        auto r = cli.player({"--user", "pat", "update", "Tiles"});
        INFO(r.text());
        CHECK(r.code == 1);
        CHECK(r.err.find("is corrupt") != std::string::npos);
        CHECK(r.err.find("nothing was installed") != std::string::npos);
        // Never installed, the bad bytes are gone, the old install is intact.
        CHECK_FALSE(fs::exists(part));
        CHECK_FALSE(fs::exists(game_dir / "1.1.0"));
        CHECK(record_of(cli, "pat", "Tiles").at("version") == "1.0.0");
        CHECK(file_text(game_dir / "1.0.0" / "data" / "payload.bin") == noise(512 * 1024, 1));
        for (const auto& entry : fs::directory_iterator(game_dir)) {
            const auto name = entry.path().filename().string();
            CHECK((name == "1.0.0" || name == "installed.json"));
        }

        // The next attempt downloads afresh and succeeds.
        r = cli.player({"--user", "pat", "update", "Tiles"});
        INFO(r.text());
        REQUIRE(r.code == 0);
        CHECK(r.out.find("Resuming") == std::string::npos);
        CHECK(record_of(cli, "pat", "Tiles").at("version") == "1.1.0");
    }

    SECTION("a partial download of another package is discarded, not resumed") {
        // Same file name, but the record says it belongs to other bytes.
        Published other = v2;
        other.sha256 = v1.sha256;
        write_partial(cli, "pat", "Tiles", "1.1.0", other, v1.bytes.substr(0, 1000));
        const auto r = cli.player({"--user", "pat", "update"});
        INFO(r.text());
        REQUIRE(r.code == 0);
        CHECK(r.out.find("Resuming") == std::string::npos);
        CHECK(record_of(cli, "pat", "Tiles").at("sha256") == v2.sha256);
    }

    SECTION("a .part longer than the package starts over") {
        write_partial(cli, "pat", "Tiles", "1.1.0", v2, v2.bytes + "trailing garbage");
        const auto r = cli.player({"--user", "pat", "update"});
        INFO(r.text());
        REQUIRE(r.code == 0);
        CHECK(record_of(cli, "pat", "Tiles").at("sha256") == v2.sha256);
    }

    SECTION("a complete .part is verified and installed without downloading") {
        write_partial(cli, "pat", "Tiles", "1.1.0", v2, v2.bytes);
        const auto r = cli.player({"--user", "pat", "update"});
        INFO(r.text());
        REQUIRE(r.code == 0);
        CHECK(record_of(cli, "pat", "Tiles").at("version") == "1.1.0");
    }
}

TEST_CASE("two players on one machine get separate installs", "[cli][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);
    REQUIRE(cli.dev({"--user", "ada", "account", "register"}).code == 0);
    publish_version(cli, "ada", "Duo", "1.0.0", "one");
    publish_version(cli, "ada", "Duo", "2.0.0", "two");

    for (const char* user : {"pia", "pete"}) {
        REQUIRE(cli.player({"--user", user, "account", "register"}).code == 0);
    }
    REQUIRE(cli.player({"--user", "pia", "install", "Duo"}).code == 0);
    REQUIRE(cli.player({"--user", "pete", "install", "Duo", "--version", "1.0.0"}).code == 0);

    CHECK(record_of(cli, "pia", "Duo").at("version") == "2.0.0");
    CHECK(record_of(cli, "pete", "Duo").at("version") == "1.0.0");
    CHECK(file_text(cli.player_dir("pia") / "games" / "Duo" / "2.0.0" / "data" / "payload.bin") == "two");
    CHECK(file_text(cli.player_dir("pete") / "games" / "Duo" / "1.0.0" / "data" / "payload.bin") == "one");

    auto r = cli.player({"--user", "pete", "installed", "--json"});
    REQUIRE(r.code == 0);
    REQUIRE(r.json().at("installed").size() == 1);
    CHECK(r.json().at("installed")[0].at("status") == "update_available");

    r = cli.player({"--user", "pia", "uninstall", "Duo"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    CHECK_FALSE(fs::exists(cli.player_dir("pia") / "games" / "Duo"));
    CHECK(record_of(cli, "pete", "Duo").at("version") == "1.0.0");
    r = cli.player({"--user", "pia", "installed", "--json"});
    REQUIRE(r.code == 0);
    CHECK(r.json().at("installed").empty());

    // Uninstall needs no server.
    r = cli.player({"--user", "pete", "uninstall", "Duo"}, {}, {{"GAMESTORE_SERVER", "127.0.0.1:1"}});
    CHECK(r.code == 0);
    // `installed` still lists local games when the server cannot be reached.
    REQUIRE(cli.player({"--user", "pia", "install", "Duo"}).code == 0);
    r = cli.player({"--user", "pia", "installed", "--json"}, {}, {{"GAMESTORE_SERVER", "127.0.0.1:1"}});
    INFO(r.text());
    CHECK(r.code == 0);
    REQUIRE(r.json().at("installed").size() == 1);
    CHECK(r.json().at("installed")[0].at("status") == "unknown");
    CHECK(r.err.find("cannot compare with the store") != std::string::npos);
}

TEST_CASE("a game name typed in another case installs, updates and uninstalls the store's game",
          "[cli][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);
    REQUIRE(cli.dev({"--user", "ada", "account", "register"}).code == 0);
    publish_version(cli, "ada", "Pebbles", "1.0.0", "one");
    REQUIRE(cli.player({"--user", "pia", "account", "register"}).code == 0);

    auto r = cli.player({"--user", "pia", "install", "pebbles", "--version", "1.0.0"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    CHECK(record_of(cli, "pia", "Pebbles").at("game") == "Pebbles");

    publish_version(cli, "ada", "Pebbles", "1.1.0", "two");
    r = cli.player({"--user", "pia", "update", "PEBBLES"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    CHECK(record_of(cli, "pia", "Pebbles").at("version") == "1.1.0");

    r = cli.player({"--user", "pia", "uninstall", "pebbles"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    CHECK_FALSE(fs::exists(cli.player_dir("pia") / "games" / "Pebbles"));
}
