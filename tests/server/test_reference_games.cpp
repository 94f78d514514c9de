// The reference games through the real platform: bots play full matches of
// Connect Four (2 players) and Liar's Dice (3 players); the recorded match in
// the database names every player with a valid outcome.

#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "platform/packages/command_template.hpp"
#include "platform/store/sqlite_store.hpp"
#include "tests/support/platform_harness.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono_literals;
using gamestore::testing::ChildProcess;
using gamestore::testing::ServerFixture;
using gamestore::testing::TempDir;
using gamestore::testing::TestPlayer;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void play_bot_match(const std::string& package, const std::string& game, const std::vector<std::string>& names) {
    TempDir work;
    std::vector<std::string> args = {"--fast-password-hash"};
    const auto ports = gamestore::testing::unique_game_ports_args();
    args.insert(args.end(), ports.begin(), ports.end());
    ServerFixture server(args);

    const auto package_dir = gamestore::testing::build_dir() / "games" / "packages" / package;
    REQUIRE(fs::exists(package_dir / "manifest.json"));
    gamestore::testing::TestDeveloper publisher(server, "refdev");
    const auto zip = gamestore::testing::zip_package_dir(package_dir, work.path());
    auto published = publisher.publish_zip(zip);
    REQUIRE(published.ok);
    REQUIRE(published.data.at("game").at("name") == game);

    std::vector<std::unique_ptr<TestPlayer>> players;
    for (const auto& name : names) {
        players.push_back(std::make_unique<TestPlayer>(server, name));
    }
    const auto room_id = players[0]->require("room.create", {{"game", game}}).at("room").at("room_id");
    for (std::size_t i = 1; i < players.size(); ++i) {
        players[i]->require("room.join", {{"room_id", room_id}});
    }
    for (auto& player : players) {
        player->require("room.ready");
    }
    players[0]->require("room.start");

    std::vector<std::unique_ptr<ChildProcess>> clients;
    std::string match_id;
    for (auto& player : players) {
        auto room = player->wait_room([](const json& r) { return r.at("state") == "IN_GAME"; });
        REQUIRE(room);
        match_id = room->at("match_id");
        const auto spec = gamestore::testing::client_launch_for(package_dir, room->at("launch"), player->name(),
                                                                work.path() / ("client-" + player->name()));
        gamestore::testing::SpawnOptions options;
        options.argv = spec.argv;
        // Resolve the program the way the launcher does (PATH, or relative
        // to the package): the test spawner execs argv[0] as a path.
        gamestore::packages::LaunchSpec resolved{spec.argv, {}, spec.cwd};
        const char* path = std::getenv("PATH");
        const auto program = gamestore::packages::resolve_program(resolved, path ? path : "/usr/bin:/bin");
        REQUIRE(program);
        options.argv[0] = program->string();
        for (const auto& [key, value] : spec.env) options.env[key] = value;
        options.env["GAMESTORE_BOT"] = "1";  // the reference clients play themselves
        options.cwd = spec.cwd;
        options.stdout_file = work.path() / (player->name() + ".out");
        options.stderr_file = work.path() / (player->name() + ".out");
        clients.push_back(std::make_unique<ChildProcess>(options));
    }
    for (auto& player : players) {
        auto ended = player->wait_event("match.ended", 120s);
        REQUIRE(ended);
        CHECK(ended->at("status") == "END");
        // WAITING again means the cleanup (and the match record) is done.
        REQUIRE(player->wait_room([](const json& r) { return r.at("state") == "WAITING"; }));
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        INFO(gamestore::testing::read_file(work.path() / (names[i] + ".out")));
        CHECK(clients[i]->wait_exit_code(30s) == 0);
    }

    // What the platform recorded.
    auto store = gamestore::store::SqliteStore::open(server.data_dir() / "gamestore.db");
    REQUIRE(store.ok());
    auto match = (*store)->get_match(match_id);
    REQUIRE(match.ok());
    CHECK(gamestore::store::to_string(match->status) == "END");
    const auto results = json::parse(match->results_json);
    REQUIRE(results.size() == names.size());
    std::set<std::string> named;
    int winners = 0;
    for (const auto& row : results) {
        named.insert(row.at("player").get<std::string>());
        const auto outcome = row.at("outcome").get<std::string>();
        CHECK((outcome == "WIN" || outcome == "LOSE" || outcome == "DRAW"));
        winners += outcome == "WIN";
    }
    CHECK(named == std::set<std::string>(names.begin(), names.end()));
    CHECK(winners <= 1);
    for (const auto& name : names) {
        auto player = (*store)->find_account(gamestore::store::Role::Player, name);
        REQUIRE(player.ok());
        auto game_row = (*store)->find_game(game);
        REQUIRE(game_row.ok());
        CHECK((*store)->has_played(player->id, game_row->id).value());
    }
}

}  // namespace

TEST_CASE("Connect Four: two bots play a full match through the platform", "[games][integration]") {
    play_bot_match("connect_four", "Connect Four", {"ada", "ben"});
}

TEST_CASE("Liar's Dice: three bots play a full match through the platform", "[games][integration]") {
    play_bot_match("liars_dice", "Liar's Dice", {"cid", "dot", "eve"});
}
