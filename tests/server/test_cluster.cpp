// Several gamestore-server nodes on one PostgreSQL (docs/SCALING.md): they
// list each other, a sign-in on one ends the account's session on another,
// a killed node is declared dead within the liveness timeout, and a restart
// rejoins as a new generation. Real servers, a private PostgreSQL cluster.

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/launch/process_launcher.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/platform_harness.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"
#include "tests/support/server_fixture.hpp"

using namespace std::chrono_literals;
using gamestore::protocol::LobbyMirror;
using gamestore::testing::ChildProcess;
using gamestore::testing::PgCluster;
using gamestore::testing::RawConnection;
using gamestore::testing::ServerFixture;
using gamestore::testing::SpawnOptions;
using gamestore::testing::TempDir;
using gamestore::testing::TestDeveloper;
using gamestore::testing::TestPlayer;
using nlohmann::json;

namespace {

const std::string kAdminToken(40, 'c');

// `pinned`: rooms stay on the node they are made on (--room-placement
// local), for tests that need to know where each room lives.
std::vector<std::string> node_args(const std::string& database, const std::string& node_id,
                                   bool pinned = false) {
    std::vector<std::string> args = {"--database",    database,    "--node-id",           node_id,
                                     "--admin-token", kAdminToken, "--fast-password-hash"};
    if (pinned) {
        args.insert(args.end(), {"--room-placement", "local"});
    }
    return args;
}

// The admin dashboard's live stream of a node (one state a second), read
// as it comes: waiting on it is waiting on the node's own view.
class AdminStream {
  public:
    explicit AdminStream(const ServerFixture& server)
        : connection_(server.endpoints().http_host, server.endpoints().http_port) {
        REQUIRE(connection_.send(
            "GET /admin/events HTTP/1.1\r\nHost: gamestore\r\nAuthorization: Bearer " +
            kAdminToken + "\r\n\r\n"));
    }

    // The first state that satisfies `accept` within `timeout`.
    std::optional<json> wait(const std::function<bool(const json&)>& accept,
                             std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            const auto line = connection_.read_line(std::max(left, 1ms));
            if (!line) {
                return std::nullopt;
            }
            if (line->rfind("data: ", 0) != 0) {
                continue;  // headers, chunk sizes, blank separators
            }
            auto state = json::parse(line->substr(6), nullptr, false);
            if (state.is_object() && accept(state)) {
                last_ = state;
                return state;
            }
        }
        return std::nullopt;
    }

  private:
    RawConnection connection_;
    json last_;
};

std::optional<json> node_in(const json& state, const std::string& node_id) {
    if (!state.contains("cluster") || !state["cluster"].is_object()) {
        return std::nullopt;
    }
    for (const auto& node : state["cluster"]["nodes"]) {
        if (node.at("node_id") == node_id) {
            return node;
        }
    }
    return std::nullopt;
}

bool node_alive(const json& state, const std::string& node_id) {
    const auto node = node_in(state, node_id);
    return node && node->at("alive").get<bool>();
}

}  // namespace

TEST_CASE(
    "cluster nodes list each other, end sessions across nodes, see a killed node die and rejoin",
    "[cluster][integration]") {
    REQUIRE(PgCluster::available());
    const auto database = PgCluster::shared().create_database();
    ServerFixture a(node_args(database, "a", true));
    TempDir b_dir("gamestore-node-b");
    auto b = std::make_unique<ServerFixture>(node_args(database, "b", true), b_dir.path() / "var");

    AdminStream seen_by_a(a);
    const auto both =
        seen_by_a.wait([](const json& s) { return node_alive(s, "a") && node_alive(s, "b"); }, 15s);
    REQUIRE(both);
    CHECK(node_in(*both, "a")->at("self") == true);
    CHECK(node_in(*both, "b")->at("lobby_address") == b->lobby_address());
    const auto b_generation = node_in(*both, "b")->at("generation").get<std::int64_t>();

    // One active session per account, cluster-wide: signing in on b ends the
    // session on a.
    TestPlayer on_a(a, "ada");
    TestPlayer on_b(*b, "ada");
    const auto revoked = on_a.wait_event("session.revoked", 10s);
    REQUIRE(revoked);
    CHECK(revoked->at("reason").get<std::string>().find("signed in from another connection") !=
          std::string::npos);
    CHECK(on_b.call("auth.whoami").ok);
    // A revocation whose notification never came (written straight into the
    // database here) still closes the connection: each node rechecks the
    // sessions it serves every few seconds.
    PgCluster::shared().admin(
        "UPDATE sessions SET revoked_at = 1, revoked_reason = 'logout' WHERE account_id = "
        "(SELECT id FROM accounts WHERE role = 'player' AND name = 'ada') AND revoked_at IS NULL",
        database);
    CHECK(on_b.wait_event("session.revoked", 20s));

    // Room ids come from one sequence: rooms made on both nodes at once
    // never share an id.
    TestDeveloper dev(a, "maker");
    const auto game = dev.publish_fakegame("never-started", "Waiting Room");
    std::set<std::int64_t> room_ids;
    std::set<std::int64_t> rooms_of_b;
    std::vector<std::unique_ptr<TestPlayer>> hosts;
    const auto create = [&](TestPlayer& host) {
        return host.require("room.create", {{"game", game}})
            .at("room")
            .at("room_id")
            .get<std::int64_t>();
    };
    for (int i = 0; i < 3; ++i) {
        hosts.push_back(std::make_unique<TestPlayer>(a, "host-a" + std::to_string(i)));
        room_ids.insert(create(*hosts.back()));
        hosts.push_back(std::make_unique<TestPlayer>(*b, "host-b" + std::to_string(i)));
        const auto id = create(*hosts.back());
        room_ids.insert(id);
        rooms_of_b.insert(id);
    }
    CHECK(room_ids.size() == 6);

    // The shared lobby: a player on either node sees every room and every
    // player of both, through the same deltas as a single server's, and
    // once the changes have settled both see the same lobby.
    TestPlayer watcher_a(a, "watcher-a");
    TestPlayer watcher_b(*b, "watcher-b");
    const auto everything = [&](const LobbyMirror& mirror) {
        for (const auto id : room_ids) {
            if (!mirror.rooms().count(id))
                return false;
        }
        return mirror.players().count("watcher-a") && mirror.players().count("watcher-b") &&
               mirror.players().count("host-b2") && mirror.players().count("host-a2");
    };
    REQUIRE(watcher_a.wait_lobby(everything, 15s));
    REQUIRE(watcher_b.wait_lobby(everything, 15s));
    CHECK(watcher_a.lobby().rooms() == watcher_b.lobby().rooms());
    // The game published through a is in b's catalogue too (b rereads it
    // when a announces the change; the lobby changes above came after it).
    const auto listed_on_b = [&] {
        const auto page = watcher_b.require("store.list");
        for (const auto& listed : page.at("games")) {
            if (listed.at("name") == game) {
                return true;
            }
        }
        return false;
    };
    bool listed = listed_on_b();
    for (int attempt = 0; !listed && attempt < 200; ++attempt) {
        listed = listed_on_b();  // each round trip is the wait; bounded
    }
    CHECK(listed);
    CHECK(watcher_b.require("store.show", {{"game", game}}).at("game").at("name") == game);
    CHECK(watcher_a.lobby().players() == watcher_b.lobby().players());
    const auto b0_room = *rooms_of_b.begin();
    // a's admin dashboard lists b's rooms too, with their node.
    const auto dashboard = seen_by_a.wait(
        [&](const json& s) {
            for (const auto& room : s.at("rooms")) {
                if (room.at("room_id") == b0_room) {
                    return room.value("node", "") == "b" && room.value("remote", false);
                }
            }
            return false;
        },
        10s);
    CHECK(dashboard);
    CHECK(watcher_a.lobby().rooms().at(b0_room).at("members").at(0).at("name") == "host-b0");
    // A room of b asked for on a: MOVED, with where to go instead.
    TestPlayer traveller(a, "traveller");
    const auto moved = traveller.call_here("room.join", {{"room_id", b0_room}});
    REQUIRE_FALSE(moved.ok);
    CHECK(moved.error_code == "MOVED");
    CHECK(moved.details.at("node_id") == "b");
    CHECK(moved.details.at("address") == b->lobby_address());
    CHECK(moved.details.at("room_id") == b0_room);
    CHECK(moved.message.find("is on node b") != std::string::npos);
    // A client following it resumes its session on b and joins there.
    const auto joined = traveller.require("room.join", {{"room_id", b0_room}});
    CHECK(joined.at("room").at("room_id") == b0_room);
    CHECK(traveller.address() == b->lobby_address());
    CHECK(traveller.redirects_followed() == 1);
    CHECK(traveller.require("auth.whoami").at("account").at("name") == "traveller");
    // A change on b reaches a's watchers as a delta.
    hosts[1]->require("room.ready", {{"ready", true}});
    REQUIRE(watcher_a.wait_lobby(
        [&](const LobbyMirror& mirror) {
            const auto room = mirror.rooms().find(b0_room);
            return room != mirror.rooms().end() &&
                   room->second.at("members").at(0).at("ready") == true;
        },
        10s));

    // kill -9: no clean leave, so a sees b die after the liveness timeout.
    const auto killed_at = std::chrono::steady_clock::now();
    b->kill_hard();
    const auto dead =
        seen_by_a.wait([](const json& s) { return node_in(s, "b") && !node_alive(s, "b"); }, 15s);
    REQUIRE(dead);
    // Its rooms and players leave the lobby of the living.
    CHECK(watcher_a.wait_lobby(
        [&](const LobbyMirror& mirror) {
            for (const auto id : rooms_of_b) {
                if (mirror.rooms().count(id))
                    return false;
            }
            return !mirror.players().count("watcher-b") && mirror.players().count("watcher-a");
        },
        10s));
    INFO("b declared dead after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - killed_at)
                                         .count()
                                  << " ms");
    CHECK(node_in(*dead, "b")->at("silent_seconds").get<double>() >= 5.0);

    // The restart takes its id back as a new generation.
    b.reset();
    ServerFixture b_again(node_args(database, "b", true), b_dir.path() / "var");
    const auto back = seen_by_a.wait([](const json& s) { return node_alive(s, "b"); }, 15s);
    REQUIRE(back);
    CHECK(node_in(*back, "b")->at("generation").get<std::int64_t>() > b_generation);

    // A clean stop leaves at once: its row is gone.
    REQUIRE(b_again.stop() == 0);
    REQUIRE(seen_by_a.wait([](const json& s) { return s.contains("cluster") && !node_in(s, "b"); },
                           10s));
}

namespace {

// Starts gamestore-server with `args` and expects it to refuse to start:
// a non-zero exit within the deadline, and `sentence` in its log.
void expect_refused_start(const std::vector<std::string>& args, const std::string& sentence) {
    TempDir dir("gamestore-node-refused");
    SpawnOptions options;
    options.argv = {gamestore::testing::binary("gamestore-server").string(),
                    "--listen",
                    "127.0.0.1:0",
                    "--report-listen",
                    "127.0.0.1:0",
                    "--http-listen",
                    "127.0.0.1:0",
                    "--data-dir",
                    (dir.path() / "var").string()};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.stdout_file = dir.path() / "server.log";
    options.stderr_file = dir.path() / "server.log";
    ChildProcess server(options);
    const auto code = server.wait_exit_code(30s);
    REQUIRE(code);
    CHECK(*code != 0);
    CHECK(gamestore::testing::read_file(dir.path() / "server.log").find(sentence) !=
          std::string::npos);
}

}  // namespace

TEST_CASE("a second process with a node id that a live node keeps is refused",
          "[cluster][integration]") {
    REQUIRE(PgCluster::available());
    const auto database = PgCluster::shared().create_database();
    ServerFixture a(node_args(database, "a"));
    expect_refused_start(node_args(database, "a"), "is kept alive by another process");
    // The node that holds the id is unaffected.
    TestPlayer still(a, "grace");
    CHECK(still.call("auth.whoami").ok);
}

TEST_CASE("--node-id needs a PostgreSQL database", "[cluster][integration]") {
    expect_refused_start({"--node-id", "a"}, "--node-id needs a PostgreSQL");
}

TEST_CASE("a restarted node reconciles only its own matches", "[cluster][integration]") {
    REQUIRE(PgCluster::available());
    const auto database = PgCluster::shared().create_database();
    TempDir a_dir("gamestore-node-a");
    auto a = std::make_unique<ServerFixture>(node_args(database, "a"), a_dir.path() / "var");
    auto b_args = node_args(database, "b");
    b_args.insert(b_args.end(), {"--startup-timeout", "120"});
    ServerFixture b(b_args);

    // A match that stays STARTING on b (its game server never reports).
    TestDeveloper dev(*a, "maker");
    const auto game = dev.publish_fakegame("never-started", "Slow Start");
    TestPlayer host(b, "host");
    const auto room_id =
        host.require("room.create", {{"game", game}}).at("room").at("room_id").get<std::int64_t>();
    host.require("room.ready", {{"ready", true}});
    const auto match_id = host.require("room.start").at("room").at("match_id").get<std::string>();

    // a crashes and restarts: it closes the matches it left open, not b's.
    a->kill_hard();
    a.reset();
    ServerFixture a_again(node_args(database, "a"), a_dir.path() / "var");
    CHECK(a_again.log().find(match_id) == std::string::npos);
    const auto room = host.require("room.get", {{"room_id", room_id}});
    CHECK(room.at("room").at("state") == "STARTING");
    CHECK(room.at("room").at("match_id") == match_id);
}

TEST_CASE("new rooms go to the least loaded node unless rooms are pinned to the node reached",
          "[cluster][integration]") {
    REQUIRE(PgCluster::available());
    const auto database = PgCluster::shared().create_database();
    ServerFixture a(node_args(database, "a"));
    TempDir b_dir("gamestore-node-b");
    ServerFixture b(node_args(database, "b"), b_dir.path() / "var");
    auto pinned_args = node_args(database, "c");
    pinned_args.insert(pinned_args.end(), {"--room-placement", "local"});
    TempDir c_dir("gamestore-node-c");
    ServerFixture c(pinned_args, c_dir.path() / "var");
    AdminStream seen_by_a(a);
    AdminStream seen_by_c(c);
    const auto all_alive = [](const json& s) {
        return node_alive(s, "a") && node_alive(s, "b") && node_alive(s, "c");
    };
    REQUIRE(seen_by_a.wait(all_alive, 15s));
    REQUIRE(seen_by_c.wait(all_alive, 15s));

    TestDeveloper dev(a, "maker");
    const auto game = dev.publish_fakegame("never-started", "Placed Rooms");
    std::vector<std::unique_ptr<TestPlayer>> players;
    const auto create_on = [&](const ServerFixture& node, const std::string& name) -> TestPlayer& {
        players.push_back(std::make_unique<TestPlayer>(node, name));
        auto& player = *players.back();
        player.require("room.create", {{"game", game}});
        return player;
    };
    // Two rooms on a: a is not ahead of the others by two yet.
    CHECK(create_on(a, "pat1").address() == a.lobby_address());
    CHECK(create_on(a, "pat2").address() == a.lobby_address());
    // The third: a runs two rooms to everyone else's none, so it goes
    // elsewhere; the answer says where, the client follows.
    players.push_back(std::make_unique<TestPlayer>(a, "pat3"));
    auto& p3 = *players.back();
    const auto moved = p3.call_here("room.create", {{"game", game}});
    REQUIRE_FALSE(moved.ok);
    CHECK(moved.error_code == "MOVED");
    CHECK_FALSE(moved.details.contains("room_id"));
    const auto sent_to = moved.details.at("node_id").get<std::string>();
    CHECK((sent_to == "b" || sent_to == "c"));
    // Asked again, a counts the room it just sent away: the other node is
    // now the least loaded.
    const auto room = p3.require("room.create", {{"game", game}}).at("room");
    CHECK(p3.redirects_followed() == 1);
    const std::string target = sent_to == "b" ? "c" : "b";
    CHECK(p3.address() == (target == "b" ? b.lobby_address() : c.lobby_address()));
    // Every node lists it as the target's room.
    TestPlayer watcher(a, "watcher");
    const auto room_id = room.at("room_id").get<std::int64_t>();
    CHECK(watcher.wait_lobby(
        [&](const LobbyMirror& m) {
            return m.rooms().count(room_id) > 0 && m.players().count("pat3") &&
                   m.players().at("pat3").value("room_id", json()) == room_id;
        },
        10s));
    // A player in a room on one node cannot make another room elsewhere: a
    // second connection of p3's session, on a, is refused.
    gamestore::client::SyncLobbyClient second;
    second.connect(a.endpoints().lobby_host, a.endpoints().lobby_port);
    REQUIRE(second.call("auth.resume", {{"token", p3.token()}}).ok);
    const auto twice = second.call("room.create", {{"game", game}});
    CHECK(twice.error_code == "CONFLICT");
    CHECK(twice.message.find("on node " + target) != std::string::npos);

    // c keeps every room made there (--room-placement local), however far
    // ahead it gets.
    for (int i = 0; i < 5; ++i) {
        auto& player = create_on(c, "pinned" + std::to_string(i));
        CHECK(player.address() == c.lobby_address());
        CHECK(player.redirects_followed() == 0);
    }
}

TEST_CASE("the open matches of a node that does not come back are closed by another node",
          "[cluster][integration]") {
    REQUIRE(PgCluster::available());
    const auto database = PgCluster::shared().create_database();
    auto a_args = node_args(database, "a");
    a_args.insert(a_args.end(), {"--dead-node-matches-after", "2"});
    ServerFixture a(a_args);
    TempDir b_dir("gamestore-node-b");
    auto b_args = node_args(database, "b");
    b_args.insert(b_args.end(), {"--startup-timeout", "120"});
    auto b = std::make_unique<ServerFixture>(b_args, b_dir.path() / "var");
    AdminStream seen_by_a(a);
    REQUIRE(seen_by_a.wait([](const json& s) { return node_alive(s, "a") && node_alive(s, "b"); },
                           15s));

    // A match that stays STARTING on b (its game server never reports).
    TestDeveloper dev(a, "maker");
    const auto game = dev.publish_fakegame("never-started", "Left Behind");
    TestPlayer host(*b, "host");
    host.require("room.create", {{"game", game}});
    host.require("room.ready", {{"ready", true}});
    const auto match_id = host.require("room.start").at("room").at("match_id").get<std::string>();
    const auto status_of = [&] {
        return PgCluster::shared().query(
            "SELECT status || ' ' || reason FROM matches WHERE match_id = '" + match_id + "'",
            database);
    };
    CHECK(status_of().rfind("OPEN", 0) == 0);

    // b's machine is gone: a sees it dead after 5 s, and 2 s later closes
    // its match (checked at each of a's dashboard states, one a second).
    b->kill_hard();
    const auto closed =
        seen_by_a.wait([&](const json&) { return status_of().rfind("ABORTED", 0) == 0; }, 20s);
    REQUIRE(closed);
    CHECK(status_of().find("its cluster node 'b' died and did not come back within 2 s") !=
          std::string::npos);
    CHECK(a.log().find("closed 1 open matches of node 'b'") != std::string::npos);

    // b comes back after all: a game server its crash left running (if the
    // sandbox did not already end it with its parent) belongs to a finished
    // match of its data dir, so its startup ends it; the record stays.
    b.reset();
    ServerFixture b_again(b_args, b_dir.path() / "var");
    CHECK(gamestore::launch::processes_with_env_entry(match_id).empty());
    CHECK(status_of().rfind("ABORTED", 0) == 0);
}
