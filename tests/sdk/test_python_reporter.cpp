// The Python SDK's reporter against the platform's own parser (the endpoint
// frames with LineFramer and parses with protocol::parse_report), the same
// checks the C++ SDK gets in test_reporter.cpp: STARTED fields, heartbeat
// cadence, END results schema, and a resend after the platform dropped the
// connection without answering.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "platform/packages/command_template.hpp"
#include "tests/sdk/support/child_process.hpp"
#include "tests/sdk/support/report_endpoint.hpp"

namespace protocol = gamestore::protocol;
using gamestore::sdk_test::ChildProcess;
using gamestore::sdk_test::EndpointOptions;
using gamestore::sdk_test::FakeMatch;
using gamestore::sdk_test::ReportEndpoint;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The first python3 in PATH, found the way the platform's launcher finds a
// manifest's program.
fs::path python3() {
    const char* path = std::getenv("PATH");
    const auto found = gamestore::packages::resolve_program(gamestore::packages::LaunchSpec{{"python3"}, {}, {}},
                                                            path ? path : "/usr/bin:/bin");
    return found ? *found : fs::path("/usr/bin/python3");
}

fs::path source_dir() {
    const char* dir = std::getenv("GAMESTORE_SOURCE_DIR");
    REQUIRE(dir != nullptr);
    return dir;
}

// A game server's reporting, nothing else: STARTED, heartbeats until a few
// were delivered (bounded), END with both players' results.
constexpr const char* kScript = R"PY(
import time
import gamestore_sdk as sdk

ctx = sdk.ServerContext.from_env()
with sdk.Reporter(ctx, reply_timeout=2.0, initial_backoff=0.05) as reporter:
    reporter.started(4242)
    deadline = time.monotonic() + 20
    while reporter.delivered < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    reporter.end([
        {"player": "ann", "outcome": "WIN", "rank": 1, "score": 3, "extra": {"moves": 7}},
        {"player": "bob", "outcome": "LOSE", "rank": 2, "score": None},
    ], reason="four in a row")
    if not reporter.flush(10):
        raise SystemExit(3)
)PY";

}  // namespace

TEST_CASE("The Python SDK's reports parse with the platform's parser and survive a dropped connection",
          "[sdk][python][integration]") {
    EndpointOptions options;
    options.close_first_connection_after_first_line = true;
    options.reply_before_close = false;  // STARTED is lost in flight and must be sent again
    ReportEndpoint endpoint(options);
    FakeMatch match({"ann", "bob"}, endpoint.port(), "0.2");
    const auto script = match.dir.path() / "reporter.py";
    std::ofstream(script) << kScript;

    auto env = match.server_env(4242);
    env["PYTHONPATH"] = (source_dir() / "sdk" / "python").string();
    env["PATH"] = "/usr/bin:/bin";
    ChildProcess game({python3().string(), script.string()}, env, match.dir.path() / "out.txt",
                      match.dir.path() / "err.txt");
    const auto status = game.wait(60s);
    REQUIRE(status);
    INFO(game.stderr_text());
    CHECK(status->exited);
    CHECK(status->code == 0);

    CHECK(endpoint.connections_accepted() >= 2);
    for (const auto& line : endpoint.lines()) {
        INFO(line.line);
        CHECK(line.report.has_value());  // every line the SDK sent is a valid report
    }

    const auto started = endpoint.reports_with(protocol::ReportStatus::Started);
    REQUIRE(started.size() >= 2);  // the dropped one, then the resend
    CHECK(started.front().connection == 1);
    CHECK(started.back().connection >= 2);
    const auto& first = *started.back().report;
    CHECK(first.room_id == match.room_id);
    CHECK(first.match_id == match.match_id);
    CHECK(first.report_token == match.report_token);
    CHECK(first.port == 4242);
    CHECK(first.protocol_version == 1);

    const auto beats = endpoint.reports_with(protocol::ReportStatus::Heartbeat);
    REQUIRE(beats.size() >= 3);
    const double span_ms =
        std::chrono::duration<double, std::milli>(beats.back().at - beats.front().at).count();
    const double mean_gap_ms = span_ms / static_cast<double>(beats.size() - 1);
    INFO("mean heartbeat gap " << mean_gap_ms << " ms for a 200 ms interval");
    CHECK(mean_gap_ms > 100);
    CHECK(mean_gap_ms < 1000);

    const auto ends = endpoint.reports_with(protocol::ReportStatus::End);
    REQUIRE(ends.size() == 1);
    const auto& end = *ends.front().report;
    REQUIRE(end.results);
    const auto& results = *end.results;
    REQUIRE(results.size() == 2);
    CHECK(results[0].player == "ann");
    CHECK(results[0].outcome == protocol::Outcome::Win);
    CHECK(results[0].rank == 1);
    CHECK(results[0].extra.at("moves") == 7);
    CHECK(results[1].player == "bob");
    CHECK(results[1].outcome == protocol::Outcome::Lose);
    CHECK_FALSE(results[1].score.has_value());
    // Nothing after END.
    CHECK(endpoint.lines().back().line == ends.front().line);
}
