// The walking skeleton end to end: the real gamestore-server binary on
// ephemeral loopback ports, spoken to through the client library, raw
// sockets and the gamestore-player CLI.

#include <signal.h>

#include <memory>
#include <optional>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "platform/client/sync_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"
#include "tests/support/server_fixture.hpp"

using namespace std::chrono_literals;
using gamestore::testing::RawConnection;
using gamestore::testing::ServerFixture;
using nlohmann::json;

TEST_CASE("the server answers ping through the client library", "[server][integration]") {
    ServerFixture server;
    gamestore::client::SyncLobbyClient client;
    client.connect(server.endpoints().lobby_host, server.endpoints().lobby_port);
    auto response = client.call("ping", {{"echo", "hello"}});
    REQUIRE(response.ok);
    CHECK(response.data.at("pong") == true);
    CHECK(response.data.at("echo") == "hello");
}

TEST_CASE("malformed and unknown requests get an error and keep the connection",
          "[server][integration]") {
    ServerFixture server;
    RawConnection conn(server.endpoints().lobby_host, server.endpoints().lobby_port);

    REQUIRE(conn.send("this is not json\n"));
    auto line = conn.read_line(5s);
    REQUIRE(line);
    auto reply = json::parse(*line);
    CHECK(reply.at("ok") == false);
    CHECK(reply.at("error").at("code") == "BAD_REQUEST");

    REQUIRE(conn.send(R"({"id":2,"op":"no.such.op"})" "\n"));
    line = conn.read_line(5s);
    REQUIRE(line);
    reply = json::parse(*line);
    CHECK(reply.at("id") == 2);
    CHECK(reply.at("error").at("code") == "UNKNOWN_OP");

    // Only ping is open before authentication.
    REQUIRE(conn.send(R"({"id":3,"op":"store.list"})" "\n"));
    line = conn.read_line(5s);
    REQUIRE(line);
    reply = json::parse(*line);
    CHECK(reply.at("id") == 3);
    CHECK((reply.at("error").at("code") == "UNAUTHENTICATED" || reply.at("error").at("code") == "UNKNOWN_OP"));

    REQUIRE(conn.send(R"({"id":4,"op":"ping"})" "\n"));
    line = conn.read_line(5s);
    REQUIRE(line);
    reply = json::parse(*line);
    CHECK(reply.at("id") == 4);
    CHECK(reply.at("ok") == true);
}

TEST_CASE("a 100 KiB line gets TOO_LARGE and the connection is closed", "[server][integration]") {
    ServerFixture server;
    RawConnection conn(server.endpoints().lobby_host, server.endpoints().lobby_port);
    const std::string big = R"({"id":1,"op":"ping","pad":")" + std::string(100 * 1024, 'x') + "\"}\n";
    conn.send(big);  // the server may close before it has read everything
    auto line = conn.read_line(5s);
    REQUIRE(line);
    auto reply = json::parse(*line);
    CHECK(reply.at("ok") == false);
    CHECK(reply.at("error").at("code") == "TOO_LARGE");
    CHECK(conn.wait_closed(5s));

    // The server itself is fine.
    RawConnection other(server.endpoints().lobby_host, server.endpoints().lobby_port);
    REQUIRE(other.send(R"({"id":9,"op":"ping"})" "\n"));
    line = other.read_line(5s);
    REQUIRE(line);
    CHECK(json::parse(*line).at("ok") == true);
}

TEST_CASE("a connection that stays silent past the auth deadline is closed", "[server][integration]") {
    ServerFixture server({"--auth-deadline", "0.5"});
    RawConnection conn(server.endpoints().lobby_host, server.endpoints().lobby_port);
    auto line = conn.read_line(10s);
    REQUIRE(line);
    auto reply = json::parse(*line);
    CHECK(reply.at("ok") == false);
    CHECK(reply.at("error").at("code") == "TIMEOUT");
    CHECK(conn.wait_closed(5s));
}

TEST_CASE("pinging does not count as authenticating", "[server][integration]") {
    ServerFixture server({"--auth-deadline", "0.5"});
    RawConnection conn(server.endpoints().lobby_host, server.endpoints().lobby_port);
    REQUIRE(conn.send(R"({"id":1,"op":"ping"})" "\n"));
    auto line = conn.read_line(5s);
    REQUIRE(line);
    CHECK(json::parse(*line).at("ok") == true);
    CHECK(conn.wait_closed(10s));
}

TEST_CASE("SIGTERM stops the server cleanly with exit code 0", "[server][integration]") {
    ServerFixture server;
    RawConnection conn(server.endpoints().lobby_host, server.endpoints().lobby_port);
    auto code = server.stop();
    REQUIRE(code);
    CHECK(*code == 0);
    CHECK(conn.wait_closed(5s));
}

TEST_CASE("SIGINT right after the ready file is a clean stop too", "[server][integration]") {
    // The ready file is the earliest moment a supervisor knows the server is
    // up; a signal from then on must take the orderly path (exit 0).
    for (int round = 0; round < 3; ++round) {
        ServerFixture server;
        server.process().signal(SIGINT);
        const auto code = server.process().wait_exit_code(15s);
        REQUIRE(code);
        CHECK(*code == 0);
    }
}

TEST_CASE("line limit and idle timeouts are set by flags on both ports", "[server][integration]") {
    ServerFixture server({"--fast-password-hash", "--max-line-bytes", "2048", "--idle-timeout", "0.5",
                          "--report-idle-timeout", "0.5"});
    {
        // The lobby: a line over the configured limit ends the connection.
        RawConnection conn(server.endpoints().lobby_host, server.endpoints().lobby_port);
        REQUIRE(conn.send(R"({"id":1,"op":"ping","echo":")" + std::string(3000, 'x') + "\"}\n"));
        auto line = conn.read_line(5s);
        REQUIRE(line);
        CHECK(json::parse(*line).at("error").at("code") == "TOO_LARGE");
        CHECK(conn.wait_closed(5s));
    }
    // Registers `name` and signs in on `conn` (the idle timeout applies to
    // signed-in connections; before that the auth deadline does).
    const auto sign_in = [](RawConnection& conn, const std::string& name) {
        int id = 0;
        for (const char* op : {"auth.register", "auth.login"}) {
            REQUIRE(conn.send(json{{"id", ++id},
                                   {"op", op},
                                   {"role", "player"},
                                   {"name", name},
                                   {"password", "correct horse"}}
                                  .dump() +
                              "\n"));
            auto line = conn.read_line(5s);
            REQUIRE(line);
            CHECK(json::parse(*line).at("ok") == true);
        }
    };
    {
        // The lobby: a signed-in connection that falls silent is closed.
        RawConnection conn(server.endpoints().lobby_host, server.endpoints().lobby_port);
        sign_in(conn, "quiet");
        CHECK(conn.wait_closed(5s));
    }
    {
        // The lobby: one that keeps talking stays open well past the
        // timeout (each request counts as activity), and is closed once it
        // falls silent.
        RawConnection conn(server.endpoints().lobby_host, server.endpoints().lobby_port);
        sign_in(conn, "chatty");
        // 8 x 200 ms: three times the 0.5 s timeout.
        for (int i = 2; i < 10; ++i) {
            CHECK_FALSE(conn.wait_closed(200ms));
            REQUIRE(conn.send(json{{"id", i}, {"op", "ping"}}.dump() + "\n"));
            // Pushed events (the lobby's) may come first; the reply has the id.
            bool answered = false;
            for (int line = 0; line < 50 && !answered; ++line) {
                auto got = conn.read_line(5s);
                REQUIRE(got);
                const auto message = json::parse(*got);
                answered = message.contains("id") && message.at("id") == i;
            }
            CHECK(answered);
        }
        CHECK(conn.wait_closed(5s));
    }
    {
        // The control plane: an oversized line is answered (connection kept),
        // then silence ends the connection.
        RawConnection conn(server.endpoints().report_host, server.endpoints().report_port);
        REQUIRE(conn.send(std::string(3000, 'y') + "\n"));
        auto line = conn.read_line(5s);
        REQUIRE(line);
        CHECK(json::parse(*line).at("ok") == false);
        CHECK(json::parse(*line).at("error").get<std::string>().find("2048") != std::string::npos);
        CHECK(conn.wait_closed(5s));
    }
    {
        // The control plane: lines keep a connection open past the timeout,
        // answered or not (a blank line is activity without a reply).
        RawConnection conn(server.endpoints().report_host, server.endpoints().report_port);
        for (int i = 0; i < 8; ++i) {
            REQUIRE(conn.send(i % 2 == 0 ? std::string("{not json\n") : std::string("\n")));
            if (i % 2 == 0) {
                auto line = conn.read_line(5s);
                REQUIRE(line);
                CHECK(json::parse(*line).at("ok") == false);
            }
            CHECK_FALSE(conn.wait_closed(200ms));
        }
        CHECK(conn.wait_closed(5s));
    }
}

TEST_CASE("past --max-connections a connection is told UNAVAILABLE and closed; the others keep working",
          "[server][integration]") {
    ServerFixture server({"--max-connections", "3"});
    const auto& at = server.endpoints();
    auto ping = [](RawConnection& connection, int id) -> std::optional<json> {
        if (!connection.send(json{{"id", id}, {"op", "ping"}}.dump() + "\n")) return std::nullopt;
        auto line = connection.read_line(10s);
        if (!line) return std::nullopt;
        return json::parse(*line);
    };
    std::vector<std::unique_ptr<RawConnection>> open;
    for (int i = 0; i < 3; ++i) {
        open.push_back(std::make_unique<RawConnection>(at.lobby_host, at.lobby_port));
        const auto pong = ping(*open.back(), i);
        REQUIRE(pong);
        CHECK(pong->at("ok") == true);
    }
    // The fourth: one sentence, then the server closes it (its own request,
    // already sent, does not turn the close into a reset that loses the line).
    RawConnection fourth(at.lobby_host, at.lobby_port);
    REQUIRE(fourth.send(json{{"id", 9}, {"op", "ping"}}.dump() + "\n"));
    const auto refused = fourth.read_line(10s);
    REQUIRE(refused);
    const auto error = json::parse(*refused);
    CHECK(error.at("ok") == false);
    CHECK(error.at("error").at("code") == "UNAVAILABLE");
    CHECK(error.at("error").at("message") == "The server is full (3 connections); try again in a minute.");
    CHECK(fourth.wait_closed(10s));
    // The three open ones are still served.
    for (int i = 0; i < 3; ++i) {
        const auto pong = ping(*open[static_cast<std::size_t>(i)], 10 + i);
        REQUIRE(pong);
        CHECK(pong->at("ok") == true);
    }
    // One leaves: once the server has seen it go, a new connection gets in.
    open.pop_back();
    bool admitted = false;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (int attempt = 0; attempt < 1000 && !admitted && std::chrono::steady_clock::now() < deadline; ++attempt) {
        RawConnection again(at.lobby_host, at.lobby_port);
        const auto reply = ping(again, 20);
        REQUIRE(reply);
        admitted = reply->at("ok") == true;
    }
    CHECK(admitted);
    CHECK(server.log().find("turned away") != std::string::npos);
}

TEST_CASE("gamestore-player ping reaches the server; exit 3 when it cannot", "[server][cli][integration]") {
    using gamestore::testing::ChildProcess;
    using gamestore::testing::SpawnOptions;
    gamestore::testing::TempDir temp;
    ServerFixture server;
    SpawnOptions options;
    options.argv = {gamestore::testing::binary("gamestore-player").string(), "--server",
                    server.lobby_address(), "ping"};
    options.stdout_file = temp.path() / "out.txt";
    ChildProcess ping(options);
    CHECK(ping.wait_exit_code(20s) == 0);
    CHECK(gamestore::testing::read_file(temp.path() / "out.txt").find("pong") != std::string::npos);

    // A port nobody listens on: bind one, remember it, close it.
    const auto port = server.endpoints().lobby_port;
    server.stop();
    options.argv = {gamestore::testing::binary("gamestore-player").string(), "--server",
                    "127.0.0.1:" + std::to_string(port), "ping"};
    ChildProcess unreachable(options);
    CHECK(unreachable.wait_exit_code(20s) == 3);
}
