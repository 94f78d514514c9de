// fakegame client faults and the server's handshake faults, observed from
// the client's exit code and result line and from the control plane.
#include <catch2/catch.hpp>

#include "tests/fakegames/fakegame_run.hpp"

using namespace gamestore::fakegame_test;
using namespace std::chrono_literals;

TEST_CASE("A client with a wrong token is refused; the seat stays free for the real one",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {});
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
    auto impostor = run.client("alice", {"--wrong-token"});
    const auto refused = impostor->wait(15s);
    REQUIRE_LOGGED(run, refused.has_value());
    CHECK(refused->code == 4);
    const auto result = client_result(*impostor);
    CHECK(result["result"] == "rejected");
    CHECK(result["reason"] == "invalid client_token");

    auto alice = run.client("alice", {"--move", "3"});
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 30s));
    REQUIRE(alice->wait(15s));
    CHECK(client_result(*alice)["result"] == "finished");
    const auto results = *run.endpoint.reports_with(Status::End)[0].report->results;
    REQUIRE(results.size() == 1);
    CHECK(results[0].player == "alice");
    CHECK(results[0].outcome == gamestore::protocol::Outcome::Win);
}

TEST_CASE("fakegame --accept-wrong-token admits a client with a wrong token",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--accept-wrong-token"});
    auto impostor = run.client("alice", {"--wrong-token"});
    const auto exit = impostor->wait(30s);
    REQUIRE_LOGGED(run, exit.has_value());
    CHECK(exit->code == 0);
    CHECK(client_result(*impostor)["result"] == "finished");
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 15s));
}

TEST_CASE("A client that never handshakes is dropped and does not block the match",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--handshake-timeout-ms", "300"});
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
    auto silent = run.client("alice", {"--no-handshake", "--hold-ms", "20000"});
    const auto exit = silent->wait(25s);
    REQUIRE_LOGGED(run, exit.has_value());
    CHECK(exit->code == 0);
    const auto result = client_result(*silent);
    CHECK(result["result"] == "no_handshake");
    CHECK(result["server_closed"] == true);
    CHECK(result["held_ms"].get<long long>() < 20000);
    CHECK_THAT(result["server_said"].get<std::string>(),
               Catch::Contains("no handshake within 300 ms"));

    auto alice = run.client("alice");
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 30s));
    REQUIRE(alice->wait(15s));
    CHECK(client_result(*alice)["result"] == "finished");
}

TEST_CASE("fakegame --reject-all-clients refuses everyone, then reports ERROR and exits 3",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--reject-all-clients", "--player-timeout-ms", "1500"});
    auto alice = run.client("alice");
    const auto refused = alice->wait(15s);
    REQUIRE_LOGGED(run, refused.has_value());
    CHECK(refused->code == 4);
    CHECK_THAT(client_result(*alice)["reason"].get<std::string>(),
               Catch::Contains("--reject-all-clients"));

    const auto exit = run.server->wait(15s);
    REQUIRE_LOGGED(run, exit.has_value());
    CHECK(exit->code == 3);
    const auto errors = run.endpoint.reports_with(Status::Error);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].report->err_msg == "timed out waiting for players: 0 of 1 joined");
}

TEST_CASE("fakegame client --connect-before-in-game makes one attempt and reports it",
          "[fakegame][integration]") {
    SECTION("nobody listens yet") {
        FakegameRun run({"alice"}, {"--delay-bind-ms", "5000"});
        auto early = run.client("alice", {"--connect-before-in-game"});
        const auto exit = early->wait(15s);
        REQUIRE(exit);
        CHECK(exit->code == 3);
        const auto result = client_result(*early);
        CHECK(result["result"] == "connect_failed");
        CHECK(result["attempts"] == 1);
        CHECK_THAT(result["error"].get<std::string>(), Catch::Contains("refused"));
    }
    SECTION("the server already listens") {
        FakegameRun run({"alice"}, {"--never-started"});
        // No STARTED will come; the server's readiness shows on its port.
        auto probe = run.client("alice", {"--no-handshake", "--hold-ms", "1"});
        REQUIRE(probe->wait(15s));
        auto early = run.client("alice", {"--connect-before-in-game"});
        const auto exit = early->wait(15s);
        REQUIRE_LOGGED(run, exit.has_value());
        CHECK(exit->code == 0);
        CHECK(client_result(*early)["result"] == "accepted");
    }
}

TEST_CASE("fakegame client without a launch environment names what is missing",
          "[fakegame][integration]") {
    gamestore::sdk_test::TempDir dir;
    ChildProcess client({kFakegame, "client"}, {{"PATH", "/usr/bin:/bin"}}, dir.path() / "out",
                        dir.path() / "err");
    const auto exit = client.wait(10s);
    REQUIRE(exit);
    CHECK(exit->code == 2);
    const auto result = client_result(client);
    CHECK(result["result"] == "bad_environment");
    CHECK_THAT(
        result["error"].get<std::string>(),
        Catch::StartsWith("missing ROOM_ID, MATCH_ID, HOST, PORT, PLAYER_NAME, CLIENT_TOKEN"));
}

TEST_CASE("fakegame refuses bad flags with exit code 2", "[fakegame][integration]") {
    gamestore::sdk_test::TempDir dir;
    ChildProcess server({kFakegame, "server", "--flood-rate", "9999999"},
                        {{"PATH", "/usr/bin:/bin"}}, dir.path() / "out", dir.path() / "err");
    const auto exit = server.wait(10s);
    REQUIRE(exit);
    CHECK(exit->code == 2);
    CHECK_THAT(server.stderr_text(), Catch::Contains("--flood-rate"));
}
