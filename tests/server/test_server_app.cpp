// ServerApp in-process: the server's wiring and shutdown order without the
// program around it (flags, signals), on ephemeral loopback ports.

#include <chrono>
#include <future>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "platform/server/server_app.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"

using namespace std::chrono_literals;
using gamestore::server::ServerApp;
using gamestore::server::ServerConfig;
using gamestore::testing::RawConnection;
using gamestore::testing::TempDir;
using nlohmann::json;

namespace {

ServerConfig loopback_config(const std::filesystem::path& data_dir) {
    ServerConfig config;
    config.listen = {"127.0.0.1", 0};
    config.report_listen = {"127.0.0.1", 0};
    config.http_listen = {"127.0.0.1", 0};
    config.data_dir = data_dir;
    config.fast_password_hash = true;
    // The app runs in this test's process, not beside gamestore-server.
    config.sandbox.init_program = gamestore::testing::binary("gamestore-sandbox-init");
    return config;
}

// run() on its own thread; the future says when (and how) it returned.
struct RunningApp {
    ServerApp& app;
    std::future<void> done;
    explicit RunningApp(ServerApp& a)
        : app(a), done(std::async(std::launch::async, [&a] { a.run(); })) {}
    ~RunningApp() {
        if (done.valid()) {
            app.stop();
            done.wait();
        }
    }
};

json call(RawConnection& conn, const json& request) {
    REQUIRE(conn.send(request.dump() + "\n"));
    const auto line = conn.read_line(10s);
    REQUIRE(line);
    return json::parse(*line);
}

}  // namespace

TEST_CASE(
    "ServerApp binds before run, answers while running, and stop() closes connections and returns",
    "[server_app][integration]") {
    TempDir data;
    ServerApp app(loopback_config(data.path() / "var"), {}, ServerApp::StopSignals::ignored);
    const auto lobby = app.lobby_address();
    const auto report = app.report_address();
    CHECK(lobby.port != 0);
    CHECK(report.port != 0);
    CHECK(lobby.port != report.port);
    CHECK(std::filesystem::exists(data.path() / "var" / "gamestore.db"));

    RunningApp running(app);
    RawConnection conn(lobby.host, lobby.port);
    CHECK(call(conn, {{"id", 1}, {"op", "ping"}}).at("ok") == true);
    const auto registered = call(conn, {{"id", 2},
                                        {"op", "auth.register"},
                                        {"role", "player"},
                                        {"name", "ada"},
                                        {"password", "correct horse"}});
    CHECK(registered.at("ok") == true);

    app.stop();
    REQUIRE(running.done.wait_for(30s) == std::future_status::ready);
    running.done.get();  // run() returned normally
    CHECK(conn.wait_closed(5s));
    // A second stop after the end is harmless.
    app.stop();
}

TEST_CASE("ServerApp on the same data dir keeps what the previous one acknowledged",
          "[server_app][integration]") {
    TempDir data;
    {
        ServerApp first(loopback_config(data.path() / "var"), {}, ServerApp::StopSignals::ignored);
        RunningApp running(first);
        RawConnection conn(first.lobby_address().host, first.lobby_address().port);
        CHECK(call(conn, {{"id", 1},
                          {"op", "auth.register"},
                          {"role", "player"},
                          {"name", "grace"},
                          {"password", "correct horse"}})
                  .at("ok") == true);
    }
    ServerApp second(loopback_config(data.path() / "var"), {}, ServerApp::StopSignals::ignored);
    RunningApp running(second);
    RawConnection conn(second.lobby_address().host, second.lobby_address().port);
    const auto login = call(conn, {{"id", 1},
                                   {"op", "auth.login"},
                                   {"role", "player"},
                                   {"name", "grace"},
                                   {"password", "correct horse"}});
    CHECK(login.at("ok") == true);
}

TEST_CASE("ServerApp refuses a data dir it cannot use, with a sentence",
          "[server_app][integration]") {
    TempDir data;
    const auto not_a_dir = data.path() / "file";
    gamestore::testing::write_file(not_a_dir, "x");
    ServerConfig config = loopback_config(not_a_dir);
    CHECK_THROWS_WITH(ServerApp(config, {}, ServerApp::StopSignals::ignored),
                      Catch::Contains(not_a_dir.string()));
}

TEST_CASE("ServerApp refuses a lobby address in use", "[server_app][integration]") {
    TempDir data;
    ServerApp first(loopback_config(data.path() / "one"), {}, ServerApp::StopSignals::ignored);
    ServerConfig config = loopback_config(data.path() / "two");
    config.listen = first.lobby_address();
    CHECK_THROWS(ServerApp(config, {}, ServerApp::StopSignals::ignored));
}
