// The HTTP port of the real server (docs/OPERATIONS.md): /metrics, /livez and
// /readyz while a real fakegame match runs, with the numbers checked to move
// and the exposition checked against the format's rules; /admin by HTTP and
// in headless Chromium.

#include <sqlite3.h>

#include <cmath>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/http_get.hpp"
#include "tests/support/platform_harness.hpp"
#include "tests/support/process.hpp"
#include "tests/support/prometheus_check.hpp"
#include "tests/support/raw_connection.hpp"

using namespace std::chrono_literals;
using gamestore::testing::ChildProcess;
using gamestore::testing::http_get;
using gamestore::testing::http_request;
using gamestore::testing::ParsedMetrics;
using gamestore::testing::RawConnection;
using gamestore::testing::ServerFixture;
using gamestore::testing::TempDir;
using gamestore::testing::TestDeveloper;
using gamestore::testing::TestPlayer;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> server_args() {
    std::vector<std::string> args = {"--fast-password-hash", "--stop-grace", "1", "--end-grace",
                                     "1"};
    auto ports = gamestore::testing::unique_game_ports_args();
    args.insert(args.end(), ports.begin(), ports.end());
    return args;
}

ParsedMetrics scrape(const ServerFixture& server) {
    const auto reply =
        http_get(server.endpoints().http_host, server.endpoints().http_port, "/metrics");
    REQUIRE(reply.status == 200);
    CHECK(reply.headers.at("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
    auto parsed = gamestore::testing::parse_prometheus_text(reply.body);
    for (const auto& problem : parsed.problems) {
        UNSCOPED_INFO(problem);
    }
    CHECK(parsed.problems.empty());
    return parsed;
}

std::unique_ptr<ChildProcess> launch_client(const json& launch, const std::string& name,
                                            const fs::path& work) {
    const auto package = gamestore::testing::build_dir() / "fakegames" / "packages" / "ok";
    const auto spec =
        gamestore::testing::client_launch_for(package, launch, name, work / ("client-" + name));
    gamestore::testing::SpawnOptions options;
    options.argv = spec.argv;
    options.argv[0] = (spec.cwd / spec.argv[0]).lexically_normal().string();
    for (const auto& [key, value] : spec.env) {
        options.env[key] = value;
    }
    options.cwd = spec.cwd;
    options.stdout_file = work / ("client-" + name + ".log");
    options.stderr_file = work / ("client-" + name + ".log");
    return std::make_unique<ChildProcess>(options);
}

}  // namespace

TEST_CASE("metrics, livez and readyz follow a real match from launch to END",
          "[operations][integration]") {
    TempDir work;
    ServerFixture server(server_args());
    const auto& http_host = server.endpoints().http_host;
    const auto http_port = server.endpoints().http_port;

    const auto live = http_get(http_host, http_port, "/livez");
    REQUIRE(live.status == 200);
    CHECK(live.headers.at("content-type") == "application/json");
    CHECK(json::parse(live.body).at("live") == true);
    const auto ready = http_get(http_host, http_port, "/readyz");
    REQUIRE(ready.status == 200);
    const auto readiness = json::parse(ready.body);
    CHECK(readiness.at("ready") == true);
    CHECK(readiness.at("checks").at("database").at("ok") == true);
    CHECK(readiness.at("checks").at("listeners").at("ok") == true);
    CHECK(readiness.at("checks").at("sandbox").at("ok") == true);
    CHECK(readiness.at("checks").at("shutting_down") == false);
    CHECK(http_get(http_host, http_port, "/no-such-page").status == 404);
    CHECK(http_request(http_host, http_port, "POST", "/metrics").status == 405);

    const auto before = scrape(server);
    CHECK(before.value("gamestore_build_info{version=\"0.1.0\",sandbox=\"bwrap\"}") == 1);
    CHECK(before.value("gamestore_match_launches_total") == 0);
    CHECK(before.value("gamestore_match_launch_duration_seconds_count") == 0);
    CHECK(before.value("gamestore_publishes_total") == 0);

    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("ok", "Metrics OK");
    TestPlayer player(server, "watcher");
    player.require("room.create", {{"game", game}});
    player.require("room.ready", {{"ready", true}});
    player.require("room.start");
    const auto room = player.wait_room([](const json& r) { return r.at("state") == "IN_GAME"; });
    REQUIRE(room);
    const auto match_id = room->at("match_id").get<std::string>();

    const auto running = scrape(server);
    CHECK(running.value("gamestore_publishes_total") == 1);
    CHECK(running.value("gamestore_published_bytes_total") > 0);
    CHECK(running.value("gamestore_match_launches_total") == 1);
    CHECK(running.value("gamestore_match_in_game_total") == 1);
    CHECK(running.value("gamestore_match_launch_duration_seconds_count") == 1);
    CHECK(running.value("gamestore_match_launch_duration_seconds_bucket{le=\"+Inf\"}") == 1);
    CHECK(running.value("gamestore_match_launch_duration_seconds_sum") > 0);
    CHECK(running.value("gamestore_rooms{state=\"IN_GAME\"}") == 1);
    CHECK(running.value("gamestore_lobby_sessions") == 2);
    CHECK(running.value("gamestore_game_ports_in_use") == 1);
    CHECK(running.value("gamestore_store_operation_duration_seconds_count{kind=\"write\"}") >
          before.value("gamestore_store_operation_duration_seconds_count{kind=\"write\"}"));
    CHECK(running.value("gamestore_blocking_jobs") >= 0);

    // A forged report: the running match's id with a wrong token.
    const auto forged_before =
        running.value("gamestore_report_refusals_total{reason=\"wrong_token\"}");
    {
        RawConnection report(server.endpoints().report_host, server.endpoints().report_port);
        REQUIRE(report.send(json{{"room_id", room->at("room_id")},
                                 {"match_id", match_id},
                                 {"report_token", std::string(32, 'f')},
                                 {"status", "HEARTBEAT"}}
                                .dump() +
                            "\n"));
        const auto answer = report.read_line(10s);
        REQUIRE(answer);
        CHECK(answer->find("wrong report_token") != std::string::npos);
    }
    const auto forged = scrape(server);
    CHECK(forged.value("gamestore_report_refusals_total{reason=\"wrong_token\"}") ==
          forged_before + 1);
    CHECK(forged.value("gamestore_report_connections_total") >
          running.value("gamestore_report_connections_total"));

    auto client = launch_client(room->at("launch"), player.name(), work.path());
    const auto ended = player.wait_event("match.ended");
    REQUIRE(ended);
    CHECK(ended->at("status") == "END");
    REQUIRE(player.wait_room([](const json& r) { return r.at("state") == "WAITING"; }));
    CHECK(client->wait_exit_code(20s) == 0);

    const auto after = scrape(server);
    CHECK(after.value("gamestore_matches_ended_total{status=\"END\"}") == 1);
    CHECK(after.value("gamestore_matches_ended_total{status=\"CRASHED\"}") == 0);
    CHECK(after.value("gamestore_rooms{state=\"IN_GAME\"}") == 0);
    CHECK(after.value("gamestore_rooms{state=\"WAITING\"}") == 1);
    CHECK(after.value("gamestore_game_ports_in_use") == 0);
    CHECK(after.value("gamestore_http_requests_total") >
          forged.value("gamestore_http_requests_total"));
}

TEST_CASE("the HTTP port keeps the lobby's deadline and body limit", "[operations][integration]") {
    ServerFixture server({"--fast-password-hash", "--auth-deadline", "1"});
    const auto& host = server.endpoints().http_host;
    const auto port = server.endpoints().http_port;
    // A request that never finishes is closed at the deadline.
    RawConnection slow(host, port);
    REQUIRE(slow.send("GET /livez HTTP/1.1\r\nHost: x\r\n"));
    CHECK(slow.wait_closed(10s));
    // A body over --max-line-bytes is refused without being read whole.
    const auto big = http_request(host, port, "POST", "/metrics", {}, std::string(70 * 1024, 'x'));
    CHECK(big.status == 413);
    CHECK(http_get(host, port, "/livez").status == 200);
}

TEST_CASE("/admin needs the token; with it, it shows the running match and can stop it",
          "[operations][admin][integration]") {
    TempDir work;
    const std::string token(40, 'a');
    auto args = server_args();
    args.insert(args.end(), {"--admin-token", token});
    ServerFixture server(args);
    const auto& host = server.endpoints().http_host;
    const auto port = server.endpoints().http_port;
    const std::vector<std::pair<std::string, std::string>> bearer = {
        {"Authorization", "Bearer " + token}};
    const auto json_headers = [](std::vector<std::pair<std::string, std::string>> headers) {
        headers.emplace_back("Content-Type", "application/json");
        return headers;
    };

    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("ok", "Admin Watch");
    TestPlayer player(server, "watched");
    player.require("room.create", {{"game", game}});
    player.require("room.ready", {{"ready", true}});
    player.require("room.start");
    const auto room = player.wait_room([](const json& r) { return r.at("state") == "IN_GAME"; });
    REQUIRE(room);
    const auto match_id = room->at("match_id").get<std::string>();

    // Without the token: 401 and no data, whatever the path.
    for (const auto* path : {"/admin", "/admin/state", "/admin/events"}) {
        const auto refused = http_get(host, port, path);
        CHECK(refused.status == 401);
        CHECK(refused.body.find(match_id) == std::string::npos);
        CHECK(refused.body.find("watched") == std::string::npos);
    }
    CHECK(
        http_get(host, port, "/admin/state", {{"Authorization", "Bearer " + std::string(40, 'b')}})
            .status == 401);
    CHECK(http_request(host, port, "POST", "/admin/stop-match", json_headers({}),
                       json{{"room_id", room->at("room_id")}}.dump())
              .status == 401);

    const auto page = http_get(host, port, "/admin", bearer);
    CHECK(page.status == 200);
    CHECK(page.headers.at("content-type").rfind("text/html", 0) == 0);
    CHECK(page.body.find("EventSource") != std::string::npos);
    // Nothing is loaded from elsewhere (the SVG namespace URI is a name, not a load).
    for (const auto* load : {"src=\"http", "href=\"http", "url(http", "import "}) {
        CHECK(page.body.find(load) == std::string::npos);
    }

    const auto state_reply = http_get(host, port, "/admin/state", bearer);
    REQUIRE(state_reply.status == 200);
    const auto state = json::parse(state_reply.body);
    REQUIRE(state.at("rooms").size() == 1);
    const auto& shown = state.at("rooms").at(0);
    CHECK(shown.at("state") == "IN_GAME");
    CHECK(shown.at("match").at("match_id") == match_id);
    CHECK(shown.at("match").at("pid").get<int>() > 0);
    CHECK(state.at("players").at(0).at("name") == "watched");
    CHECK(state.at("publishes").at(0).at("game") == game);
    CHECK(state.at("launch_latency").at("count") == 1);

    // The login form: a wrong token is refused, the right one sets a cookie
    // that works in place of the header.
    CHECK(http_request(host, port, "POST", "/admin/login",
                       {{"Content-Type", "application/x-www-form-urlencoded"}},
                       "token=" + std::string(40, 'b'))
              .status == 401);
    const auto login =
        http_request(host, port, "POST", "/admin/login",
                     {{"Content-Type", "application/x-www-form-urlencoded"}}, "token=" + token);
    REQUIRE(login.status == 303);
    const auto set_cookie = login.headers.at("set-cookie");
    CHECK(set_cookie.find("HttpOnly") != std::string::npos);
    CHECK(set_cookie.find("SameSite=Strict") != std::string::npos);
    CHECK(set_cookie.find(token) == std::string::npos);  // a session key, not the token
    const auto cookie = set_cookie.substr(0, set_cookie.find(';'));
    CHECK(http_get(host, port, "/admin/state", {{"Cookie", cookie}}).status == 200);

    // Actions take JSON only, then stop the match as ABORTED.
    CHECK(http_request(host, port, "POST", "/admin/stop-match",
                       {{"Authorization", "Bearer " + token},
                        {"Content-Type", "application/x-www-form-urlencoded"}},
                       "room_id=1")
              .status == 415);
    const auto stopped = http_request(host, port, "POST", "/admin/stop-match", json_headers(bearer),
                                      json{{"room_id", room->at("room_id")}}.dump());
    CHECK(stopped.status == 200);
    const auto ended = player.wait_event("match.ended");
    REQUIRE(ended);
    CHECK(ended->at("status") == "ABORTED");
    CHECK(ended->at("reason") == "stopped by the admin");
    REQUIRE(player.wait_room([](const json& r) { return r.at("state") == "WAITING"; }));
    const auto after = json::parse(http_get(host, port, "/admin/state", bearer).body);
    CHECK(after.at("ended").at(0).at("match_id") == match_id);
    CHECK(after.at("ended").at(0).at("status") == "ABORTED");
    CHECK(after.at("rooms").at(0).at("state") == "WAITING");
    CHECK_FALSE(after.at("rooms").at(0).contains("match"));

    // Signing the player out closes their connection.
    const auto revoked = http_request(host, port, "POST", "/admin/revoke", json_headers(bearer),
                                      json{{"player", "watched"}}.dump());
    CHECK(revoked.status == 200);
    CHECK(json::parse(revoked.body).at("revoked") == 1);
    const auto log = server.log();
    CHECK(log.find("admin: stop match of room") != std::string::npos);
    CHECK(log.find("admin: signed out player 'watched'") != std::string::npos);
    CHECK(log.find("refused (no valid token)") != std::string::npos);
}

TEST_CASE("without --admin-token the server creates a 0600 token file once",
          "[operations][admin][integration]") {
    TempDir data("admin-data");
    std::string first;
    {
        ServerFixture server({"--fast-password-hash"}, data.path() / "var");
        const auto file = data.path() / "var" / "admin_token";
        REQUIRE(fs::exists(file));
        CHECK((fs::status(file).permissions() & fs::perms::all) ==
              (fs::perms::owner_read | fs::perms::owner_write));
        first = gamestore::testing::read_file(file);
        CHECK(server.log().find("admin token is in") != std::string::npos);
        first.pop_back();  // the newline
        CHECK(http_get(server.endpoints().http_host, server.endpoints().http_port, "/admin/state",
                       {{"Authorization", "Bearer " + first}})
                  .status == 200);
    }
    ServerFixture again({"--fast-password-hash"}, data.path() / "var");
    CHECK(gamestore::testing::read_file(data.path() / "var" / "admin_token") == first + "\n");
    CHECK(again.log().find("admin token is in") == std::string::npos);
}

TEST_CASE("headless Chromium shows the running match on /admin and its end without a reload",
          "[operations][admin][browser][integration]") {
    const fs::path chromium = "/usr/bin/chromium";
    if (!fs::exists(chromium)) {
        WARN("chromium is not installed (ci/bootstrap installs it); the browser test is skipped");
        return;
    }
    TempDir work("admin-browser");
    const std::string token(48, 'c');
    auto args = server_args();
    args.insert(args.end(), {"--admin-token", token});
    ServerFixture server(args);
    TestDeveloper dev(server, "maker");
    const auto game = dev.publish_fakegame("ok", "Browser Watch");
    TestPlayer player(server, "viewer");
    player.require("room.create", {{"game", game}});
    player.require("room.ready", {{"ready", true}});
    player.require("room.start");
    const auto room = player.wait_room([](const json& r) { return r.at("state") == "IN_GAME"; });
    REQUIRE(room);
    const auto match_id = room->at("match_id").get<std::string>();

    const auto shown = work.path() / "shown";
    const auto result_file = work.path() / "result.json";
    gamestore::testing::SpawnOptions options;
    options.argv = {
        "/usr/bin/python3",
        (gamestore::testing::source_dir() / "tests" / "server" / "admin_browser.py").string(),
        "--chromium",
        chromium.string(),
        "--url",
        "http://" + server.endpoints().http_host + ":" +
            std::to_string(server.endpoints().http_port) + "/admin#token=" + token,
        "--match-id",
        match_id,
        "--out-dir",
        work.path().string(),
        "--shown-file",
        shown.string(),
        "--result-file",
        result_file.string()};
    options.stdout_file = work.path() / "driver.log";
    options.stderr_file = work.path() / "driver.log";
    ChildProcess driver(options);
    // The page shows the running match (and took its screenshot); now end it.
    const bool page_shows_match = gamestore::testing::wait_for_file(shown, 60s);
    INFO(gamestore::testing::read_file(work.path() / "driver.log"));
    REQUIRE(page_shows_match);
    auto client = launch_client(room->at("launch"), player.name(), work.path());
    const auto ended = player.wait_event("match.ended");
    REQUIRE(ended);
    CHECK(ended->at("status") == "END");
    CHECK(driver.wait_exit_code(90s) == 0);
    CHECK(client->wait_exit_code(20s) == 0);

    const auto result = json::parse(gamestore::testing::read_file(result_file));
    INFO(result.dump());
    REQUIRE(result.at("shown") == true);
    REQUIRE(result.at("ended") == true);
    const auto& before = result.at("running_state");
    const auto& after = result.at("ended_state");
    CHECK(before.at("players").at(0) == "viewer");
    CHECK(after.at("ended").at(0).at(0) == match_id);
    CHECK(after.at("ended").at(0).at(1) == "END");
    CHECK(after.at("running").empty());
    // Same document (no reload), redrawn by events since.
    CHECK(after.at("load") == before.at("load"));
    CHECK(after.at("updates").get<int>() > before.at("updates").get<int>());

    const auto screenshot = gamestore::testing::read_file(work.path() / "admin.png");
    CHECK(screenshot.size() > 10'000);
    CHECK(screenshot.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
    // GAMESTORE_ADMIN_SCREENSHOT=PATH keeps the picture (docs/OPERATIONS.md has one).
    if (const char* keep = std::getenv("GAMESTORE_ADMIN_SCREENSHOT")) {
        fs::copy_file(work.path() / "admin.png", keep, fs::copy_options::overwrite_existing);
    }
}

TEST_CASE("/readyz answers 503 while the database cannot be written, 200 again after",
          "[operations][integration]") {
    ServerFixture server({"--fast-password-hash"});
    const auto& host = server.endpoints().http_host;
    const auto port = server.endpoints().http_port;
    REQUIRE(http_get(host, port, "/readyz").status == 200);

    // Another process holding the write lock: the server's check waits its
    // busy timeout (5 s), then reports the database as not writable.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((server.data_dir() / "gamestore.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    const auto blocked = http_request(host, port, "GET", "/readyz", {}, {}, 30s);
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    REQUIRE(blocked.status == 503);
    const auto body = json::parse(blocked.body);
    CHECK(body.at("ready") == false);
    CHECK(body.at("checks").at("database").at("ok") == false);
    CHECK_FALSE(body.at("checks").at("database").at("error").get<std::string>().empty());
    CHECK(body.at("checks").at("listeners").at("ok") == true);
    // /livez does not depend on the database.
    CHECK(http_get(host, port, "/livez").status == 200);
    CHECK(http_get(host, port, "/readyz").status == 200);
}
