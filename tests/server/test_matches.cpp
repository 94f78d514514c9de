// Rooms and matches end to end (issue "Rooms and matches"): the real server,
// real fakegame processes, real sockets; every wait is on an event with a
// deadline.

#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "platform/launch/process_launcher.hpp"
#include "tests/support/platform_harness.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"

using namespace std::chrono_literals;
using gamestore::testing::ChildProcess;
using gamestore::testing::ServerFixture;
using gamestore::testing::TempDir;
using gamestore::testing::TestDeveloper;
using gamestore::testing::TestPlayer;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> server_args(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--fast-password-hash", "--stop-grace", "1", "--end-grace", "1"};
    auto ports = gamestore::testing::unique_game_ports_args();
    args.insert(args.end(), ports.begin(), ports.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

bool state_is(const json& room, const char* state) {
    return room.at("state") == state;
}

// Players gather in one room of `game`, get ready, and the first starts.
std::vector<std::unique_ptr<TestPlayer>> gather_and_start(const ServerFixture& server, const std::string& game,
                                                          const std::vector<std::string>& names) {
    std::vector<std::unique_ptr<TestPlayer>> players;
    for (const auto& name : names) {
        players.push_back(std::make_unique<TestPlayer>(server, name));
    }
    const auto created = players[0]->require("room.create", {{"game", game}});
    const auto room_id = created.at("room").at("room_id").get<std::int64_t>();
    for (std::size_t i = 1; i < players.size(); ++i) {
        players[i]->require("room.join", {{"room_id", room_id}});
    }
    for (auto& player : players) {
        player->require("room.ready", {{"ready", true}});
    }
    players[0]->require("room.start");
    return players;
}

// Every room.updated a player saw: STARTING never carries launch info, and
// IN_GAME always carries a port and a client token (invariants I1/I2).
void check_visibility_invariants(const TestPlayer& player) {
    for (const auto& event : player.events()) {
        if (event.name != "room.updated") continue;
        const auto& room = event.data;
        if (room.at("state") == "STARTING") {
            CHECK_FALSE(room.contains("launch"));
            CHECK(room.contains("match_id"));
        }
        if (room.at("state") == "IN_GAME") {
            REQUIRE(room.contains("launch"));
            CHECK(room.at("launch").at("port").get<int>() > 0);
            CHECK(room.at("launch").at("client_token").get<std::string>().size() == 32);
        }
    }
}

std::unique_ptr<ChildProcess> launch_client(const std::string& profile, const json& launch, const std::string& name,
                                            const fs::path& work) {
    const auto package = gamestore::testing::build_dir() / "fakegames" / "packages" / profile;
    const auto spec = gamestore::testing::client_launch_for(package, launch, name, work / ("client-" + name));
    gamestore::testing::SpawnOptions options;
    options.argv = spec.argv;
    options.argv[0] = (spec.cwd / spec.argv[0]).lexically_normal().string();
    for (const auto& [key, value] : spec.env) options.env[key] = value;
    options.cwd = spec.cwd;
    options.stdout_file = work / ("client-" + name + ".log");
    options.stderr_file = work / ("client-" + name + ".log");
    return std::make_unique<ChildProcess>(options);
}

bool no_match_processes(const std::string& match_id) {
    return gamestore::launch::processes_with_env_entry(match_id).empty();
}

json stats(TestPlayer& player) {
    return player.require("server.stats");
}

// Waits for a lobby.updated push listing no rooms: a room is deleted only
// once its match's cleanup (stop, port, dir) is done.
bool wait_no_rooms(TestPlayer& observer, std::chrono::milliseconds timeout = 20s) {
    if (stats(observer).at("rooms") == 0) {
        return true;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto event = observer.client().next_event(left);
        if (event && event->name == "lobby.updated" && event->data.at("rooms").empty()) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("2- and 3-player matches run to END, record history and unlock reviews", "[matches][integration]") {
    TempDir work;
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("ok", "Fake OK", "1.0.0", 2);

    for (const auto& names : std::vector<std::vector<std::string>>{{"alice", "bob"}, {"carol", "dave", "erin"}}) {
        auto players = gather_and_start(server, game, names);
        std::vector<std::unique_ptr<ChildProcess>> clients;
        std::string match_id;
        for (auto& player : players) {
            auto room = player->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
            REQUIRE(room);
            match_id = room->at("match_id");
            // Tokens never reach any argv of the match's processes.
            clients.push_back(launch_client("ok", room->at("launch"), player->name(), work.path()));
        }
        for (pid_t pid : gamestore::launch::processes_with_env_entry(match_id)) {
            const auto cmdline = gamestore::testing::cmdline_of(pid);
            for (auto& player : players) {
                for (const auto& event : player->events()) {
                    if (event.name == "room.updated" && event.data.contains("launch")) {
                        CHECK(cmdline.find(event.data["launch"]["client_token"].get<std::string>()) == std::string::npos);
                    }
                }
            }
        }
        for (auto& player : players) {
            auto ended = player->wait_event("match.ended");
            REQUIRE(ended);
            CHECK(ended->at("status") == "END");
            CHECK(ended->at("results").size() == names.size());
            auto waiting = player->wait_room([](const json& r) { return state_is(r, "WAITING"); });
            REQUIRE(waiting);
            for (const auto& member : waiting->at("members")) {
                CHECK(member.at("ready") == false);
            }
            check_visibility_invariants(*player);
        }
        for (auto& client : clients) {
            CHECK(client->wait_exit_code(20s) == 0);
        }
        CHECK(no_match_processes(match_id));
        CHECK_FALSE(fs::exists(server.data_dir() / "matches" / match_id));
        auto review = players.back()->call("review.post", {{"game", game}, {"rating", 4}, {"text", "solid"}});
        CHECK(review.ok);
        CHECK(stats(*players[0]).at("ports_in_use") == 0);
    }
}

TEST_CASE("a delayed bind keeps the room STARTING until STARTED; the startup timeout kills a slow one",
          "[matches][integration]") {
    ServerFixture server(server_args({"--startup-timeout", "4"}));
    TestDeveloper dev(server, "maker");
    const auto slow = dev.publish_fakegame("delay-bind", "Slow Bind");
    const auto too_slow = dev.publish_fakegame("delay-bind-too-long", "Too Slow");

    {
        auto players = gather_and_start(server, slow, {"fay"});
        auto starting = players[0]->wait_room([](const json& r) { return state_is(r, "STARTING"); });
        REQUIRE(starting);
        CHECK_FALSE(starting->contains("launch"));
        auto in_game = players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(in_game);
        CHECK(in_game->contains("launch"));
        TestPlayer observer(server, "observer1");
        players[0]->require("room.leave");  // the last member leaving aborts the match
        CHECK(wait_no_rooms(observer));
        CHECK(no_match_processes(in_game->at("match_id")));
    }
    {
        auto players = gather_and_start(server, too_slow, {"gus"});
        auto ended = players[0]->wait_event("match.ended", 20s);
        REQUIRE(ended);
        CHECK(ended->at("status") == "TIMEOUT");
        auto waiting = players[0]->wait_room([](const json& r) { return state_is(r, "WAITING"); });
        REQUIRE(waiting);
        CHECK(waiting->at("last_error").get<std::string>().find("did not report STARTED") != std::string::npos);
        const auto match_id = ended->at("match_id").get<std::string>();
        CHECK(no_match_processes(match_id));
        CHECK_FALSE(fs::exists(server.data_dir() / "matches" / match_id));
        check_visibility_invariants(*players[0]);
    }
}

TEST_CASE("a game server exiting before or after STARTED returns the room to WAITING, cleaned",
          "[matches][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    for (const auto& profile : {std::string("exit-before-started"), std::string("exit-after-started")}) {
        const auto game = dev.publish_fakegame(profile, "Fake " + profile);
        auto players = gather_and_start(server, game, {"h-" + profile.substr(0, 10)});
        auto ended = players[0]->wait_event("match.ended", 20s);
        REQUIRE(ended);
        CHECK(ended->at("status") == "CRASHED");
        auto waiting = players[0]->wait_room([](const json& r) { return state_is(r, "WAITING"); });
        REQUIRE(waiting);
        CHECK(waiting->at("members")[0].at("ready") == false);
        const auto match_id = ended->at("match_id").get<std::string>();
        CHECK(no_match_processes(match_id));
        CHECK_FALSE(fs::exists(server.data_dir() / "matches" / match_id));
        CHECK(stats(*players[0]).at("ports_in_use") == 0);
    }
}

TEST_CASE("silent heartbeats are killed at 5x; SIGTERM-ignoring servers and setsid grandchildren are killed",
          "[matches][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    {
        const auto game = dev.publish_fakegame("stop-heartbeats", "Quiet");
        auto players = gather_and_start(server, game, {"ian"});
        REQUIRE(players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); }));
        auto ended = players[0]->wait_event("match.ended", 30s);
        REQUIRE(ended);
        CHECK(ended->at("status") == "TIMEOUT");
        CHECK(ended->at("reason").get<std::string>().find("no heartbeat") != std::string::npos);
        REQUIRE(players[0]->wait_room([](const json& r) { return state_is(r, "WAITING"); }));
        CHECK(no_match_processes(ended->at("match_id")));
    }
    for (const auto& profile : {std::string("ignore-sigterm"), std::string("grandchild")}) {
        const auto game = dev.publish_fakegame(profile, "Stubborn " + profile);
        auto players = gather_and_start(server, game, {"j-" + profile.substr(0, 10)});
        auto in_game = players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(in_game);
        const auto match_id = in_game->at("match_id").get<std::string>();
        CHECK_FALSE(no_match_processes(match_id));
        // Everyone leaving aborts the match; its stop must reach everything.
        TestPlayer observer(server, "obs-" + profile.substr(0, 8));
        players[0]->require("room.leave");
        CHECK(wait_no_rooms(observer));
        CHECK(no_match_processes(match_id));
    }
    CHECK(server.log().find("ignored SIGTERM") != std::string::npos);
}

TEST_CASE("stale, forged and replayed reports change nothing", "[matches][integration]") {
    TempDir work;
    ServerFixture server(server_args({"--startup-timeout", "3"}));
    TestDeveloper dev(server, "maker");
    {
        const auto game = dev.publish_fakegame("stale-match-id", "Stale");
        auto players = gather_and_start(server, game, {"kim"});
        auto ended = players[0]->wait_event("match.ended", 20s);
        REQUIRE(ended);
        CHECK(ended->at("status") == "TIMEOUT");  // its STARTED never counted
        CHECK(stats(*players[0]).at("matches").at("stale_reports").get<int>() > 0);
        for (const auto& event : players[0]->events()) {
            if (event.name == "room.updated") CHECK(event.data.at("state") != "IN_GAME");
        }
    }
    {
        const auto game = dev.publish_fakegame("wrong-report-token", "Forged");
        auto players = gather_and_start(server, game, {"lee"});
        auto ended = players[0]->wait_event("match.ended", 20s);
        REQUIRE(ended);
        CHECK(ended->at("status") == "TIMEOUT");
        CHECK(stats(*players[0]).at("matches").at("forged_reports").get<int>() > 0);
    }
    for (const auto& profile : {std::string("end-twice"), std::string("end-then-error")}) {
        const auto game = dev.publish_fakegame(profile, "Twice " + profile);
        auto players = gather_and_start(server, game, {"m-" + profile.substr(0, 8)});
        auto room = players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(room);
        auto client = launch_client(profile, room->at("launch"), players[0]->name(), work.path());
        auto ended = players[0]->wait_event("match.ended", 20s);
        REQUIRE(ended);
        CHECK(ended->at("status") == "END");
        REQUIRE(players[0]->wait_room([](const json& r) { return state_is(r, "WAITING"); }));
        int terminal_events = 0;
        for (const auto& event : players[0]->events()) {
            if (event.name == "match.ended") ++terminal_events;
        }
        CHECK(terminal_events == 1);
        CHECK(stats(*players[0]).at("matches").at("rejected_reports").get<int>() +
                  stats(*players[0]).at("matches").at("stale_reports").get<int>() >= 1);
        client->wait_exit_code(10s);
    }
}

TEST_CASE("abuse on the report port does not stall the lobby or drop a connection for bad lines",
          "[matches][integration]") {
    ServerFixture server(server_args());
    TestPlayer watcher(server, "watcher");
    gamestore::testing::RawConnection abuser(server.endpoints().report_host, server.endpoints().report_port);
    // A 1 MiB line, then a flood.
    abuser.send(std::string(1024 * 1024, 'x') + "\n");
    std::string flood;
    for (int i = 0; i < 3000; ++i) {
        flood += R"({"type":"GAME.REPORT","room_id":1,"report_token":"t","match_id":"m","status":"HEARTBEAT"})" "\n";
    }
    abuser.send(flood);
    // The lobby answers while the abuse is being processed.
    auto pong = watcher.call("ping");
    CHECK(pong.ok);

    gamestore::testing::RawConnection sloppy(server.endpoints().report_host, server.endpoints().report_port);
    REQUIRE(sloppy.send("{not json\n"));
    auto reply = sloppy.read_line(5s);
    REQUIRE(reply);
    CHECK(json::parse(*reply).at("ok") == false);
    REQUIRE(sloppy.send(R"({"room_id":99,"report_token":"t","match_id":"gone","status":"HEARTBEAT"})" "\n"));
    reply = sloppy.read_line(5s);
    REQUIRE(reply);  // same connection, still served
    CHECK(json::parse(*reply).at("ok") == false);
    CHECK(watcher.call("ping").ok);
}

TEST_CASE("kill -9 of the platform mid-match: the restart kills the orphan and rooms work",
          "[matches][integration]") {
    TempDir data;
    std::string match_id;
    {
        ServerFixture server(server_args(), data.path() / "var");
        TestDeveloper dev(server, "maker");
        const auto game = dev.publish_fakegame("ok", "Survivor", "1.0.0", 1);
        auto players = gather_and_start(server, game, {"nat"});
        auto room = players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(room);
        match_id = room->at("match_id");
        server.kill_hard();
        // The orphan usually lives on; it may also die of SIGPIPE on its next
        // write, its log pipe having lost its reader. Either way the restart
        // must leave nothing of the match behind.
        if (!no_match_processes(match_id)) {
            INFO("the orphaned game server survived the platform; the restart must kill it");
        }
    }
    ServerFixture restarted(server_args(), data.path() / "var");
    CHECK(no_match_processes(match_id));
    CHECK(restarted.log().find("closed as ABORTED") != std::string::npos);
    CHECK_FALSE(fs::exists(data.path() / "var" / "matches" / match_id));
    auto players = gather_and_start(restarted, "Survivor", {"nat"});
    CHECK(players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); }));
}

TEST_CASE("a server started with a relative --data-dir launches game servers", "[matches][integration]") {
    ServerFixture server(server_args(), "var");
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("ok", "Relative", "1.0.0", 1);
    auto players = gather_and_start(server, game, {"ola"});
    auto room = players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME") || state_is(r, "ENDING"); });
    REQUIRE(room);
    CHECK(room->at("state") == "IN_GAME");
}

TEST_CASE("lobby.watch turns the lobby.updated pushes of one connection off and on", "[server][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "watchmaker");
    const auto game = dev.publish_fakegame("ok", "Fake Watch");
    TestPlayer quiet(server, "quiet");
    TestPlayer watcher(server, "watcher");
    TestPlayer host(server, "host");
    CHECK(quiet.require("lobby.watch", {{"on", false}}).at("on") == false);
    CHECK(quiet.call("lobby.watch", {{"on", "no"}}).error_code == "BAD_REQUEST");

    auto lists_room = [&](TestPlayer& player) {
        for (int i = 0; i < 50; ++i) {
            auto update = player.wait_event("lobby.updated", 10s);
            if (!update) return false;
            if (!update->at("rooms").empty()) return true;
        }
        return false;
    };
    host.require("room.create", {{"game", game}});
    REQUIRE(lists_room(watcher));
    // Pushes to every session are queued together; quiet's answer to a ping
    // comes after anything pushed to it then, so nothing may be waiting.
    quiet.require("ping");
    CHECK_FALSE(quiet.wait_event("lobby.updated", 1ms));

    CHECK(quiet.require("lobby.watch").at("on") == true);  // default: on
    host.require("room.leave");
    auto update = quiet.wait_event("lobby.updated", 10s);
    REQUIRE(update);
}
