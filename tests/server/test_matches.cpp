// Rooms and matches end to end (docs/MATCHES.md): the real server,
// real fakegame processes, real sockets; every wait is on an event with a
// deadline.
//
// Some tests play the game server themselves: a fakegame that never reports
// (profile never-started) holds the match's port and process, and the test
// reports for it with the match's real report_token (read from the match
// directory, as a game server would), so it can check every reply.

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "platform/asio/asio.hpp"
#include "platform/launch/healthcheck_hosts.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/packages/sha256.hpp"
#include "platform/server/catalog_cache.hpp"
#include "platform/server/child_reaper.hpp"
#include "platform/server/lobby_server.hpp"
#include "platform/server/local_match_host.hpp"
#include "platform/server/package_cache.hpp"
#include "platform/server/platform_services.hpp"
#include "platform/server/server_metrics.hpp"
#include "platform/store/open_store.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/platform_harness.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"

using namespace std::chrono_literals;
using gamestore::testing::ChildProcess;
using gamestore::testing::RawConnection;
using gamestore::testing::ServerFixture;
using gamestore::testing::SpawnOptions;
using gamestore::testing::TempDir;
using gamestore::testing::TestDeveloper;
using gamestore::testing::TestPlayer;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> server_args(std::vector<std::string> extra = {}, const std::string& stop_grace = "1") {
    std::vector<std::string> args = {"--fast-password-hash", "--stop-grace", stop_grace, "--end-grace", "1"};
    auto ports = gamestore::testing::unique_game_ports_args();
    args.insert(args.end(), ports.begin(), ports.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

bool state_is(const json& room, const char* state) {
    return room.at("state") == state;
}

// A room snapshot back in WAITING after match `match_id` ended (members see
// the last result in their snapshot).
std::function<bool(const json&)> waiting_after(const std::string& match_id) {
    return [match_id](const json& room) {
        return state_is(room, "WAITING") && room.contains("last_result") &&
               room["last_result"].value("match_id", "") == match_id;
    };
}

int ended_events_for(const TestPlayer& player, const std::string& match_id) {
    int count = 0;
    for (const auto& event : player.events()) {
        if (event.name == "match.ended" && event.data.value("match_id", "") == match_id) ++count;
    }
    return count;
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

// One more match in the player's (single-member) room: ready, start; the
// new match's id (the room.start answer comes once it is spawned).
std::string start_again(TestPlayer& player) {
    player.require("room.ready", {{"ready", true}});
    return player.require("room.start").at("room").at("match_id").get<std::string>();
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

std::int64_t match_counter(TestPlayer& player, const char* name) {
    return stats(player).at("matches").at(name).get<std::int64_t>();
}

// Waits until the observer's copy of the lobby lists no rooms: a room is
// deleted only once its match's cleanup (stop, port, dir) is done.
bool wait_no_rooms(TestPlayer& observer, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto left = [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
    };
    // The copy lags the rooms by up to one 50 ms batch (a fresh snapshot
    // shows what was last sent, which may predate a room): an empty copy is
    // confirmed by the live list, else the next delta is awaited.
    while (left().count() > 0) {
        if (!observer.wait_lobby(
                [](const gamestore::protocol::LobbyMirror& lobby) { return lobby.rooms().empty(); },
                left())) {
            return false;
        }
        if (observer.require("room.list").at("rooms").empty()) {
            return true;
        }
        const auto seen = observer.lobby().seq();
        observer.wait_lobby(
            [seen](const gamestore::protocol::LobbyMirror& lobby) { return lobby.seq() > seen; },
            left());
    }
    return false;
}

// Waits until the server log contains `needle` (inotify on the log's writes,
// bounded by the deadline).
bool wait_for_log(const ServerFixture& server, const std::string& needle, std::chrono::milliseconds timeout = 20s) {
    return gamestore::testing::wait_for_text(server.log_file(), needle, timeout);
}

// The server log's lines, for checks of what happened in which order.
std::vector<std::string> log_lines(const ServerFixture& server) {
    std::vector<std::string> lines;
    std::istringstream in(server.log());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// Index of the first line containing every needle, or -1.
long find_line(const std::vector<std::string>& lines, std::initializer_list<std::string> needles) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (std::all_of(needles.begin(), needles.end(),
                        [&](const std::string& n) { return lines[i].find(n) != std::string::npos; })) {
            return static_cast<long>(i);
        }
    }
    return -1;
}

std::optional<std::string> environment_entry(pid_t pid, const std::string& name) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string entry;
    while (std::getline(in, entry, '\0')) {
        if (entry.rfind(name + "=", 0) == 0) return entry.substr(name.size() + 1);
    }
    return std::nullopt;
}

// Every process on the machine whose argv contains `secret`.
std::vector<pid_t> pids_with_secret_in_cmdline(const std::string& secret) {
    std::vector<pid_t> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const auto name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(entry.path() / "cmdline", std::ios::binary);
        const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (cmdline.find(secret) != std::string::npos) found.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return found;
}

// What a game server of a match knows: enough to report for it.
struct MatchAccess {
    std::int64_t room_id = 0;
    std::string match_id;
    std::string report_token;
    int port = 0;

    std::string line(const std::string& status, json extra = json::object()) const {
        json report = {{"type", "GAME.REPORT"}, {"room_id", room_id}, {"report_token", report_token},
                       {"match_id", match_id}, {"status", status}};
        for (auto& [key, value] : extra.items()) report[key] = value;
        return report.dump();
    }
};

// The match's report token from its directory and its port from the game
// server's environment, exactly what the platform gave the game server.
MatchAccess access_match(const ServerFixture& server, std::int64_t room_id, const std::string& match_id) {
    MatchAccess access;
    access.room_id = room_id;
    access.match_id = match_id;
    const auto token_file = server.data_dir() / "matches" / match_id / "report_token";
    REQUIRE(gamestore::testing::wait_for_file(token_file, 10s));
    access.report_token = gamestore::testing::read_file(token_file);
    REQUIRE(access.report_token.size() == 32);
    // The fakegame's first line in the match's log: its process runs (the
    // token file is written before the sandbox is even started).
    REQUIRE(gamestore::testing::wait_for_text(server.data_dir() / "logs" / (match_id + ".log"),
                                              "fakegame server", 10s));
    const auto pids = gamestore::launch::processes_with_env_entry(match_id);
    REQUIRE_FALSE(pids.empty());
    const auto port = environment_entry(pids.front(), "PORT");
    REQUIRE(port);
    access.port = std::stoi(*port);
    return access;
}

// The platform's reply to a one-shot report: connect, send `line` (without
// "\n" unless the caller added one), close our side, read the reply.
json one_shot(const ServerFixture& server, const std::string& line) {
    RawConnection connection(server.endpoints().report_host, server.endpoints().report_port);
    REQUIRE(connection.send(line));
    REQUIRE(::shutdown(connection.fd(), SHUT_WR) == 0);
    const auto reply = connection.read_line(10s);
    REQUIRE(reply);
    return json::parse(*reply);
}

json ask(RawConnection& connection, const std::string& line) {
    REQUIRE(connection.send(line + "\n"));
    const auto reply = connection.read_line(10s);
    REQUIRE(reply);
    return json::parse(*reply);
}

// The store the server on `data_dir` uses (SQLite or this run's PostgreSQL).
std::unique_ptr<gamestore::store::SqlStore> open_store(const fs::path& data_dir) {
    auto location = gamestore::store::parse_database(
        gamestore::testing::test_database_for(data_dir), data_dir / "gamestore.db");
    REQUIRE(std::holds_alternative<gamestore::store::DatabaseLocation>(location));
    auto opened =
        gamestore::store::open_store(std::get<gamestore::store::DatabaseLocation>(location),
                                     gamestore::store::SqlStore::Options{});
    REQUIRE(opened.ok());
    return std::move(opened).value();
}

// A tiny Python game server package (stdlib only) with one behaviour:
//   race        STARTED, then END on a one-shot connection and os._exit(0)
//               at once, without waiting for the reply
//   after-exit  STARTED, then the server exits; a child it leaves behind
//               (same process group) sends END only once the server is gone
//   linger      STARTED, then heartbeats; writes nothing to stdout/stderr and
//               survives losing the platform (kill -9 tests)
//   end-linger  STARTED, starts an escapee (setsid, an environment with the
//               match id only inside a variable of its own), END, then like
//               linger: a game that does not exit after its END
const char* kScriptServer = R"py(import json, os, socket, sys, time

env = os.environ
mode = sys.argv[1]
base = {"type": "GAME.REPORT", "room_id": int(env["ROOM_ID"]), "match_id": env["MATCH_ID"],
        "report_token": env["REPORT_TOKEN"]}
report_at = (env["REPORT_HOST"], int(env["REPORT_PORT"]))
port = int(env["PORT"])

def line(status, **extra):
    message = dict(base, status=status)
    message.update(extra)
    return (json.dumps(message) + "\n").encode()

listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((env["BIND_HOST"], port))
listener.listen(8)
control = socket.create_connection(report_at)
control.sendall(line("STARTED", port=port, protocol_version=1))
if not json.loads(control.makefile().readline()).get("ok"):
    os._exit(2)

if mode == "race":
    one_shot = socket.create_connection(report_at)
    one_shot.sendall(line("END", reason="reported just before exiting"))
    os._exit(0)
elif mode == "after-exit":
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.close(write_end)
        os.read(read_end, 1)  # end of file once the server has exited
        late = socket.create_connection(report_at)
        late.sendall(line("END", reason="reported after the server exited"))
        late.makefile().readline()
        os._exit(0)
    os._exit(0)
elif mode in ("linger", "end-linger"):
    if mode == "end-linger":
        import subprocess
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True,
                         env={"GAME_JOB": "job of " + env["MATCH_ID"]}, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        control.sendall(line("END", reason="the game is over"))
        control.makefile().readline()
    interval = float(env.get("HEARTBEAT_INTERVAL_SEC", "1"))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(interval)
        try:
            control.sendall(line("HEARTBEAT"))
        except OSError:
            pass
    os._exit(0)
os._exit(3)
)py";

// Writes and publishes a script game running `python3 server.py MODE`.
std::string publish_script_game(TestDeveloper& dev, const fs::path& work, const std::string& title,
                                const std::string& mode) {
    const auto dir = work / ("script-" + mode);
    fs::create_directories(dir);
    gamestore::testing::write_file(dir / "server.py", kScriptServer);
    json manifest = {{"game_name", title},
                     {"version", "1.0.0"},
                     {"type", "CLI"},
                     {"min_players", 1},
                     {"max_players", 2},
                     {"description", "test game server: " + mode},
                     {"protocol_version", 1},
                     {"server", {{"command", "python3 server.py " + mode}, {"heartbeat_interval_sec", 1}}},
                     {"client", {{"command", "python3 server.py client"}}},
                     {"healthcheck", {{"tcp_port", "{port}"}, {"timeout_sec", 5}}}};
    gamestore::testing::write_file(dir / "manifest.json", manifest.dump(2));
    const auto published = dev.publish_zip(gamestore::testing::zip_package_dir(dir, work));
    if (!published.ok) {
        FAIL("publish " << title << ": " << published.error_code << ": " << published.message);
    }
    return title;
}

// Publishes a copy of a fakegame profile's package with its manifest edited.
std::string publish_edited_fakegame(TestDeveloper& dev, const fs::path& work, const std::string& profile,
                                    const std::string& title, const std::function<void(json&)>& edit) {
    const auto dir = work / ("edited-" + profile + "-" + std::to_string(std::hash<std::string>{}(title) % 100000));
    fs::copy(gamestore::testing::build_dir() / "fakegames" / "packages" / profile, dir, fs::copy_options::recursive);
    auto manifest = json::parse(gamestore::testing::read_file(dir / "manifest.json"));
    manifest["game_name"] = title;
    manifest["min_players"] = 1;
    edit(manifest);
    gamestore::testing::write_file(dir / "manifest.json", manifest.dump(2));
    const auto published = dev.publish_zip(gamestore::testing::zip_package_dir(dir, work));
    if (!published.ok) {
        FAIL("publish " << title << ": " << published.error_code << ": " << published.message);
    }
    return title;
}

// "no heartbeat for 5.1 s" -> 5.1
double seconds_after(const std::string& line, const std::string& prefix) {
    const auto at = line.find(prefix);
    REQUIRE(at != std::string::npos);
    return std::stod(line.substr(at + prefix.size()));
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
        std::set<std::string> client_tokens;
        std::vector<json> launches;
        for (auto& player : players) {
            auto room = player->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
            REQUIRE(room);
            match_id = room->at("match_id");
            client_tokens.insert(room->at("launch").at("client_token").get<std::string>());
            launches.push_back(room->at("launch"));
        }
        // Neither token is in the argv of any process on the machine (they
        // travel by env and file): checked while the game server surely runs
        // (it waits for its players), and again once the clients run (a
        // loaded machine may let the match end before the second look).
        const auto report_token =
            gamestore::testing::read_file(server.data_dir() / "matches" / match_id / "report_token");
        REQUIRE(report_token.size() == 32);
        REQUIRE(client_tokens.size() == 1);
        REQUIRE_FALSE(no_match_processes(match_id));
        CHECK(pids_with_secret_in_cmdline(report_token).empty());
        CHECK(pids_with_secret_in_cmdline(*client_tokens.begin()).empty());
        for (std::size_t i = 0; i < players.size(); ++i) {
            clients.push_back(launch_client("ok", launches[i], players[i]->name(), work.path()));
        }
        CHECK(pids_with_secret_in_cmdline(report_token).empty());
        CHECK(pids_with_secret_in_cmdline(*client_tokens.begin()).empty());
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

namespace {

// Runs one match of the `ok` fake game among `names` to END.
void play_to_end(const ServerFixture& server, const std::string& game,
                 const std::vector<std::string>& names, const fs::path& work) {
    auto players = gather_and_start(server, game, names);
    std::vector<std::unique_ptr<ChildProcess>> clients;
    for (auto& player : players) {
        auto room = player->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(room);
        clients.push_back(launch_client("ok", room->at("launch"), player->name(), work));
    }
    for (auto& player : players) {
        auto ended = player->wait_event("match.ended");
        REQUIRE(ended);
        CHECK(ended->at("status") == "END");
    }
    for (auto& client : clients) {
        CHECK(client->wait_exit_code(20s) == 0);
    }
}

}  // namespace

TEST_CASE(
    "an installation moved to PostgreSQL by migrate-store keeps its store; its players play and "
    "review",
    "[matches][integration][postgres]") {
    TempDir work;
    TempDir installation;
    const auto data_dir = installation.path() / "var";
    std::string game;
    {
        ServerFixture server(server_args(), data_dir);
        TestDeveloper dev(server, "maker");
        game = dev.publish_fakegame("ok", "Fake OK", "1.0.0", 2);
        play_to_end(server, game, {"alice", "bob"}, work.path());
        TestPlayer bob(server, "bob");
        CHECK(bob.call("review.post", {{"game", game}, {"rating", 4}, {"text", "solid"}}).ok);
        CHECK(server.stop() == 0);
    }

    const auto uri = gamestore::testing::PgCluster::shared().create_schema();
    SpawnOptions migrate;
    migrate.argv = {
        gamestore::testing::binary("gamestore-server").string(), "migrate-store", "--from",
        "sqlite:" + (data_dir / "gamestore.db").string(),        "--to",          uri};
    migrate.stdout_file = work.path() / "migrate.out";
    migrate.stderr_file = work.path() / "migrate.out";
    ChildProcess migrating(migrate);
    const auto code = migrating.wait_exit_code(120s);
    INFO(gamestore::testing::read_file(work.path() / "migrate.out"));
    REQUIRE(code == 0);
    CHECK(gamestore::testing::read_file(work.path() / "migrate.out").find("reviews: 1 rows") !=
          std::string::npos);

    CHECK(
        gamestore::testing::read_file(work.path() / "migrate.out").find("package_chunks: 1 rows") !=
        std::string::npos);

    // A fresh data dir: the packages come from PostgreSQL, not from the old disk.
    TempDir fresh;
    ServerFixture server(server_args({"--database", uri}), fresh.path() / "var");
    CHECK(server.log().find("store: postgresql database") != std::string::npos);
    const auto details = TestPlayer(server, "dave").require("store.show", {{"game", game}});
    INFO(details.dump());
    CHECK(details.dump().find("solid") != std::string::npos);
    // alice logs in with her migrated password; carol is new.
    TempDir second_work;
    play_to_end(server, game, {"alice", "carol"}, second_work.path());
    TestPlayer alice(server, "alice");
    CHECK(alice.call("review.post", {{"game", game}, {"rating", 5}, {"text", "still fun"}}).ok);
    TestPlayer carol(server, "carol");
    CHECK(carol.call("review.post", {{"game", game}, {"rating", 3}, {"text", "new here"}}).ok);
}

TEST_CASE(
    "servers sharing a database but no disk: a version published on one is downloaded and played "
    "on another",
    "[matches][integration]") {
    TempDir work;
    TempDir installation;
    const auto dir_a = installation.path() / "a";
    const auto dir_b = installation.path() / "b";
    // SQLite runs the same code path: the second server opens the first one's file.
    auto database = gamestore::testing::test_database_for(dir_a);
    if (database.empty()) {
        database = "sqlite:" + (dir_a / "gamestore.db").string();
    }
    gamestore::testing::use_test_database(dir_b, database);

    ServerFixture a(server_args(), dir_a);
    TestDeveloper dev(a, "maker");
    const auto game = dev.publish_fakegame("ok", "Fake Shared", "1.0.0", 2);
    ServerFixture b(server_args(), dir_b);
    CHECK((!fs::exists(dir_b / "packages") || fs::is_empty(dir_b / "packages")));

    TestPlayer browser(b, "browser");
    const auto listed = browser.require("store.list");
    INFO(listed.dump());
    CHECK(listed.dump().find("Fake Shared") != std::string::npos);
    std::string bytes;
    gamestore::client::CallOptions sink;
    sink.blob_sink = [&](std::string_view piece) { bytes.append(piece); };
    const auto download = browser.client().call("store.download", {{"game", game}}, sink);
    REQUIRE(download.ok);
    const auto sha = download.data.at("sha256").get<std::string>();
    CHECK(gamestore::packages::sha256_hex(bytes) == sha);
    CHECK(gamestore::packages::sha256_file(dir_a / "packages" / (sha + ".zip")) == sha);
    CHECK(gamestore::packages::sha256_file(dir_b / "packages" / (sha + ".zip")) == sha);
    CHECK(b.log().find("package cache: fetched") != std::string::npos);

    play_to_end(b, game, {"alice", "bob"}, work.path());
    CHECK(fs::exists(dir_b / "games" / sha / "manifest.json"));
    TestPlayer alice(b, "alice");
    CHECK(alice.call("review.post", {{"game", game}, {"rating", 5}, {"text", "played elsewhere"}})
              .ok);
    CHECK(alice.require("store.show", {{"game", game}}).dump().find("played elsewhere") !=
          std::string::npos);
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
        // Never IN_GAME: recorded, but nobody played, so no history and no
        // review on its account.
        auto store = open_store(server.data_dir());
        const auto record = store->get_match(match_id);
        REQUIRE(record.ok());
        CHECK(record->status == gamestore::store::MatchStatus::Timeout);
        CHECK_FALSE(record->in_game_at.has_value());
        const auto review = players[0]->call("review.post", {{"game", too_slow}, {"rating", 1}, {"text", "never ran"}});
        CHECK_FALSE(review.ok);
        CHECK(review.error_code == "FORBIDDEN");
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
        auto in_game = players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(in_game);
        const auto match_id = in_game->at("match_id").get<std::string>();
        auto ended = players[0]->wait_event("match.ended", 30s);
        REQUIRE(ended);
        CHECK(ended->at("status") == "TIMEOUT");
        CHECK(ended->at("reason").get<std::string>().find("no heartbeat") != std::string::npos);
        REQUIRE(players[0]->wait_room([](const json& r) { return state_is(r, "WAITING"); }));
        CHECK(no_match_processes(match_id));
        // From the platform's own log (its measured silences, no wall clock
        // here): the 3x warning comes first, the stop only past 5x the 1 s
        // interval, and the process group is stopped after that.
        const auto lines = log_lines(server);
        const long warned = find_line(lines, {"match " + match_id + ": no heartbeat for", "(3 x the interval)"});
        const long killed = find_line(lines, {"-> ENDING (match " + match_id + ": TIMEOUT: no heartbeat for"});
        const long cleaned = find_line(lines, {"ENDING -> WAITING (match " + match_id + " cleaned up)"});
        REQUIRE(warned >= 0);
        REQUIRE(killed >= 0);
        REQUIRE(cleaned >= 0);
        CHECK(warned < killed);
        CHECK(killed < cleaned);
        // The platform compares the exact silence (> 3 s, > 5 s); the log
        // prints it to 0.1 s, so 5.02 s reads "5.0".
        CHECK(seconds_after(lines[static_cast<std::size_t>(warned)], "no heartbeat for ") >= 3.0);
        CHECK(seconds_after(lines[static_cast<std::size_t>(killed)], "TIMEOUT: no heartbeat for ") >= 5.0);
        CHECK(lines[static_cast<std::size_t>(killed)].find("the limit is 5 x the 1 s interval") != std::string::npos);
    }
    for (const auto& profile : {std::string("ignore-sigterm"), std::string("grandchild")}) {
        const auto game = dev.publish_fakegame(profile, "Stubborn " + profile);
        auto players = gather_and_start(server, game, {"j-" + profile.substr(0, 10)});
        auto in_game = players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(in_game);
        const auto match_id = in_game->at("match_id").get<std::string>();
        CHECK_FALSE(no_match_processes(match_id));
        // Everyone leaving aborts the match; its stop must reach everything.
        // The observer's copy shows the room first (a snapshot may be up to
        // one 50 ms batch behind), so its removal is the cleanup's end.
        TestPlayer observer(server, "obs-" + profile.substr(0, 8));
        REQUIRE(observer.wait_lobby(
            [](const gamestore::protocol::LobbyMirror& lobby) { return !lobby.rooms().empty(); }));
        players[0]->require("room.leave");
        CHECK(wait_no_rooms(observer));
        CHECK(no_match_processes(match_id));
    }
    CHECK(wait_for_log(server, "ignored SIGTERM"));
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
        TestPlayer probe(server, "p-" + profile.substr(0, 8));
        // Counted around this match only: the earlier blocks refused reports too.
        const auto rejected_before = match_counter(probe, "rejected_reports");
        auto players = gather_and_start(server, game, {"m-" + profile.substr(0, 8)});
        auto room = players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(room);
        const auto match_id = room->at("match_id").get<std::string>();
        auto client = launch_client(profile, room->at("launch"), players[0]->name(), work.path());
        auto waiting = players[0]->wait_room(waiting_after(match_id), 20s);
        REQUIRE(waiting);
        CHECK(waiting->at("last_result").at("status") == "END");
        CHECK(ended_events_for(*players[0], match_id) == 1);
        // The second report arrived before the game exited, so before the
        // room went back to WAITING.
        CHECK(match_counter(probe, "rejected_reports") - rejected_before == 1);
        client->wait_exit_code(10s);
    }
}

TEST_CASE("END twice, END then ERROR, bad winners and an old match's report: one result, replies say why",
          "[matches][integration]") {
    ServerFixture server(server_args({"--startup-timeout", "20"}));
    TestDeveloper dev(server, "maker");
    // The fakegame never reports: this test reports for it, and sees every reply.
    const auto game = dev.publish_fakegame("never-started", "Puppet");
    TestPlayer host(server, "puppeteer");
    const auto room_id = host.require("room.create", {{"game", game}}).at("room").at("room_id").get<std::int64_t>();

    // Match 1 on one persistent connection: END, END again, ERROR.
    const auto first = access_match(server, room_id, start_again(host));
    RawConnection control(server.endpoints().report_host, server.endpoints().report_port);
    CHECK(ask(control, first.line("STARTED", {{"port", first.port}})).at("ok") == true);
    REQUIRE(host.wait_room([](const json& r) { return state_is(r, "IN_GAME"); }));
    // winner/loser follow the rule of results: a non-member is refused whole.
    auto refused = ask(control, first.line("END", {{"winner", "mallory"}}));
    CHECK(refused.at("ok") == false);
    CHECK(refused.at("error") == "winner 'mallory' is not a player of this match");
    refused = ask(control, first.line("END", {{"winner", "puppeteer"}, {"loser", "mallory"}}));
    CHECK(refused.at("error") == "loser 'mallory' is not a player of this match");
    refused = ask(control, first.line("END", {{"winner", "puppeteer"}, {"loser", "puppeteer"}}));
    CHECK(refused.at("error") == "winner and loser are the same player 'puppeteer'");
    CHECK(ask(control, first.line("END", {{"winner", "puppeteer"}, {"reason", "first end"}})).at("ok") == true);
    const auto again = ask(control, first.line("END", {{"reason", "second end"}}));
    CHECK(again.at("ok") == false);
    CHECK(again.at("error") == "match " + first.match_id + " has already ended");
    const auto error_after = ask(control, first.line("ERROR", {{"err_msg", "too late"}}));
    CHECK(error_after.at("ok") == false);
    CHECK(error_after.at("error") == "match " + first.match_id + " has already ended");
    auto waiting = host.wait_room(waiting_after(first.match_id), 20s);
    REQUIRE(waiting);
    CHECK(waiting->at("last_result").at("status") == "END");
    CHECK(waiting->at("last_result").at("reason") == "first end");
    CHECK(waiting->at("last_result").at("results") ==
          json::parse(R"([{"player":"puppeteer","outcome":"WIN"}])"));
    CHECK(ended_events_for(host, first.match_id) == 1);

    // Match 2 in the same room: match 1's reports are stale now.
    const auto second = access_match(server, room_id, start_again(host));
    REQUIRE(second.match_id != first.match_id);
    const auto stale_before = match_counter(host, "stale_reports");
    const auto forged_before = match_counter(host, "forged_reports");
    RawConnection old(server.endpoints().report_host, server.endpoints().report_port);
    const auto stale = ask(old, first.line("END", {{"reason", "from the old match"}}));
    CHECK(stale.at("ok") == false);
    CHECK(stale.at("error") == "match " + first.match_id + " is not the current match of room " + std::to_string(room_id));
    MatchAccess mixed = second;
    mixed.report_token = first.report_token;  // the new match_id with the old token
    const auto forged = ask(old, mixed.line("STARTED", {{"port", second.port}}));
    CHECK(forged.at("ok") == false);
    CHECK(forged.at("error") == "wrong report_token for match " + second.match_id);
    CHECK(match_counter(host, "stale_reports") - stale_before == 1);
    CHECK(match_counter(host, "forged_reports") - forged_before == 1);
    // Nothing changed: match 2 is still STARTING until its own STARTED.
    const auto view = host.require("room.get", {{"room_id", room_id}}).at("room");
    CHECK(view.at("state") == "STARTING");
    CHECK(view.at("match_id") == second.match_id);
    CHECK(ended_events_for(host, second.match_id) == 0);
    CHECK(ask(control, second.line("STARTED", {{"port", second.port}})).at("ok") == true);
    CHECK(ask(control, second.line("ERROR", {{"err_msg", "the puppet broke"}})).at("ok") == true);
    const auto late_end = ask(control, second.line("END"));
    CHECK(late_end.at("error") == "match " + second.match_id + " has already ended");
    waiting = host.wait_room(waiting_after(second.match_id), 20s);
    REQUIRE(waiting);
    CHECK(waiting->at("last_result").at("status") == "ERROR");
    CHECK(ended_events_for(host, second.match_id) == 1);

    // What was recorded is the first result of each match.
    auto store = open_store(server.data_dir());
    const auto one = store->get_match(first.match_id);
    REQUIRE(one.ok());
    CHECK(one->status == gamestore::store::MatchStatus::End);
    CHECK(one->reason == "first end");
    const auto two = store->get_match(second.match_id);
    REQUIRE(two.ok());
    CHECK(two->status == gamestore::store::MatchStatus::Error);
    CHECK(two->reason == "the game server reported an error: the puppet broke");
}

TEST_CASE("one-shot reports without a trailing newline are accepted and answered", "[matches][integration]") {
    ServerFixture server(server_args({"--startup-timeout", "20"}));
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("never-started", "Terse");
    TestPlayer host(server, "terse");
    const auto room_id = host.require("room.create", {{"game", game}}).at("room").at("room_id").get<std::int64_t>();
    const auto match = access_match(server, room_id, start_again(host));
    // Each on its own connection, the last byte is '}', then the sender
    // closes its side and waits for the reply.
    CHECK(one_shot(server, match.line("STARTED", {{"port", match.port}})) == json::parse(R"({"ok":true})"));
    REQUIRE(host.wait_room([](const json& r) { return state_is(r, "IN_GAME"); }));
    CHECK(one_shot(server, match.line("HEARTBEAT")) == json::parse(R"({"ok":true})"));
    // A bad one is answered the same way, as a line like any other.
    CHECK(one_shot(server, "{not json").at("ok") == false);
    CHECK(one_shot(server, match.line("END", {{"reason", "said without a newline"}})) == json::parse(R"({"ok":true})"));
    auto waiting = host.wait_room(waiting_after(match.match_id), 20s);
    REQUIRE(waiting);
    CHECK(waiting->at("last_result").at("status") == "END");
    CHECK(waiting->at("last_result").at("reason") == "said without a newline");
}

TEST_CASE("reports are answered line by line whether the control plane reads in batches or at once",
          "[matches][integration]") {
    // 0: each report as it arrives; 5: the default; 200: a long batch, so
    // several connections' lines wait for the same read.
    for (const std::string batch : {"0", "5", "200"}) {
        INFO("--report-batch-ms " << batch);
        ServerFixture server(server_args({"--startup-timeout", "20", "--report-batch-ms", batch}));
        TestDeveloper dev(server, "maker");
        const auto game = dev.publish_fakegame("never-started", "Batched");
        TestPlayer host(server, "batcher");
        const auto room_id = host.require("room.create", {{"game", game}})
                                 .at("room")
                                 .at("room_id")
                                 .get<std::int64_t>();
        const auto match = access_match(server, room_id, start_again(host));
        RawConnection control(server.endpoints().report_host, server.endpoints().report_port);
        CHECK(ask(control, match.line("STARTED", {{"port", match.port}})).at("ok") == true);
        REQUIRE(host.wait_room([](const json& r) { return state_is(r, "IN_GAME"); }));
        // Three lines in one write, and a one-shot report on a second
        // connection meanwhile: one reply per line, in order.
        REQUIRE(control.send(match.line("HEARTBEAT") + "\n{not json\n" + match.line("HEARTBEAT") +
                             "\n"));
        CHECK(one_shot(server, match.line("HEARTBEAT")) == json::parse(R"({"ok":true})"));
        std::vector<bool> oks;
        for (int i = 0; i < 3; ++i) {
            const auto reply = control.read_line(10s);
            REQUIRE(reply);
            oks.push_back(json::parse(*reply).at("ok").get<bool>());
        }
        CHECK(oks == std::vector<bool>{true, false, true});
        CHECK(ask(control, match.line("END", {{"reason", "batched"}})).at("ok") == true);
        auto waiting = host.wait_room(waiting_after(match.match_id), 20s);
        REQUIRE(waiting);
        CHECK(waiting->at("last_result").at("reason") == "batched");
    }
}

TEST_CASE(
    "tolerated reports: ISO timestamps, numeric strings, an empty winner, results that omit a "
    "player",
    "[matches][integration]") {
    ServerFixture server(server_args({"--startup-timeout", "20"}));
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("never-started", "Lenient");
    TestPlayer host(server, "host");
    TestPlayer guest(server, "guest");
    const auto room_id =
        host.require("room.create", {{"game", game}}).at("room").at("room_id").get<std::int64_t>();
    guest.require("room.join", {{"room_id", room_id}});
    guest.require("room.ready", {{"ready", true}});
    const auto match = access_match(server, room_id, start_again(host));
    const json iso = "2026-12-05T21:30:00.123456";
    // Numbers as text, the way a game forwards its environment unconverted,
    // and Python's isoformat() timestamps: each report is accepted.
    CHECK(one_shot(server, match.line("STARTED", {{"room_id", std::to_string(room_id)},
                                                  {"port", std::to_string(match.port)},
                                                  {"protocol_version", "1"},
                                                  {"timestamp", iso}})) ==
          json::parse(R"({"ok":true})"));
    REQUIRE(host.wait_room([](const json& r) { return state_is(r, "IN_GAME"); }));
    CHECK(one_shot(server, match.line("HEARTBEAT", {{"ts", iso}})) ==
          json::parse(R"({"ok":true})"));
    CHECK(one_shot(server, match.line("HEARTBEAT", {{"timestamp", json::object()}})) ==
          json::parse(R"({"ok":true})"));
    // A draw with an empty winner, results for one of the two players.
    CHECK(one_shot(
              server,
              match.line(
                  "END",
                  {{"winner", ""},
                   {"loser", nullptr},
                   {"reason", "draw"},
                   {"timestamp", iso},
                   {"results",
                    json::parse(
                        R"([{"player":"host","outcome":"DRAW","rank":"1","score":"0.5"}])")}})) ==
          json::parse(R"({"ok":true})"));
    auto waiting = host.wait_room(waiting_after(match.match_id), 20s);
    REQUIRE(waiting);
    CHECK(waiting->at("last_result").at("status") == "END");
    CHECK(waiting->at("last_result").at("reason") == "draw");
    const auto& results = waiting->at("last_result").at("results");
    REQUIRE(results.size() == 1);
    CHECK(results.at(0).at("player") == "host");
    CHECK(results.at(0).at("outcome") == "DRAW");
    CHECK(results.at(0).at("rank") == 1);
    CHECK(results.at(0).at("score") == 0.5);
}

TEST_CASE("a match's report connection may stay quiet as long as its heartbeats may",
          "[matches][integration]") {
    // 0.5 s idle timeout; the fakegame declares 1 s heartbeats, so a
    // connection that reported for its match may be quiet 5 x 1 s.
    ServerFixture server(server_args({"--startup-timeout", "20", "--report-idle-timeout", "0.5"}));
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("never-started", "Patient");
    TestPlayer host(server, "patient");
    const auto room_id =
        host.require("room.create", {{"game", game}}).at("room").at("room_id").get<std::int64_t>();
    const auto match = access_match(server, room_id, start_again(host));
    RawConnection reporter(server.endpoints().report_host, server.endpoints().report_port);
    CHECK(ask(reporter, match.line("STARTED", {{"port", match.port}})).at("ok") == true);
    // A connection that never reported keeps the configured timeout.
    RawConnection stranger(server.endpoints().report_host, server.endpoints().report_port);
    CHECK(stranger.wait_closed(10s));
    CHECK_FALSE(reporter.wait_closed(1500ms));
    CHECK(ask(reporter, match.line("HEARTBEAT")).at("ok") == true);
    CHECK(ask(reporter, match.line("END", {{"reason", "patient"}})).at("ok") == true);
    auto waiting = host.wait_room(waiting_after(match.match_id), 20s);
    REQUIRE(waiting);
    CHECK(waiting->at("last_result").at("reason") == "patient");
}

TEST_CASE("a game server that reports END and exits at once ends as END, never CRASHED", "[matches][integration]") {
    TempDir work;
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    const auto racing = publish_script_game(dev, work.path(), "Hasty", "race");
    const auto late = publish_script_game(dev, work.path(), "Late", "after-exit");
    // The race is real (exit vs. report read) and lost only sometimes:
    // repeat it. after-exit loses it every time without the report grace.
    for (const auto& [game, rounds] : {std::pair{racing, 10}, std::pair{late, 3}}) {
        TestPlayer host(server, "host-" + game);
        host.require("room.create", {{"game", game}});
        for (int round = 0; round < rounds; ++round) {
            INFO(game << " round " << round);
            const auto match_id = start_again(host);
            auto waiting = host.wait_room(waiting_after(match_id), 30s);
            REQUIRE(waiting);
            CHECK(waiting->at("last_result").at("status") == "END");
            CHECK(ended_events_for(host, match_id) == 1);
            CHECK(no_match_processes(match_id));
        }
    }
    // Reached IN_GAME, so it counts as played.
    TestPlayer reviewer(server, "host-Late");
    CHECK(reviewer.call("review.post", {{"game", late}, {"rating", 5}, {"text", "quick"}}).ok);
}

TEST_CASE("abuse on the report port does not stall the lobby or drop a connection for bad lines",
          "[matches][integration]") {
    ServerFixture server(server_args({"--startup-timeout", "30"}));
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("never-started", "Target");
    TestPlayer watcher(server, "watcher");
    const auto room_id = watcher.require("room.create", {{"game", game}}).at("room").at("room_id").get<std::int64_t>();
    const auto match = access_match(server, room_id, start_again(watcher));

    // The abuser keeps going on connection after connection (each one is
    // cut for sustained abuse after a few hundred lines) until told to stop:
    // the ping below is sent and answered while it is in full swing.
    std::mutex mutex;
    std::condition_variable progressed;
    int rounds = 0;
    bool stop = false;
    bool gave_up = false;
    std::thread abuser([&] {
        const std::string huge(1024 * 1024, 'x');
        std::string flood;
        for (int i = 0; i < 400; ++i) flood += match.line("HEARTBEAT") + "\n";
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        for (int round = 0; round < 500; ++round) {
            {
                std::lock_guard lock(mutex);
                if (stop) return;
            }
            if (std::chrono::steady_clock::now() > deadline) break;
            try {
                RawConnection connection(server.endpoints().report_host, server.endpoints().report_port);
                timeval limit{5, 0};
                ::setsockopt(connection.fd(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
                if (connection.send(huge + "\n")) connection.send(flood);
            } catch (const std::exception&) {
                break;  // cannot connect: reported as gave_up
            }
            {
                std::lock_guard lock(mutex);
                ++rounds;
            }
            progressed.notify_all();
        }
        std::lock_guard lock(mutex);
        gave_up = true;  // hit a bound before the test said stop
    });
    {
        std::unique_lock lock(mutex);
        REQUIRE(progressed.wait_for(lock, 30s, [&] { return rounds >= 1; }));
    }
    const auto pong = watcher.call("ping");
    int rounds_when_answered = 0;
    {
        std::lock_guard lock(mutex);
        rounds_when_answered = rounds;
    }
    // Its warnings name the match the flood spoke for. The abuse goes on
    // until they are seen: a round's flood may still sit in the socket
    // buffer when the ping returns, and a socket the abuser has closed can
    // be reset before the server reads it.
    const bool warned = wait_for_log(server, "(match " + match.match_id + ") is over the report rate limit");
    {
        std::lock_guard lock(mutex);
        stop = true;
    }
    abuser.join();
    CHECK(pong.ok);
    CHECK(warned);
    CHECK_FALSE(gave_up);  // the abuse was still going when the ping was answered
    CHECK(rounds_when_answered >= 1);

    // An oversized line, then a valid one, on one connection: the first is
    // refused, the second answered on its own merits.
    RawConnection mixed(server.endpoints().report_host, server.endpoints().report_port);
    REQUIRE(mixed.send(std::string(1024 * 1024, 'y') + "\n" + match.line("HEARTBEAT") + "\n"));
    auto reply = mixed.read_line(10s);
    REQUIRE(reply);
    CHECK(json::parse(*reply).at("error") == "line exceeds 65536 bytes; dropped");
    reply = mixed.read_line(10s);
    REQUIRE(reply);
    CHECK(json::parse(*reply) == json::parse(R"({"ok":true})"));

    // Malformed lines are answered and do not cost the connection.
    RawConnection sloppy(server.endpoints().report_host, server.endpoints().report_port);
    REQUIRE(sloppy.send("{not json\n"));
    reply = sloppy.read_line(5s);
    REQUIRE(reply);
    CHECK(json::parse(*reply).at("ok") == false);
    REQUIRE(sloppy.send(R"({"room_id":99,"report_token":"t","match_id":"gone","status":"HEARTBEAT"})" "\n"));
    reply = sloppy.read_line(5s);
    REQUIRE(reply);  // same connection, still served
    CHECK(json::parse(*reply).at("ok") == false);
    CHECK(ask(sloppy, match.line("HEARTBEAT")).at("ok") == true);
    CHECK(watcher.call("ping").ok);
}

TEST_CASE("kill -9 of the platform mid-match: the restart kills the orphan, records ABORTED, rooms work",
          "[matches][integration]") {
    TempDir data;
    TempDir work;
    std::string match_id;
    std::vector<std::pair<pid_t, std::int64_t>> orphans;
    {
        ServerFixture server(server_args(), data.path() / "var");
        TestDeveloper dev(server, "maker");
        // A game server that writes nothing (so no SIGPIPE from a log pipe
        // without a reader) and shrugs off losing the control plane.
        const auto game = publish_script_game(dev, work.path(), "Survivor", "linger");
        auto players = gather_and_start(server, game, {"nat"});
        auto room = players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(room);
        match_id = room->at("match_id");
        for (pid_t pid : gamestore::launch::processes_with_env_entry(match_id)) {
            orphans.emplace_back(pid, gamestore::launch::process_start_time(pid));
        }
        REQUIRE_FALSE(orphans.empty());
        server.kill_hard();
        // The platform is gone and its game server provably lives on.
        CHECK_FALSE(server.process().running());
        for (const auto& [pid, start_time] : orphans) {
            CHECK(gamestore::launch::same_process_alive(pid, start_time));
        }
    }
    ServerFixture restarted(server_args(), data.path() / "var");
    // Reconciliation runs before the server reports ready.
    for (const auto& [pid, start_time] : orphans) {
        CHECK_FALSE(gamestore::launch::same_process_alive(pid, start_time));
    }
    CHECK(no_match_processes(match_id));
    CHECK_FALSE(fs::exists(data.path() / "var" / "matches" / match_id));
    auto store = open_store(data.path() / "var");
    const auto record = store->get_match(match_id);
    REQUIRE(record.ok());
    CHECK(record->status == gamestore::store::MatchStatus::Aborted);
    CHECK(record->reason == "the platform restarted while the match was running");
    CHECK(restarted.log().find("match " + match_id) != std::string::npos);
    auto players = gather_and_start(restarted, "Survivor", {"nat"});
    CHECK(players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); }));
}

TEST_CASE("kill -9 after a match's END but before its stop: the restart kills what is left, the result stays",
          "[matches][integration]") {
    TempDir data;
    TempDir work;
    std::string match_id;
    std::vector<std::pair<pid_t, std::int64_t>> leftovers;
    {
        // --end-grace 60: after END the platform waits for the game to exit
        // by itself; this one never does, so the kill -9 lands in between.
        auto args = server_args();
        for (std::size_t i = 0; i + 1 < args.size(); ++i) {
            if (args[i] == "--end-grace") args[i + 1] = "60";
        }
        ServerFixture server(args, data.path() / "var");
        TestDeveloper dev(server, "maker");
        const auto game = publish_script_game(dev, work.path(), "Lingerer", "end-linger");
        auto players = gather_and_start(server, game, {"ola"});
        auto ended = players[0]->wait_event("match.ended", 30s);
        REQUIRE(ended);
        CHECK(ended->at("status") == "END");
        match_id = ended->at("match_id");
        REQUIRE(wait_for_log(server, "match " + match_id + ": recorded as END"));
        for (pid_t pid : gamestore::launch::processes_with_env_entry(match_id)) {
            leftovers.emplace_back(pid, gamestore::launch::process_start_time(pid));
        }
        // bwrap, the sandbox's init, the game server and its escapee.
        REQUIRE(leftovers.size() == 4);
        server.kill_hard();
        for (const auto& [pid, start_time] : leftovers) {
            CHECK(gamestore::launch::same_process_alive(pid, start_time));
        }
    }
    ServerFixture restarted(server_args(), data.path() / "var");
    for (const auto& [pid, start_time] : leftovers) {
        CHECK_FALSE(gamestore::launch::same_process_alive(pid, start_time));
    }
    CHECK(no_match_processes(match_id));
    CHECK(restarted.log().find("startup: match " + match_id + " had finished (END) but") != std::string::npos);
    // The result the game reported is kept.
    auto store = open_store(data.path() / "var");
    const auto record = store->get_match(match_id);
    REQUIRE(record.ok());
    CHECK(record->status == gamestore::store::MatchStatus::End);
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

TEST_CASE("lobby.watch turns the lobby deltas of one connection off and on",
          "[server][integration]") {
    ServerFixture server(server_args());
    TestDeveloper dev(server, "watchmaker");
    const auto game = dev.publish_fakegame("ok", "Fake Watch");
    TestPlayer quiet(server, "quiet");
    TestPlayer watcher(server, "watcher");
    TestPlayer host(server, "host");
    CHECK(quiet.require("lobby.watch", {{"on", false}}).at("on") == false);
    CHECK(quiet.call("lobby.watch", {{"on", "no"}}).error_code == "BAD_REQUEST");

    const auto lists_room = [](const gamestore::protocol::LobbyMirror& lobby) {
        return !lobby.rooms().empty();
    };
    host.require("room.create", {{"game", game}});
    REQUIRE(watcher.wait_lobby(lists_room, 10s));
    // Pushes to every session are queued together; quiet's answer to a ping
    // comes after anything pushed to it then, so nothing may be waiting.
    quiet.require("ping");
    const auto any = [](const json&) { return true; };
    CHECK_FALSE(quiet.wait_for(std::string(gamestore::protocol::kLobbyRoomAdded), any, 1ms));

    // Turned back on, the deltas resume past the ones quiet missed: the gap
    // makes it ask for a snapshot, after which its copy is whole again.
    CHECK(quiet.require("lobby.watch").at("on") == true);  // default: on
    host.require("room.leave");
    REQUIRE(quiet.wait_lobby(
        [](const gamestore::protocol::LobbyMirror& lobby) {
            return lobby.synced() && lobby.seq() > 0;
        },
        10s));
    REQUIRE(quiet.wait_lobby(
        [](const gamestore::protocol::LobbyMirror& lobby) {
            return lobby.rooms().empty() && lobby.players().count("host");
        },
        10s));
    CHECK(quiet.gaps_seen() == 1);
}

// Applies every event already queued for `player` (none arrive later than
// the answer to a request sent after them).
void drain_events(TestPlayer& player) {
    player.require("ping");
    while (auto event = player.client().next_event(0ms)) {
        player.observe(*event);
    }
}

TEST_CASE("lobby deltas: after random churn every watcher's copy equals a fresh snapshot",
          "[server][integration]") {
    const std::uint32_t seed = 20261205;
    INFO("seed " << seed);
    ServerFixture server(server_args());
    TestDeveloper dev(server, "churner");
    const auto game = dev.publish_fakegame("ok", "Fake Churn", "1.0.0", 1);
    std::vector<std::unique_ptr<TestPlayer>> players;
    for (int i = 0; i < 8; ++i) {
        players.push_back(std::make_unique<TestPlayer>(server, "churn" + std::to_string(i)));
    }
    TestPlayer observer(server, "observer");
    // A second observer that misses deltas now and then (lobby.watch off and
    // on) and must resynchronise.
    TestPlayer patchy(server, "patchy");
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pick(0, 9);
    std::uniform_int_distribution<std::size_t> who(0, players.size() - 1);
    bool patchy_on = true;
    for (int step = 0; step < 150; ++step) {
        auto& p = players[who(rng)];
        switch (pick(rng)) {
            case 0:
            case 1:
                p->call("room.create", {{"game", game}});
                break;
            case 2:
            case 3: {
                const auto rooms = observer.lobby().rooms();
                if (!rooms.empty()) {
                    auto it = rooms.begin();
                    std::advance(it, static_cast<std::ptrdiff_t>(who(rng) % rooms.size()));
                    p->call("room.join", {{"room_id", it->first}});
                }
                break;
            }
            case 4:
            case 5:
                p->call("room.leave");
                break;
            case 6:
                p->call("room.ready", {{"ready", pick(rng) % 2 == 0}});
                break;
            case 7: {
                // Disconnect and come back: the player's row goes and returns.
                const auto name = p->name();
                p.reset();
                p = std::make_unique<TestPlayer>(server, name);
                break;
            }
            case 8:
                patchy_on = !patchy_on;
                patchy.require("lobby.watch", {{"on", patchy_on}});
                break;
            default:
                drain_events(observer);  // lets the coalescing window pass now and then
                break;
        }
        while (auto event = observer.client().next_event(0ms)) {
            observer.observe(*event);
        }
    }
    patchy.require("lobby.watch", {{"on", true}});
    // One more change after everything: both observers receive its delta.
    players[0]->call("room.leave");
    players[0]->call("room.create", {{"game", game}});
    const auto settled = [&](TestPlayer& watcher) {
        return watcher.wait_lobby(
            [&](const gamestore::protocol::LobbyMirror& lobby) {
                return lobby.synced() && lobby.players().count("churn0") &&
                       lobby.players().at("churn0").value("state", "") == "in_room";
            },
            10s);
    };
    REQUIRE(settled(observer));
    REQUIRE(settled(patchy));
    for (TestPlayer* watcher : {&observer, &patchy}) {
        drain_events(*watcher);
        const auto snapshot = watcher->require("lobby.snapshot");
        // The answer comes after every delta up to its seq; a later batch may
        // already be queued too and is left alone.
        const auto seq = snapshot.at("seq").get<std::uint64_t>();
        while (watcher->lobby().seq() < seq) {
            auto event = watcher->client().next_event(0ms);
            REQUIRE(event);
            watcher->observe(*event);
        }
        INFO(watcher->name() << " saw " << watcher->deltas_seen() << " deltas and "
                             << watcher->gaps_seen() << " gaps");
        CHECK(watcher->lobby().synced());
        CHECK(watcher->lobby().to_snapshot() == snapshot);
    }
    CHECK(observer.gaps_seen() == 0);
    // How many depends on how the changes fell into 50 ms batches; some did.
    CHECK(observer.deltas_seen() > 0);
}

// A connection read line by line, in the order the server wrote: what the
// ordering rule of lobby deltas and snapshots is about.
struct LineConnection {
    explicit LineConnection(boost::asio::io_context& io) : socket(io) {}
    boost::asio::ip::tcp::socket socket;
    std::string buffer;

    boost::asio::awaitable<void> send(const std::string& line) {
        co_await boost::asio::async_write(socket, boost::asio::buffer(line),
                                          boost::asio::use_awaitable);
    }
    boost::asio::awaitable<std::string> read_line() {
        const auto n = co_await boost::asio::async_read_until(
            socket, boost::asio::dynamic_buffer(buffer), '\n', boost::asio::use_awaitable);
        std::string line = buffer.substr(0, n - 1);
        buffer.erase(0, n);
        co_return line;
    }
};

// One connection that keeps asking lobby.snapshot and checks each answer
// against the deltas before and after it.
struct Asker {
    gamestore::protocol::LobbyMirror lobby;
    bool toggles_watch = false;  // turns lobby.watch off and on: gaps
    std::size_t answers = 0;
    std::size_t deltas = 0;
    std::size_t gaps = 0;
    std::size_t compared = 0;  // answers its copy was compared with
    std::vector<std::string> violations;
};

TEST_CASE("lobby deltas: a snapshot asked while its batch is on the way comes after that batch",
          "[server][integration]") {
    namespace asio = boost::asio;
    using gamestore::protocol::MirrorStep;
    ServerFixture server(server_args());
    const auto& endpoints = server.endpoints();
    // One account behind every connection: they resume its session, so
    // hundreds of them cost no password hash.
    auto sign_up = [&](const std::string& name) {
        gamestore::client::SyncLobbyClient client;
        client.connect(endpoints.lobby_host, endpoints.lobby_port);
        const json credentials = {{"role", "player"}, {"name", name}, {"password", "password123"}};
        REQUIRE(client.call("auth.register", credentials).ok);
        const auto login = client.call("auth.login", credentials);
        REQUIRE(login.ok);
        return login.data.at("token").get<std::string>();
    };
    const auto crowd = sign_up("crowd");
    const auto churner = sign_up("churner");

    // More connections than one slice of the fan-out (512): the askers,
    // connected last, are in the second slice, so a batch is still on its
    // way to them while the first slice is written, and their snapshots
    // arrive in between.
    constexpr int kFillers = 530;
    constexpr int kAskers = 6;
    std::vector<std::unique_ptr<RawConnection>> fillers;
    for (int i = 0; i < kFillers; ++i) {
        auto filler = std::make_unique<RawConnection>(endpoints.lobby_host, endpoints.lobby_port);
        // Not watching, so they need not be read.
        REQUIRE(filler->send(R"({"id":1,"op":"auth.resume","token":")" + crowd +
                             R"("})"
                             "\n"
                             R"({"id":2,"op":"lobby.watch","on":false})"
                             "\n"));
        fillers.push_back(std::move(filler));
    }
    for (auto& filler : fillers) {
        for (bool answered = false; !answered;) {
            const auto line = filler->read_line(10s);
            REQUIRE(line);
            answered = line->rfind(R"({"id":2,)", 0) == 0;
        }
    }

    asio::io_context io;
    const asio::ip::tcp::endpoint lobby(asio::ip::make_address(endpoints.lobby_host),
                                        endpoints.lobby_port);
    std::vector<Asker> askers(kAskers);
    bool churning = true;
    int askers_running = 0;
    std::uint64_t caught_up = 0;
    int rounds = 0;
    std::string driver_problem;

    auto ask = [&](Asker& a, int index) -> asio::awaitable<void> {
        LineConnection c(io);
        co_await c.socket.async_connect(lobby, asio::use_awaitable);
        co_await c.send(R"({"id":0,"op":"auth.resume","token":")" + crowd + "\"}\n");
        std::int64_t next_id = 1;
        a.toggles_watch = index % 4 == 0;
        const auto send = [&](const std::string& op,
                              const std::string& args) -> asio::awaitable<void> {
            co_await c.send(R"({"id":)" + std::to_string(next_id++) + R"(,"op":")" + op + "\"" +
                            args + "}\n");
        };
        // While the watch is off the copy stays as it was; once it is back
        // on, the next delta shows that some were missed (a gap).
        bool skip_answer = false;
        bool ask_on_delta = false;
        co_await send("lobby.snapshot", "");
        for (;;) {
            const auto message = gamestore::protocol::parse_server_message(co_await c.read_line());
            if (const auto* event = std::get_if<gamestore::protocol::Event>(&message)) {
                if (!gamestore::protocol::is_lobby_delta(event->name)) {
                    continue;
                }
                ++a.deltas;
                const auto step = a.lobby.apply_delta(event->name, event->data);
                if (step == MirrorStep::Stale) {
                    a.violations.push_back("delta " + event->data.at("seq").dump() +
                                           " arrived after a snapshot at " +
                                           std::to_string(a.lobby.seq()));
                } else if (step == MirrorStep::Gap) {
                    ++a.gaps;
                }
                if (ask_on_delta) {
                    ask_on_delta = false;
                    co_await send("lobby.snapshot", "");
                }
                continue;
            }
            const auto* response = std::get_if<gamestore::protocol::Response>(&message);
            if (response == nullptr || !response->ok) {
                a.violations.push_back("an unexpected answer or error");
                break;
            }
            if (response->id == 0 || response->data.contains("on")) {
                continue;  // auth.resume, lobby.watch
            }
            ++a.answers;
            const auto seq = response->data.at("seq").get<std::uint64_t>();
            if (skip_answer) {
                // Back on once a batch went out meanwhile: its deltas are missed.
                if (seq > a.lobby.seq() || !churning) {
                    skip_answer = false;
                    co_await send("lobby.watch", R"(,"on":true)");
                    ask_on_delta = true;
                } else {
                    co_await send("lobby.snapshot", "");
                }
                continue;
            }
            if (a.lobby.synced()) {
                // Every delta up to seq came before the answer, none after it.
                if (a.lobby.seq() != seq) {
                    a.violations.push_back("snapshot at " + std::to_string(seq) +
                                           " after deltas up to " + std::to_string(a.lobby.seq()));
                } else {
                    ++a.compared;
                    if (a.lobby.to_snapshot() != response->data) {
                        a.violations.push_back("the copy at " + std::to_string(seq) +
                                               " differs from the snapshot");
                    }
                }
            }
            if (!a.lobby.apply_snapshot(response->data)) {
                a.violations.push_back("not a snapshot: " + response->data.dump());
                break;
            }
            if (!churning) {
                break;
            }
            if (a.toggles_watch && a.answers % 3 == 0) {
                co_await send("lobby.watch", R"(,"on":false)");
                skip_answer = true;
            }
            co_await send("lobby.snapshot", "");
        }
        --askers_running;
    };

    // Changes the lobby one batch at a time (the churner's row comes and
    // goes) until a snapshot was caught mid-fan-out, then until every asker
    // is done (one waiting for its next delta needs a change to see).
    auto drive = [&]() -> asio::awaitable<void> {
        auto stats = co_await gamestore::client::LobbyClient::connect(endpoints.lobby_host,
                                                                      endpoints.lobby_port);
        // The arguments are built outside co_await: GCC 12 rejects a braced
        // list inside it.
        const json as_crowd = {{"token", crowd}};
        const json as_churner = {{"token", churner}};
        REQUIRE((co_await stats->call("auth.resume", as_crowd)).ok);
        std::shared_ptr<gamestore::client::LobbyClient> present;
        for (int after = 0; after < 100 && askers_running > 0; ++rounds) {
            if (churning && rounds >= 400) {
                break;
            }
            if (present) {
                present->close();
                present.reset();
            } else {
                present = co_await gamestore::client::LobbyClient::connect(endpoints.lobby_host,
                                                                           endpoints.lobby_port);
                if (!(co_await present->call("auth.resume", as_churner)).ok) {
                    driver_problem = "the churner could not resume";
                    break;
                }
            }
            // The change went out (a snapshot is the lobby as of the last
            // delta sent); bounded: 20 s.
            bool sent = false;
            for (int look = 0; look < 2000 && !sent; ++look) {
                const auto snapshot = co_await stats->call("lobby.snapshot");
                if (!snapshot.ok) {
                    driver_problem = "lobby.snapshot: " + snapshot.message;
                    break;
                }
                bool listed = false;
                for (const auto& row : snapshot.data.at("players")) {
                    listed = listed || row.at("name") == "churner";
                }
                sent = listed == (present != nullptr);
                if (!sent) {
                    asio::steady_timer pause(io, 10ms);
                    co_await pause.async_wait(asio::use_awaitable);
                }
            }
            const auto answer = co_await stats->call("server.stats");
            if (!answer.ok) {
                driver_problem = "server.stats: " + answer.message;
            } else {
                caught_up = answer.data.at("lobby").at("caught_up").get<std::uint64_t>();
            }
            if (!driver_problem.empty()) {
                break;
            }
            if (!churning) {
                ++after;
            } else if (rounds >= 20 && caught_up > 0) {
                churning = false;
            }
        }
        churning = false;
        if (present) {
            present->close();
        }
        stats->close();
    };

    const auto rethrow = [](std::exception_ptr error) {
        if (error) {
            std::rethrow_exception(error);
        }
    };
    for (int i = 0; i < kAskers; ++i) {
        ++askers_running;
        asio::co_spawn(io, ask(askers[static_cast<std::size_t>(i)], i), rethrow);
    }
    asio::co_spawn(io, drive(), rethrow);
    // Bounded: every read above ends with the churn, or with the server.
    io.run_for(120s);

    INFO(rounds << " rounds; " << caught_up << " snapshots caught mid-fan-out");
    CHECK(driver_problem.empty());
    CHECK(askers_running == 0);
    CHECK(caught_up > 0);
    std::size_t gaps = 0;
    for (const auto& a : askers) {
        INFO(a.answers << " answers, " << a.deltas << " deltas, " << a.gaps << " gaps, "
                       << a.compared << " compared");
        CHECK(a.violations == std::vector<std::string>{});
        CHECK(a.lobby.synced());
        CHECK(a.compared > 0);
        gaps += a.gaps;
    }
    // The askers that turned their deltas off and on saw gaps, and still
    // ended synced with copies equal to the snapshots.
    CHECK(gaps > 0);
}

TEST_CASE("healthcheck hosts: 127.0.0.1 first, then healthcheck.host or the advertised host, never bind-only",
          "[healthcheck][unit]") {
    using gamestore::launch::healthcheck_hosts;
    using gamestore::launch::is_unspecified_address;
    for (const char* bind_only : {"0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0", "::0"}) {
        CHECK(is_unspecified_address(bind_only));
    }
    for (const char* connectable : {"127.0.0.1", "::1", "192.168.1.20", "localhost", "game.example", ""}) {
        CHECK_FALSE(is_unspecified_address(connectable));
    }
    using Hosts = std::vector<std::string>;
    // No healthcheck.host: the advertised host after loopback.
    auto hosts = healthcheck_hosts(std::nullopt, "192.168.1.20");
    CHECK(hosts.connect == Hosts{"127.0.0.1", "192.168.1.20"});
    CHECK(hosts.skipped.empty());
    // A declared host replaces the advertised one.
    hosts = healthcheck_hosts(std::string("10.0.0.5"), "192.168.1.20");
    CHECK(hosts.connect == Hosts{"127.0.0.1", "10.0.0.5"});
    // {bind_host} rendered to 0.0.0.0 is skipped; the advertised host stands in.
    hosts = healthcheck_hosts(std::string("0.0.0.0"), "192.168.1.20");
    CHECK(hosts.connect == Hosts{"127.0.0.1", "192.168.1.20"});
    CHECK(hosts.skipped == Hosts{"0.0.0.0"});
    hosts = healthcheck_hosts(std::string("::"), "0.0.0.0");
    CHECK(hosts.connect == Hosts{"127.0.0.1"});
    CHECK(hosts.skipped == Hosts{"::", "0.0.0.0"});
    // Duplicates collapse; loopback is always first and only once.
    hosts = healthcheck_hosts(std::string("127.0.0.1"), "127.0.0.1");
    CHECK(hosts.connect == Hosts{"127.0.0.1"});
    hosts = healthcheck_hosts(std::nullopt, "");
    CHECK(hosts.connect == Hosts{"127.0.0.1"});
}

TEST_CASE("the platform's healthcheck is diagnostic: it runs, logs, skips bind-only hosts and never delays IN_GAME",
          "[matches][integration][healthcheck]") {
    TempDir work;
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    // A port that refuses connections for the whole test: bound, never listening.
    const int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(holder >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    const int dead_port = ntohs(address.sin_port);
    const auto blind = publish_edited_fakegame(dev, work.path(), "ok", "Blind Check", [&](json& manifest) {
        manifest["healthcheck"] = {{"tcp_port", std::to_string(dead_port)}, {"host", "{bind_host}"}, {"timeout_sec", 2}};
    });
    const auto fine = dev.publish_fakegame("ok", "Fine Check");

    {
        auto players = gather_and_start(server, blind, {"hc-blind"});
        auto in_game = players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(in_game);
        const auto match_id = in_game->at("match_id").get<std::string>();
        const std::string target = "127.0.0.1:" + std::to_string(dead_port);
        REQUIRE(wait_for_log(server, "match " + match_id + ": no TCP connection to " + target + " within 2 s"));
        const auto lines = log_lines(server);
        const long probing = find_line(lines, {"healthcheck: room", "match " + match_id + ": probing " + target});
        const long skipped = find_line(lines, {"match " + match_id + ": not connecting to 0.0.0.0 (a bind-only address)"});
        const long in_game_line = find_line(lines, {"STARTING -> IN_GAME (match " + match_id});
        const long failed = find_line(lines, {"match " + match_id + ": no TCP connection to " + target});
        const long attempt = find_line(lines, {"match " + match_id + ": attempt 1 failed: " + target});
        REQUIRE(probing >= 0);
        CHECK(skipped >= 0);
        CHECK(attempt >= 0);
        REQUIRE(in_game_line >= 0);
        // IN_GAME came while the probe was still failing: it never waited.
        CHECK(probing < in_game_line);
        CHECK(in_game_line < failed);
        CHECK(lines[static_cast<std::size_t>(failed)].find("0.0.0.0") == std::string::npos);
        CHECK(lines[static_cast<std::size_t>(failed)].find("diagnostic only") != std::string::npos);
        // The match is unaffected by the failed probe.
        CHECK(players[0]->require("room.get", {{"room_id", in_game->at("room_id")}}).at("room").at("state") == "IN_GAME");
        CHECK(match_counter(*players[0], "healthchecks_failed") == 1);
        players[0]->require("room.leave");
    }
    {
        auto players = gather_and_start(server, fine, {"hc-fine"});
        auto in_game = players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(in_game);
        const auto match_id = in_game->at("match_id").get<std::string>();
        const auto port = in_game->at("launch").at("port").get<int>();
        CHECK(wait_for_log(server, "match " + match_id + ": 127.0.0.1:" + std::to_string(port) +
                                       " accepts TCP connections"));
        CHECK(match_counter(*players[0], "healthchecks_passed") == 1);
        players[0]->require("room.leave");
    }
    ::close(holder);
}

TEST_CASE(
    "one /proc scan answers every stop: live groups, and processes carrying an id outside its "
    "group",
    "[launch][unit]") {
    using gamestore::launch::DescendantTable;
    const std::string id = "m-0123456789abcdef01234567";
    // Two of our children in sessions (and groups) of their own, both
    // carrying the id: seen from either one's group, the other escaped it.
    // A third carries no id.
    auto spawn_sleep = [&](bool carries) {
        gamestore::launch::ProcessSpec spec;
        spec.argv = {"sleep", "30"};
        spec.env = gamestore::launch::base_environment();
        if (carries) {
            spec.env.emplace_back("MATCH_ID", id);
        }
        spec.cwd = fs::current_path();
        auto spawned = gamestore::launch::spawn_process(spec);
        REQUIRE(std::holds_alternative<gamestore::launch::SpawnedProcess>(spawned));
        return std::get<gamestore::launch::SpawnedProcess>(spawned);
    };
    const auto ids_in = [](std::string_view entry, std::vector<std::string>& ids) {
        if (entry.rfind("MATCH_ID=", 0) == 0) {
            ids.emplace_back(entry.substr(9));
        }
    };
    const auto first = spawn_sleep(true);
    const auto second = spawn_sleep(true);
    const auto other = spawn_sleep(false);

    const auto table = DescendantTable::scan(ids_in);
    CHECK(table.group_alive(first.pgid));
    CHECK(table.group_alive(second.pgid));
    CHECK(table.escaped(first.pgid, id) == std::vector<pid_t>{second.pid});
    CHECK(table.escaped(second.pgid, id) == std::vector<pid_t>{first.pid});
    CHECK(table.escaped(other.pgid, "m-ffffffffffffffffffffffff").empty());

    for (const auto& process : {first, second, other}) {
        ::kill(process.pid, SIGKILL);
        int status = 0;
        REQUIRE(::waitpid(process.pid, &status, 0) == process.pid);
    }
    const auto after = DescendantTable::scan(ids_in);
    CHECK_FALSE(after.group_alive(first.pgid));
    CHECK_FALSE(after.group_alive(second.pgid));
    CHECK(after.escaped(first.pgid, id).empty());
}

namespace {

gamestore::launch::SpawnedProcess spawn_child(std::vector<std::string> argv) {
    gamestore::launch::ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.env = gamestore::launch::base_environment();
    spec.cwd = fs::current_path();
    spec.new_session = false;
    auto spawned = gamestore::launch::spawn_process(spec);
    REQUIRE(std::holds_alternative<gamestore::launch::SpawnedProcess>(spawned));
    return std::get<gamestore::launch::SpawnedProcess>(spawned);
}

// Waits for the exit without reaping it (the reaper must do that).
void wait_exited(pid_t pid) {
    siginfo_t info{};
    // The reaper's SIGCHLD handler (installed without SA_RESTART) interrupts
    // the wait whenever another child exits: wait again, a bounded number of
    // times (each wait ends with an exit or a signal).
    int rc = -1;
    for (int attempt = 0; attempt < 1000; ++attempt) {
        rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT);
        if (rc == 0 || errno != EINTR) {
            break;
        }
    }
    REQUIRE(rc == 0);
}

// True while `pid` is an unreaped child of ours (a zombie, here).
bool unreaped(pid_t pid) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid;
}

// A child spawned the way the match host spawns: inside a spawn bracket,
// registered with the reaper. Its pid and the ticket to watch it by.
std::pair<pid_t, gamestore::server::ChildReaper::Ticket> spawn_registered(
    gamestore::server::ChildReaper& reaper, std::vector<std::string> argv) {
    gamestore::server::ChildReaper::Spawn bracket(reaper);
    const auto child = spawn_child(std::move(argv));
    return {child.pid, bracket.started(child.pid)};
}

}  // namespace

TEST_CASE("the reaper keeps an exit reaped before its watch() for that watch, by ticket",
          "[reaper][unit]") {
    using gamestore::server::ChildReaper;
    boost::asio::io_context io;
    ChildReaper reaper(io);

    // Spawned on another thread, as the match host's spawner does; the child
    // exits and is reaped before anyone watches it.
    pid_t pid = -1;
    ChildReaper::Ticket ticket = 0;
    std::thread spawner([&] {
        ChildReaper::Spawn bracket(reaper);
        pid = spawn_child({"/bin/sh", "-c", "exit 7"}).pid;
        ticket = bracket.started(pid);
    });
    spawner.join();
    wait_exited(pid);
    reaper.reap();
    CHECK_FALSE(unreaped(pid));
    CHECK(reaper.unwatched_reaped() == 0);  // known as ours, not an orphan

    std::optional<int> status;
    reaper.watch(ticket, [&](int wait_status) { status = wait_status; });
    CHECK_FALSE(status);  // posted, never run inside watch()
    io.poll();
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 7);
}

TEST_CASE("no child is reaped while a spawn is open; the last spawn to close reaps",
          "[reaper][unit]") {
    using gamestore::server::ChildReaper;
    boost::asio::io_context io;
    ChildReaper reaper(io);

    // A child watched the usual way, still running.
    const auto sleeper = spawn_registered(reaper, {"sleep", "30"});
    std::optional<int> sleeper_status;
    reaper.watch(sleeper.second, [&](int wait_status) { sleeper_status = wait_status; });

    std::optional<int> quick_status;
    pid_t quick = -1;
    {
        ChildReaper::Spawn open(reaper);
        quick = spawn_child({"/bin/true"}).pid;
        const auto ticket = open.started(quick);
        ::kill(sleeper.first, SIGKILL);
        wait_exited(sleeper.first);
        wait_exited(quick);
        // Deferred: a waitpid(-1) now could take a child spawned a moment
        // ago and not registered yet.
        reaper.reap();
        CHECK(unreaped(sleeper.first));
        CHECK(unreaped(quick));
        reaper.watch(ticket, [&](int wait_status) { quick_status = wait_status; });
    }
    // Closing the spawn reaped both and posted their handlers.
    CHECK_FALSE(unreaped(sleeper.first));
    CHECK_FALSE(unreaped(quick));
    CHECK_FALSE(sleeper_status);
    io.poll();
    REQUIRE(sleeper_status);
    CHECK(WIFSIGNALED(*sleeper_status));
    CHECK(WTERMSIG(*sleeper_status) == SIGKILL);
    REQUIRE(quick_status);
    CHECK(WIFEXITED(*quick_status));
}

TEST_CASE(
    "the reaper forgets exits nobody registered, so a reused pid is not reported dead at birth",
    "[reaper][unit]") {
    using gamestore::server::ChildReaper;
    boost::asio::io_context io;
    ChildReaper reaper(io);

    // A watched child, running.
    const auto watched = spawn_registered(reaper, {"sleep", "30"});
    std::optional<int> status;
    reaper.watch(watched.second, [&](int wait_status) { status = wait_status; });

    // An exit of a process nobody registered (an adopted orphan, say) is
    // reaped and dropped: it is kept under no pid and no ticket, so no later
    // child, whatever pid it gets, can be handed it.
    const pid_t stranger = spawn_child({"/bin/true"}).pid;
    wait_exited(stranger);
    reaper.reap();
    io.poll();
    CHECK(reaper.unwatched_reaped() == 1);
    CHECK_FALSE(status);

    // A forgotten child's exit goes nowhere.
    const auto forgotten = spawn_registered(reaper, {"/bin/true"});
    reaper.forget(forgotten.second);
    wait_exited(forgotten.first);
    reaper.reap();
    CHECK_FALSE(unreaped(forgotten.first));
    reaper.watch(forgotten.second, [&](int) { FAIL("a forgotten child was reported"); });
    io.poll();

    // The watched child is reported once, with its own status.
    ::kill(watched.first, SIGKILL);
    wait_exited(watched.first);
    reaper.reap();
    REQUIRE(status);
    CHECK(WIFSIGNALED(*status));
    CHECK(reaper.unwatched_reaped() == 1);
}

TEST_CASE(
    "a match abandoned while its game server is being spawned leaves no process, port or match dir",
    "[matches][reaper]") {
    namespace server = gamestore::server;
    TempDir work;
    server::ServerConfig config;
    config.data_dir = work.path() / "var";
    fs::create_directories(config.data_dir);
    config.database = gamestore::testing::test_database_for(config.data_dir);
    const auto ports = gamestore::testing::unique_game_ports_args();
    config.game_port_first = static_cast<std::uint16_t>(std::stoi(ports[1]));
    config.game_port_last = config.game_port_first;  // one: a leaked port would be seen
    config.sandbox.mode = gamestore::launch::SandboxMode::None;
    config.catalog_cache = false;
    auto store = open_store(config.data_dir);
    server::ServerMetrics metrics;
    const gamestore::launch::Sandbox sandbox(config.sandbox);
    boost::asio::io_context io{1};
    server::LobbyServer lobby(io, config);
    server::CatalogCache catalog(*store, lobby.blocking_pool(), false);
    server::PackageCache packages(*store, config.data_dir, config.zip_limits);
    server::PlatformServices services{lobby,   *store,  lobby.config(), sandbox,
                                      metrics, catalog, packages};
    server::ChildReaper reaper(io);
    server::LocalMatchHost host(services, reaper, server::LocalHostTuning{}, 1);

    const auto package_root = work.path() / "package";
    fs::create_directories(package_root);
    const auto match_id = gamestore::server::new_match_id();
    server::MatchSpec spec;
    spec.room_id = 1;
    spec.match_id = match_id;
    spec.manifest.game_name = "Sleeper";
    spec.manifest.version = "1.0.0";
    spec.manifest.server.argv = {"sleep", "30"};
    spec.package_root = package_root;
    spec.players = {"ann"};
    spec.client_token = "client-token-for-the-test";
    spec.report_token = "report-token-for-the-test";
    REQUIRE(std::holds_alternative<server::MatchPlacement>(host.reserve(match_id)));

    // The room gives up the moment the spawn is handed to the spawner
    // thread: the stop is started from still_wanted() and runs while the
    // launch waits for the spawn.
    bool stop_done = false;
    std::optional<std::string> exit_how;
    std::optional<server::MatchLaunch> launched;
    server::MatchLaunchHooks hooks;
    hooks.still_wanted = [&] {
        boost::asio::co_spawn(io, host.stop(match_id, false),
                              [&](std::exception_ptr) { stop_done = true; });
        return true;
    };
    hooks.on_exit = [&](std::string how) { exit_how = std::move(how); };
    boost::asio::co_spawn(io, host.launch(std::move(spec), std::move(hooks)),
                          [&](std::exception_ptr error, server::MatchLaunch outcome) {
                              REQUIRE_FALSE(error);
                              launched = std::move(outcome);
                          });
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!(stop_done && launched && exit_how) && std::chrono::steady_clock::now() < deadline) {
        io.run_one_for(100ms);
    }
    REQUIRE(launched);
    REQUIRE(stop_done);
    // The spawn went ahead (the stop came after still_wanted() said yes),
    // and the stop that waited for it ended its process...
    CHECK(launched->result == server::MatchLaunch::Result::Started);
    REQUIRE(exit_how);
    INFO(*exit_how);
    CHECK_FALSE(gamestore::launch::process_alive(static_cast<pid_t>(launched->pid)));
    CHECK(gamestore::launch::processes_with_env_entry(match_id).empty());
    // ...then freed its directory and its port, which the next match gets.
    CHECK_FALSE(fs::exists(config.data_dir / "matches" / match_id));
    CHECK(host.in_use() == 0);
    const auto next = gamestore::server::new_match_id();
    CHECK(std::holds_alternative<server::MatchPlacement>(host.reserve(next)));
}

TEST_CASE("stopping a SIGTERM-ignoring game does not hold up another room's launch", "[matches][integration]") {
    // One blocking thread: a stop that waited on it (as it once did) would
    // keep the next launch from being prepared for the whole stop grace.
    ServerFixture server(server_args({"--blocking-threads", "1"}, "8"));
    TestDeveloper dev(server, "maker");
    const auto stubborn = dev.publish_fakegame("ignore-sigterm", "Stubborn");
    const auto quick = dev.publish_fakegame("ok", "Quick");
    TestPlayer observer(server, "observer");

    auto first = gather_and_start(server, stubborn, {"st-a"});
    auto in_game = first[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
    REQUIRE(in_game);
    const auto stubborn_match = in_game->at("match_id").get<std::string>();
    first[0]->require("room.leave");  // aborts it: SIGTERM, ignored, 8 s grace
    REQUIRE(wait_for_log(server, "ENDING (match " + stubborn_match + ": ABORTED"));

    auto second = gather_and_start(server, quick, {"st-b"});
    REQUIRE(second[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); }));
    // The stubborn stop is still under way (it ends with SIGKILL after its
    // grace): the launch went ahead beside it.
    CHECK(match_counter(observer, "cleanups_in_flight") == 1);
    CHECK(server.log().find("match " + stubborn_match + ": the game server ignored SIGTERM") == std::string::npos);
    second[0]->require("room.leave");
    CHECK(wait_no_rooms(observer, 30s));
    CHECK(wait_for_log(server, "match " + stubborn_match + ": the game server ignored SIGTERM"));
    CHECK(no_match_processes(stubborn_match));
}

// ---------------------------------------------------------------------------
// The game sandbox (docs/SECURITY.md). ci/unprivileged runs the [sandbox]
// cases again as an unprivileged user.

namespace {

// The one line `fakegame server --attack` prints, parsed.
json attack_report(const ServerFixture& server, const std::string& match_id) {
    const auto log = server.data_dir() / "logs" / (match_id + ".log");
    REQUIRE(gamestore::testing::wait_for_text(log, "ATTACK {", 30s));
    std::istringstream lines(gamestore::testing::read_file(log));
    for (std::string line; std::getline(lines, line);) {
        const auto at = line.find("ATTACK {");
        if (at != std::string::npos) {
            return json::parse(line.substr(at + 7));
        }
    }
    FAIL("no ATTACK line in " << log);
    return {};
}

std::string room_state(TestPlayer& player, std::int64_t room_id) {
    return player.require("room.get", {{"room_id", room_id}})
        .at("room")
        .at("state")
        .get<std::string>();
}

// sha256 of every file of a directory tree, by relative path.
std::map<std::string, std::string> tree_hashes(const fs::path& root) {
    std::map<std::string, std::string> hashes;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        const auto relative = fs::relative(entry.path(), root).string();
        hashes[relative] =
            entry.is_regular_file() ? gamestore::packages::sha256_file(entry.path()) : "dir";
    }
    return hashes;
}

fs::path only_store_copy(const ServerFixture& server) {
    std::vector<fs::path> copies;
    for (const auto& entry : fs::directory_iterator(server.data_dir() / "games")) {
        copies.push_back(entry.path());
    }
    REQUIRE(copies.size() == 1);
    return copies.front();
}

}  // namespace

TEST_CASE(
    "a game that attacks from inside its match reaches nothing while another match runs; "
    "unconfined it would",
    "[matches][integration][sandbox]") {
    const std::string mode = GENERATE(as<std::string>{}, "bwrap", "none");
    if (mode == "none" && ::geteuid() != 0) {
        // Unconfined and unprivileged, the attack would only meet file
        // permissions: what it shows is the root case, which CI runs.
        SUCCEED("the unconfined comparison runs as root");
        return;
    }
    INFO("--sandbox " << mode);
    TempDir work;
    ServerFixture server(server_args({"--sandbox", mode}));
    TestDeveloper dev(server, "maker");
    const auto victim_game = dev.publish_fakegame("ok", "Victim Game", "1.0.0", 1);
    const auto store_copy = only_store_copy(server);

    // The victim's game server waits for a client that never comes: its
    // match stays IN_GAME while the attacker plays.
    auto victims = gather_and_start(server, victim_game, {"vera"});
    const auto victim_room =
        victims[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
    REQUIRE(victim_room);
    const std::string victim_match = victim_room->at("match_id");

    const auto data = server.data_dir();
    const std::string targets = " --attack-db " + (data / "gamestore.db").string() +
                                " --attack-store " + (data / "packages").string() +
                                " --attack-store " + store_copy.string() + " --attack-matches " +
                                (data / "matches").string() + " --attack-signal " +
                                std::to_string(server.process().pid());
    const auto attacker_game =
        publish_edited_fakegame(dev, work.path(), "attack", "Attacker Game", [&](json& m) {
            m["server"]["command"] = m["server"]["command"].get<std::string>() + targets;
        });
    auto attackers = gather_and_start(server, attacker_game, {"mallory"});
    const auto attack_room =
        attackers[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
    REQUIRE(attack_room);
    const auto report = attack_report(server, attack_room->at("match_id"));
    INFO(report.dump(2));

    if (mode == "bwrap") {
        CHECK_FALSE(report.at("db").at("ok").get<bool>());
        CHECK_FALSE(report.at("store").at("ok").get<bool>());
        CHECK_FALSE(report.at("tokens").at("ok").get<bool>());
        CHECK_FALSE(report.at("environ").at("ok").get<bool>());
        CHECK_FALSE(report.at("signal").at("ok").get<bool>());
        CHECK_FALSE(report.at("processes").at("ok").get<bool>());
        CHECK_FALSE(report.at("forge").at("ok").get<bool>());
        CHECK(room_state(*victims[0], victim_room->at("room_id").get<std::int64_t>()) == "IN_GAME");
        CHECK(ended_events_for(*victims[0], victim_match) == 0);
        CHECK(stats(*victims[0]).at("sandbox") == "bwrap");
    } else {
        CHECK(report.at("db").at("ok").get<bool>());
        CHECK(report.at("store").at("ok").get<bool>());
        CHECK(report.at("tokens").at("ok").get<bool>());
        CHECK(report.at("environ").at("ok").get<bool>());
        CHECK(report.at("signal").at("ok").get<bool>());
        CHECK(report.at("processes").at("ok").get<bool>());
        CHECK(report.at("forge").at("ok").get<bool>());
        // The forged END ended the victims' match.
        CHECK(victims[0]->wait_event("match.ended", 20s));
        CHECK(server.log().find("launching without a sandbox") != std::string::npos);
    }
}

TEST_CASE(
    "a game that writes logs/ beside itself plays to END and the store's copy stays byte-identical",
    "[matches][integration][sandbox]") {
    TempDir work;
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("logs-beside", "Logs Beside", "1.0.0", 1);
    const auto store_copy = only_store_copy(server);
    const auto before = tree_hashes(store_copy);

    for (int round = 0; round < 2; ++round) {
        auto players = gather_and_start(server, game, {"lena" + std::to_string(round)});
        const auto room =
            players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(room);
        auto client =
            launch_client("logs-beside", room->at("launch"), players[0]->name(), work.path());
        const auto ended = players[0]->wait_event("match.ended");
        REQUIRE(ended);
        INFO(gamestore::testing::read_file(server.data_dir() / "logs" /
                                           (room->at("match_id").get<std::string>() + ".log")));
        CHECK(ended->at("status") == "END");
        CHECK(client->wait_exit_code(20s) == 0);
    }
    CHECK(tree_hashes(store_copy) == before);
    CHECK_FALSE(fs::exists(store_copy / "logs"));
}

TEST_CASE(
    "a game past a limit is stopped with the reason; the lobby answers and the next match starts",
    "[matches][integration][sandbox]") {
    TempDir work;
    ServerFixture server(server_args(
        {"--game-file-size-mib", "16", "--game-memory-mib", "512", "--game-processes", "32"}));
    TestDeveloper dev(server, "maker");
    const auto ok_game = dev.publish_fakegame("ok", "After Limits", "1.0.0", 1);

    struct Case {
        const char* profile;
        const char* status;
        const char* reason;   // in match.ended's reason
        const char* printed;  // in the game's own log ("": killed before it could say anything)
    };
    const Case cases[] = {
        {"big-file", "CRASHED", "SIGXFSZ", ""},
        {"memory-hog", "CRASHED", "SIGABRT", "ALLOCATE: out of memory"},
        {"fork-loop", "TIMEOUT", "no heartbeat", "FORK_LOOP: fork failed after"},
    };
    for (const auto& c : cases) {
        INFO(c.profile);
        const auto game = publish_edited_fakegame(dev, work.path(), c.profile,
                                                  std::string("Limit ") + c.profile, [](json&) {});
        auto players = gather_and_start(server, game, {std::string("lim-") + c.profile});
        const auto room =
            players[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(room);
        const std::string match_id = room->at("match_id");
        const auto ended = players[0]->wait_event("match.ended", 60s);
        REQUIRE(ended);
        const auto log =
            gamestore::testing::read_file(server.data_dir() / "logs" / (match_id + ".log"));
        INFO(ended->dump() << "\n" << log);
        CHECK(ended->at("status") == c.status);
        CHECK(ended->at("reason").get<std::string>().find(c.reason) != std::string::npos);
        CHECK(log.find(c.printed) != std::string::npos);
        CHECK(log.find("WRITE_FILE: wrote") == std::string::npos);
        if (std::string(c.profile) == "fork-loop") {
            const auto at = log.find("fork failed after ");
            REQUIRE(at != std::string::npos);
            CHECK(std::stoi(log.substr(at + 18)) < 32);
        }
        // Back in WAITING once the stop (group and sandbox) has finished.
        CHECK(players[0]->wait_room(waiting_after(match_id)));
        CHECK(no_match_processes(match_id));

        // The lobby answers, and a well-behaved match starts next.
        CHECK(stats(*players[0]).at("sessions").get<int>() >= 1);
        auto next = gather_and_start(server, ok_game, {std::string("next-") + c.profile});
        CHECK(next[0]->wait_room([](const json& r) { return state_is(r, "IN_GAME"); }));
        next[0]->require("room.leave");
        players[0]->require("room.leave");
    }
}

TEST_CASE("a member disconnected mid-match learns the result at its next sign-in, once",
          "[matches][integration]") {
    TempDir work;
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("ok", "Fake Reconnect", "1.0.0", 2);
    auto players = gather_and_start(server, game, {"alice", "bob"});
    std::vector<json> launches;
    for (auto& player : players) {
        auto room = player->wait_room([](const json& r) { return state_is(r, "IN_GAME"); });
        REQUIRE(room);
        launches.push_back(room->at("launch"));
    }
    const std::string match_id = launches[0].at("match_id");
    // alice's lobby connection drops; her game client plays on.
    players[0].reset();
    REQUIRE(players[1]->wait_room([](const json& r) {
        return state_is(r, "IN_GAME") && r.at("members").size() == 2 &&
               r.at("members")[0].at("connected") == false;
    }));
    auto alice_client = launch_client("ok", launches[0], "alice", work.path());
    auto bob_client = launch_client("ok", launches[1], "bob", work.path());
    const auto ended = players[1]->wait_event("match.ended");
    REQUIRE(ended);
    CHECK(ended->at("status") == "END");
    // Back in WAITING without the member who never came back.
    const auto waiting = players[1]->wait_room(waiting_after(match_id));
    REQUIRE(waiting);
    CHECK(waiting->at("members").size() == 1);

    TestPlayer alice(server, "alice");
    const auto missed =
        alice.wait_for("match.ended", [&](const json& e) { return e.at("match_id") == match_id; });
    REQUIRE(missed);
    CHECK(missed->at("status") == "END");
    CHECK(missed->at("results").size() == 2);
    CHECK(alice.require("room.list").at("rooms")[0].at("members").size() == 1);
    // Delivered once: the next sign-in has nothing to catch up on.
    TestPlayer alice_again(server, "alice");
    alice_again.require("lobby.players");
    CHECK(ended_events_for(alice_again, match_id) == 0);
    CHECK(alice_client->wait_exit_code(20s) == 0);
    CHECK(bob_client->wait_exit_code(20s) == 0);
}

TEST_CASE(
    "a live match every player has left is ABORTED after the everyone-left grace, though it "
    "heartbeats",
    "[matches][integration]") {
    TempDir work;
    ServerFixture server(server_args({"--everyone-left-grace", "1"}));
    TestDeveloper dev(server, "maker");
    // Waits an hour for its player, heartbeating every second all along.
    const auto game =
        publish_edited_fakegame(dev, work.path(), "ok", "Fake Patience", [](json& manifest) {
            manifest["server"]["command"] = "bin/fakegame server --player-timeout-ms 3600000";
        });
    TestPlayer solo(server, "solo");
    solo.require("room.create", {{"game", game}});
    const auto match_id = start_again(solo);
    REQUIRE(solo.wait_room([](const json& r) { return state_is(r, "IN_GAME"); }));

    SECTION("the op is checked") {
        const auto wrong_match =
            solo.call("match.client", {{"match_id", "m-0"}, {"state", "exited"}});
        CHECK(wrong_match.error_code == "CONFLICT");
        const auto bad_state =
            solo.call("match.client", {{"match_id", match_id}, {"state", "gone"}});
        CHECK(bad_state.error_code == "BAD_REQUEST");
        TestPlayer stranger(server, "stranger");
        CHECK(stranger.call("match.client", {{"match_id", match_id}, {"state", "exited"}})
                  .error_code == "NOT_FOUND");
    }
    SECTION("the one player's client exited") {
        const auto told =
            solo.require("match.client", {{"match_id", match_id}, {"state", "exited"}});
        CHECK(told.at("state") == "exited");
        const auto ended = solo.wait_for(
            "match.ended", [&](const json& e) { return e.at("match_id") == match_id; });
        REQUIRE(ended);
        CHECK(ended->at("status") == "ABORTED");
        CHECK(ended->at("reason").get<std::string>().find("everyone left") != std::string::npos);
        REQUIRE(solo.wait_room(waiting_after(match_id)));
        CHECK(stats(solo).at("ports_in_use") == 0);
        CHECK(no_match_processes(match_id));
        CHECK_FALSE(fs::exists(server.data_dir() / "matches" / match_id));
    }
}

TEST_CASE(
    "a room left behind by an ended session is released when the account enters another; a live "
    "one is not",
    "[matches][integration]") {
    TempDir work;
    ServerFixture server(server_args());
    TestDeveloper dev(server, "maker");
    const auto game =
        publish_edited_fakegame(dev, work.path(), "ok", "Fake Leftover", [](json& manifest) {
            manifest["server"]["command"] = "bin/fakegame server --player-timeout-ms 3600000";
        });
    const auto& endpoints = server.endpoints();
    // Two connections of one session, as two terminals of one player have:
    // the second resumes the first's token instead of signing in anew.
    auto first = std::make_unique<gamestore::client::SyncLobbyClient>();
    first->connect(endpoints.lobby_host, endpoints.lobby_port);
    REQUIRE(first
                ->call("auth.register",
                       {{"role", "player"}, {"name", "zed"}, {"password", "password123"}})
                .ok);
    const auto login = first->call(
        "auth.login", {{"role", "player"}, {"name", "zed"}, {"password", "password123"}});
    REQUIRE(login.ok);
    const auto old_room = first->call("room.create", {{"game", game}})
                              .data.at("room")
                              .at("room_id")
                              .get<std::int64_t>();
    REQUIRE(first->call("room.ready", {{"ready", true}}).ok);
    REQUIRE(first->call("room.start").ok);

    gamestore::client::SyncLobbyClient second;
    second.connect(endpoints.lobby_host, endpoints.lobby_port);
    REQUIRE(second.call("auth.resume", {{"token", login.data.at("token")}}).ok);
    const auto conflict = second.call("room.create", {{"game", game}});
    CHECK(conflict.error_code == "CONFLICT");
    CHECK(conflict.message.find("already in room " + std::to_string(old_room)) !=
          std::string::npos);
    CHECK(conflict.message.find("another connection of yours") != std::string::npos);

    // The connection that entered the room goes (its launcher died); the
    // server has seen it once it counts one session fewer (asked again after
    // each event, or every 0.5 s).
    const auto sessions_before = second.call("server.stats").data.at("sessions").get<int>();
    first.reset();
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() < deadline) {
        closed = second.call("server.stats").data.at("sessions").get<int>() < sessions_before;
        if (!closed) {
            second.next_event(500ms);
        }
    }
    REQUIRE(closed);
    const auto created = second.call("room.create", {{"game", game}});
    INFO(created.message);
    REQUIRE(created.ok);
    CHECK(created.data.at("left_room").at("room_id") == old_room);
    CHECK(created.data.at("left_room").at("game") == game);
    CHECK(created.data.at("room").at("room_id") != old_room);
    // The old room's match had no player left: it is stopped and the room goes.
    TestPlayer watcher(server, "watcher");
    const auto gone = watcher.wait_lobby([&](const gamestore::protocol::LobbyMirror& lobby) {
        return lobby.rooms().count(old_room) == 0;
    });
    CHECK(gone);
}
