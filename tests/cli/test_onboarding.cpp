// A newcomer's first hour, through the real binaries: `gamestore-dev init`
// gives a package that passes the validator with its clients, `gamestore-dev
// validate` takes every validate_game_package option, and the README's
// walkthrough works as written: ./ci/serve's --seed-games publishes the
// reference games (once, however often it restarts) and two
// `gamestore-player play "Connect Four"` bots finish a match.

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include <catch2/catch.hpp>

#include "platform/store/sqlite_store.hpp"
#include "tests/cli/cli_harness.hpp"
#include "tests/support/platform_harness.hpp"

using namespace gamestore::cli_test;
using namespace std::chrono_literals;
using gamestore::testing::ServerFixture;
using gamestore::testing::TestPlayer;
using nlohmann::json;

namespace {

fs::path fakegame_package(const std::string& profile) {
    return gamestore::testing::build_dir() / "fakegames" / "packages" / profile;
}

fs::path reference_games_dir() {
    return gamestore::testing::build_dir() / "games" / "packages";
}

// The status of one check in a validator --json report.
std::string status_of(const json& report, const std::string& check) {
    for (const auto& entry : report.at("checks")) {
        if (entry.at("name") == check) {
            return entry.at("status");
        }
    }
    return "(absent)";
}

// --- the README, read as a script --------------------------------------------

// A command line split the way a POSIX shell splits these simple ones:
// blanks separate words, double quotes group, `# ...` is a comment.
std::vector<std::string> shell_words(const std::string& line) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    bool quoted = false;
    for (const char c : line) {
        if (quoted) {
            if (c == '"') {
                quoted = false;
            } else {
                word += c;
            }
        } else if (c == '"') {
            quoted = true;
            in_word = true;
        } else if (c == '#' && !in_word) {
            break;
        } else if (c == ' ' || c == '\t') {
            if (in_word) {
                words.push_back(word);
                word.clear();
                in_word = false;
            }
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word) {
        words.push_back(word);
    }
    return words;
}

// The ```sh blocks of the README section whose heading starts with `heading`,
// one vector of command lines per block.
std::vector<std::vector<std::vector<std::string>>> readme_blocks(const std::string& heading) {
    const auto readme = gamestore::testing::read_file(gamestore::testing::source_dir() / "README.md");
    const auto start = readme.find("\n## " + heading);
    REQUIRE(start != std::string::npos);
    const auto end = readme.find("\n## ", start + 1);
    const auto section = readme.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::vector<std::vector<std::vector<std::string>>> blocks;
    const std::regex block_pattern("```sh\n([^`]*)```");
    for (std::sregex_iterator it(section.begin(), section.end(), block_pattern), last; it != last; ++it) {
        std::vector<std::vector<std::string>> commands;
        std::istringstream lines((*it)[1].str());
        std::string line;
        while (std::getline(lines, line)) {
            auto words = shell_words(line);
            if (!words.empty()) {
                commands.push_back(std::move(words));
            }
        }
        blocks.push_back(std::move(commands));
    }
    return blocks;
}

constexpr const char* kPlayerProgram = "build/bin/gamestore-player";

}  // namespace

TEST_CASE("gamestore-dev init (python) passes the validator with its clients", "[cli][validate][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);
    const auto dir = cli.work() / "py-game";
    const auto init = cli.dev({"init", dir.string(), "--name", "Py Game"});
    INFO(init.text());
    REQUIRE(init.code == 0);
    // The hint names a command that is on the developer's PATH with the tools.
    CHECK(init.out.find("gamestore-dev validate " + dir.string()) != std::string::npos);
    CHECK(init.out.find("validate_game_package") == std::string::npos);

    // Two clients play a whole match (no terminal: they pick their numbers
    // themselves, as they do with GAMESTORE_BOT=1). Heartbeats every 2 s.
    const auto run = cli.dev({"validate", dir.string(), "--players", "2", "--heartbeat-cycles", "2", "--json"});
    INFO(run.text());
    CHECK(run.code == 0);
    const auto report = json::parse(run.out);
    for (const auto& check : report.at("checks")) {
        INFO(check.dump());
        CHECK(check.at("status") != "fail");
        CHECK(check.at("status") != "warn");
    }
    for (const char* check : {"client_handshake", "handshake_accepts_valid_client", "match_plays_to_end",
                              "end_results_schema", "single_terminal_report", "no_tokens_in_argv"}) {
        INFO(check);
        CHECK(status_of(report, check) == "pass");
    }
}

TEST_CASE("gamestore-dev validate passes every validate_game_package option through", "[cli][validate][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);
    const auto ok = fakegame_package("ok").string();

    // The dynamic options: --players with --no-clients, --grace,
    // --heartbeat-cycles, --timeout-scale, --match-timeout, and the outputs.
    // --junit is relative: it means the directory gamestore-dev runs in.
    const auto dynamic = cli.dev({"validate", ok, "--players", "2", "--no-clients", "--json", "--junit", "report.xml",
                                  "--grace", "1", "--heartbeat-cycles", "1", "--timeout-scale", "1.5",
                                  "--match-timeout", "30", "--keep-temp"});
    INFO(dynamic.text());
    CHECK(dynamic.code == 0);
    const auto report = json::parse(dynamic.out);
    CHECK(status_of(report, "client_handshake") == "skipped");  // --no-clients
    CHECK(status_of(report, "sigterm_stops_group") == "pass");
    std::string started_message;
    std::string heartbeat_message;
    for (const auto& check : report.at("checks")) {
        if (check.at("name") == "started_within_timeout") started_message = check.at("message");
        if (check.at("name") == "heartbeat_cadence") heartbeat_message = check.at("message");
    }
    CHECK(started_message.find("x 1.5 (--timeout-scale)") != std::string::npos);
    CHECK(!heartbeat_message.empty());
    const auto junit = cli.work() / "report.xml";  // the harness runs the tools in work()
    REQUIRE(fs::exists(junit));
    CHECK(file_text(junit).find("name=\"sigterm_stops_group\"") != std::string::npos);
    REQUIRE(report.contains("temp_dir"));  // --keep-temp
    const fs::path kept = report.at("temp_dir").get<std::string>();
    CHECK(fs::is_directory(kept));
    std::error_code ec;
    fs::remove_all(kept, ec);

    // The static options: --static-only and the server's package limits.
    const auto limited = cli.dev({"validate", ok, "--json", "--static-only", "--max-package-entries", "2",
                                  "--max-package-bytes", "100000000", "--max-package-uncompressed", "100000000"});
    INFO(limited.text());
    CHECK(limited.code == 1);
    const auto limits = json::parse(limited.out);
    CHECK(status_of(limits, "package_size") == "fail");
    CHECK(status_of(limits, "started_within_timeout") == "skipped");
    const auto small = cli.dev({"validate", ok, "--json", "--static-only", "--max-package-uncompressed", "1000"});
    CHECK(small.code == 1);
    CHECK(status_of(json::parse(small.out), "package_size") == "fail");

    // Values are checked like the validator checks them: usage error, exit 2.
    CHECK(cli.dev({"validate", ok, "--grace", "-1"}).code == 2);
    CHECK(cli.dev({"validate", ok, "--players", "0"}).code == 2);
    CHECK(cli.dev({"validate", ok, "--heartbeat-cycles", "many"}).code == 2);
}

TEST_CASE("--seed-games publishes the reference games once; the README walkthrough plays Connect Four",
          "[cli][games][integration]") {
    const auto seed_dir = reference_games_dir();
    REQUIRE(fs::exists(seed_dir / "connect_four" / "manifest.json"));
    REQUIRE(fs::exists(seed_dir / "liars_dice" / "manifest.json"));
    // ./ci/serve is what the README starts: it seeds from the same directory.
    const auto serve = gamestore::testing::read_file(gamestore::testing::source_dir() / "ci" / "serve");
    CHECK(serve.find("--seed-games \"$build_dir/games/packages\"") != std::string::npos);

    gamestore::testing::TempDir data("gamestore-seed");
    const auto data_dir = data.path() / "var";
    std::vector<std::string> args = {"--fast-password-hash", "--stop-grace", "1", "--end-grace", "1",
                                     "--seed-games", seed_dir.string()};
    const auto ports = gamestore::testing::unique_game_ports_args();
    args.insert(args.end(), ports.begin(), ports.end());

    // What the store holds of the seeded games: name -> versions.
    const std::map<std::string, std::string> seeded = {{"Connect Four", "connect_four"},
                                                       {"Liar's Dice", "liars_dice"}};
    auto versions_in_store = [&](const std::string& game) {
        auto store = gamestore::store::SqliteStore::open(data_dir / "gamestore.db");
        REQUIRE(store.ok());
        auto found = (*store)->find_game(game);
        REQUIRE(found.ok());
        auto owner = (*store)->find_account(gamestore::store::Role::Developer, "gamestore");
        REQUIRE(owner.ok());
        CHECK(found->owner_id == owner->id);
        auto versions = (*store)->list_versions(found->id, true);
        REQUIRE(versions.ok());
        std::vector<std::string> out;
        for (const auto& version : *versions) out.push_back(version.version);
        return out;
    };
    auto manifest_version = [&](const std::string& package) {
        return json::parse(file_text(seed_dir / package / "manifest.json")).at("version").get<std::string>();
    };

    {  // First start: both games published under the built-in developer.
        ServerFixture first(args, data_dir);
        CHECK(first.stop() == 0);
        const auto log = first.log();
        INFO(log);
        CHECK(log.find("seed: published 'Connect Four'") != std::string::npos);
        CHECK(log.find("seed: published 'Liar's Dice'") != std::string::npos);
    }
    for (const auto& [game, package] : seeded) {
        INFO(game);
        CHECK(versions_in_store(game) == std::vector<std::string>{manifest_version(package)});
    }

    // A restart on the same data dir changes nothing and complains about nothing.
    // (Seeding runs before the server is ready, so its log lines are written.)
    ServerFixture server(args, data_dir);
    {
        const auto log = server.log();
        INFO(log);
        // Every seeding message starts "seed: " (published, refused, failed,
        // belongs to another developer): a clean restart has none.
        CHECK(log.find("seed: ") == std::string::npos);
    }
    for (const auto& [game, package] : seeded) {
        INFO(game);
        CHECK(versions_in_store(game) == std::vector<std::string>{manifest_version(package)});
    }

    // The README, as a person types it (the server block is ./ci/serve,
    // running above); every gamestore-player line runs as written, with
    // GAMESTORE_BOT=1 in front of `play` as the README says for bots.
    CliHarness cli(server);
    TestPlayer observer(server, "readme-watcher");
    for (const auto& block : readme_blocks("Set up")) {
        for (const auto& command : block) {
            if (command.front() != kPlayerProgram) continue;
            const std::vector<std::string> words(command.begin() + 1, command.end());
            const auto r = cli.player(words);
            INFO(r.text());
            CHECK(r.code == 0);
        }
    }
    const auto blocks = readme_blocks("Play a 2-player match");
    REQUIRE(blocks.size() == 3);  // three terminals: the server and two players
    REQUIRE(blocks[0].size() == 1);
    CHECK(blocks[0][0] == std::vector<std::string>{"./ci/serve"});
    std::vector<RunningCli> plays;
    std::vector<std::string> players;
    std::optional<json> host_room;
    for (std::size_t b = 1; b < blocks.size(); ++b) {
        for (const auto& command : blocks[b]) {
            INFO("README: " << json(command).dump());
            REQUIRE(command.front() == kPlayerProgram);
            const std::vector<std::string> words(command.begin() + 1, command.end());
            const auto play_at = std::find(words.begin(), words.end(), "play");
            if (play_at == words.end()) {
                const auto r = cli.player(words);
                INFO(r.text());
                CHECK(r.code == 0);
                continue;
            }
            REQUIRE(play_at + 1 != words.end());
            CHECK(*(play_at + 1) == "Connect Four");
            if (!plays.empty()) {
                // The second player joins "the oldest open room": the host's,
                // once it is waiting there.
                host_room = observer.wait_lobby_room("Connect Four", true, 60s);
                REQUIRE(host_room);
                // "`gamestore-player --user alice rooms` and `players` show
                // the lobby from any terminal", also while alice's play waits.
                for (const char* listing : {"rooms", "players"}) {
                    const auto r = cli.player({"--user", players.front(), listing});
                    INFO(r.text());
                    CHECK(r.code == 0);
                    CHECK(r.out.find(players.front()) != std::string::npos);
                }
                CHECK(cli.player({"--user", players.front(), "rooms"}).out.find("Connect Four") !=
                      std::string::npos);
            }
            plays.push_back(cli.start_player(words, {{"GAMESTORE_BOT", "1"}}));
            const auto user_at = std::find(words.begin(), words.end(), "--user");
            REQUIRE(user_at + 1 < words.end());
            players.push_back(*(user_at + 1));
        }
    }
    REQUIRE(plays.size() == 2);
    CHECK(host_room->at("host") == players[0]);

    std::vector<CliResult> results;
    for (auto& play : plays) {
        results.push_back(play.finish(240s));
    }
    for (std::size_t i = 0; i < results.size(); ++i) {
        INFO(players[i] << ": " << results[i].text());
        CHECK(results[i].code == 0);  // "play exits (0 when the match ended normally)"
        CHECK(results[i].out.find("ended: END.") != std::string::npos);
        CHECK(results[i].out.find(players[i] + " (you)") != std::string::npos);
    }
    // What the README tells the second player to wait for.
    CHECK(results[0].out.find("Waiting until 2 players are ready") != std::string::npos);

    // The platform recorded the match with both players, and seeding still
    // left exactly one version of each game.
    auto store = gamestore::store::SqliteStore::open(data_dir / "gamestore.db");
    REQUIRE(store.ok());
    auto game = (*store)->find_game("Connect Four");
    REQUIRE(game.ok());
    for (const auto& name : players) {
        auto player = (*store)->find_account(gamestore::store::Role::Player, name);
        REQUIRE(player.ok());
        CHECK((*store)->has_played(player->id, game->id).value());
    }
    for (const auto& [name, package] : seeded) {
        INFO(name);
        CHECK(versions_in_store(name) == std::vector<std::string>{manifest_version(package)});
    }
}
