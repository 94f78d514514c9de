// The SDK's example game, run as real processes against the test endpoint:
// what a game developer copies must itself follow protocol v1.
#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdlib>
#include <filesystem>

#include "tests/sdk/support/child_process.hpp"
#include "tests/sdk/support/report_endpoint.hpp"

namespace protocol = gamestore::protocol;
using gamestore::sdk_test::ChildProcess;
using gamestore::sdk_test::FakeMatch;
using gamestore::sdk_test::ReportEndpoint;
using namespace std::chrono_literals;

TEST_CASE("The example game plays a match from STARTED to END", "[sdk][example][integration]") {
    ReportEndpoint endpoint;
    FakeMatch match({"alice", "bob"}, endpoint.port(), "0.2");
    const int port = gamestore::sdk_test::pick_free_port();
    const auto dir = match.dir.path();
    ChildProcess server({SDK_EXAMPLE_SERVER}, match.server_env(port), dir / "server.out",
                        dir / "server.err");
    INFO("server stderr: " << server.stderr_text());

    REQUIRE(endpoint.wait_for_status(protocol::ReportStatus::Started, 1, 15s));
    const auto started = endpoint.reports_with(protocol::ReportStatus::Started);
    CHECK(started[0].report->port == port);
    CHECK(started[0].report->match_id == match.match_id);
    CHECK(started[0].report->report_token == match.report_token);

    ChildProcess alice({SDK_EXAMPLE_CLIENT, "7"}, match.client_env("alice", port),
                       dir / "alice.out", dir / "alice.err");
    ChildProcess bob({SDK_EXAMPLE_CLIENT, "3"}, match.client_env("bob", port), dir / "bob.out",
                     dir / "bob.err");

    REQUIRE(endpoint.wait_for_status(protocol::ReportStatus::End, 1, 30s));
    const auto server_exit = server.wait(15s);
    REQUIRE(server_exit);
    CHECK(server_exit->exited);
    CHECK(server_exit->code == 0);
    for (auto* client : {&alice, &bob}) {
        const auto status = client->wait(15s);
        INFO("client stderr: " << client->stderr_text());
        REQUIRE(status);
        CHECK(status->code == 0);
        CHECK_THAT(client->stdout_text(), Catch::Contains("\"results\""));
    }

    const auto end = endpoint.reports_with(protocol::ReportStatus::End);
    REQUIRE(end.size() == 1);
    REQUIRE(end[0].report->results);
    const auto& results = *end[0].report->results;
    REQUIRE(results.size() == 2);
    CHECK(results[0].player == "alice");
    CHECK(results[0].outcome == protocol::Outcome::Win);
    CHECK(results[0].score == 7.0);
    CHECK(results[1].player == "bob");
    CHECK(results[1].outcome == protocol::Outcome::Lose);
    // Heartbeats ran between STARTED and END, and none came after END.
    const auto lines = endpoint.lines();
    REQUIRE(lines.back().report);
    CHECK(lines.back().report->status == protocol::ReportStatus::End);
}

TEST_CASE("The example server stops cleanly on SIGTERM", "[sdk][example][integration]") {
    ReportEndpoint endpoint;
    FakeMatch match({"alice", "bob"}, endpoint.port());
    const auto dir = match.dir.path();
    ChildProcess server({SDK_EXAMPLE_SERVER},
                        match.server_env(gamestore::sdk_test::pick_free_port()), dir / "server.out",
                        dir / "server.err");
    REQUIRE(endpoint.wait_for_status(protocol::ReportStatus::Started, 1, 15s));
    server.signal_group(SIGTERM);
    const auto status = server.wait(10s);
    REQUIRE(status);
    CHECK(status->exited);
    CHECK(status->code == 0);
}

TEST_CASE("The example server names the missing environment", "[sdk][example][integration]") {
    gamestore::sdk_test::TempDir dir;
    ChildProcess server({SDK_EXAMPLE_SERVER}, {{"ROOM_ID", "1"}}, dir.path() / "out",
                        dir.path() / "err");
    const auto status = server.wait(10s);
    REQUIRE(status);
    CHECK(status->code == 1);
    CHECK_THAT(server.stderr_text(),
               Catch::Contains(
                   "missing MATCH_ID, PORT, REPORT_PORT, REPORT_TOKEN (or REPORT_TOKEN_PATH)"));
}

TEST_CASE("docs/SDK.md shows the example server and client exactly as built", "[sdk][example]") {
    const char* source = std::getenv("GAMESTORE_SOURCE_DIR");
    REQUIRE(source);
    const std::filesystem::path root(source);
    const auto doc = gamestore::sdk_test::read_text(root / "docs/SDK.md");
    for (const auto* file : {"sdk/cpp/examples/minimal_server.cpp", "sdk/cpp/examples/minimal_client.cpp"}) {
        INFO(file);
        const auto code = gamestore::sdk_test::read_text(root / file);
        const auto body = code.substr(code.find("#include"));
        CHECK(doc.find("```cpp\n" + body + "```") != std::string::npos);
    }
}
