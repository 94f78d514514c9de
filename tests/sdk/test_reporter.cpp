// Reporter against a control-plane endpoint built in the test: what arrives
// on the wire, heartbeat cadence, END schema, reconnects and resends.
#include <catch2/catch.hpp>

#include <algorithm>
#include <mutex>

#include "gamestore/sdk/reporter.hpp"
#include "tests/sdk/support/child_process.hpp"
#include "tests/sdk/support/report_endpoint.hpp"

namespace sdk = gamestore::sdk;
namespace protocol = gamestore::protocol;
using gamestore::sdk_test::EndpointOptions;
using gamestore::sdk_test::ReportEndpoint;
using namespace std::chrono_literals;

namespace {

sdk::ReportTarget target_for(int port, std::chrono::milliseconds heartbeat = 5s) {
    sdk::ReportTarget t;
    t.host = "127.0.0.1";
    t.port = port;
    t.room_id = 12;
    t.match_id = "m-12";
    t.report_token = "report-secret-12";
    t.heartbeat_interval = heartbeat;
    t.game = "reporter-test";
    return t;
}

sdk::ReporterOptions quiet_options() {
    sdk::ReporterOptions o;
    o.log = [](std::string_view) {};
    return o;
}

std::vector<sdk::PlayerResult> two_results() {
    sdk::PlayerResult alice;
    alice.player = "alice";
    alice.outcome = sdk::Outcome::Win;
    alice.rank = 1;
    alice.score = 10;
    alice.extra = {{"moves", 3}};
    sdk::PlayerResult bob;
    bob.player = "bob";
    bob.outcome = sdk::Outcome::Quit;
    bob.player_id = 77;
    return {alice, bob};
}

}  // namespace

TEST_CASE("STARTED carries the common fields, the port and the protocol version",
          "[sdk][reporter][integration]") {
    ReportEndpoint endpoint;
    const double before = sdk::unix_time_now();
    sdk::Reporter reporter(target_for(endpoint.port()), quiet_options());
    reporter.started(7123);
    REQUIRE(reporter.flush(10s));
    const auto started = endpoint.reports_with(protocol::ReportStatus::Started);
    REQUIRE(started.size() == 1);
    const auto& r = *started[0].report;
    CHECK(r.room_id == 12);
    CHECK(r.match_id == "m-12");
    CHECK(r.report_token == "report-secret-12");
    CHECK(r.port == 7123);
    CHECK(r.protocol_version == 1);
    REQUIRE(r.timestamp);
    CHECK(*r.timestamp >= before - 1);
    CHECK(*r.timestamp <= sdk::unix_time_now() + 1);
    const auto raw = nlohmann::json::parse(started[0].line);
    CHECK(raw["type"] == "GAME.REPORT");
    CHECK(raw["status"] == "STARTED");
    CHECK(raw["game"] == "reporter-test");
    const auto stats = reporter.stats();
    CHECK(stats.acknowledged == 1);
    CHECK(stats.rejected == 0);
}

TEST_CASE("Heartbeats follow STARTED at the configured interval", "[sdk][reporter][integration]") {
    ReportEndpoint endpoint;
    sdk::Reporter reporter(target_for(endpoint.port(), 200ms), quiet_options());
    reporter.started(7123);
    REQUIRE(endpoint.wait_for_status(protocol::ReportStatus::Heartbeat, 5, 10s));
    reporter.stop_heartbeats();
    const auto beats = endpoint.reports_with(protocol::ReportStatus::Heartbeat);
    // A loose band: this checks the cadence is the configured one (not 5 s,
    // not a burst), not the scheduler's precision.
    for (std::size_t i = 1; i < 5; ++i) {
        const auto gap =
            std::chrono::duration_cast<std::chrono::milliseconds>(beats[i].at - beats[i - 1].at);
        INFO("gap " << i << ": " << gap.count() << " ms");
        CHECK(gap >= 100ms);
        CHECK(gap <= 600ms);
        REQUIRE(beats[i].report->timestamp);
    }
    // A heartbeat carries ts (the codec reads it as the timestamp).
    CHECK(nlohmann::json::parse(beats[0].line).contains("ts"));
    const auto started = endpoint.reports_with(protocol::ReportStatus::Started);
    REQUIRE(started.size() == 1);
    CHECK(started[0].at <= beats[0].at);
}

TEST_CASE("END carries a well-formed result per player and no heartbeat follows it",
          "[sdk][reporter][integration]") {
    ReportEndpoint endpoint;
    {
        sdk::Reporter reporter(target_for(endpoint.port(), 50ms), quiet_options());
        reporter.started(7123);
        REQUIRE(endpoint.wait_for_status(protocol::ReportStatus::Heartbeat, 1, 10s));
        reporter.end(two_results(), {{"winner", "alice"}, {"reason", "alice reached 10"}});
        REQUIRE(reporter.flush(10s));
        CHECK_THROWS_AS(reporter.end({}, {{"match_id", "forged"}}), std::invalid_argument);
    }
    const auto lines = endpoint.lines();
    REQUIRE_FALSE(lines.empty());
    REQUIRE(lines.back().report);
    const auto& end = *lines.back().report;
    CHECK(end.status == protocol::ReportStatus::End);
    CHECK(end.winner == "alice");
    CHECK(end.reason == "alice reached 10");
    REQUIRE(end.results);
    REQUIRE(end.results->size() == 2);
    const auto& alice = (*end.results)[0];
    CHECK(alice.player == "alice");
    CHECK(alice.outcome == protocol::Outcome::Win);
    CHECK(alice.rank == 1);
    CHECK(alice.score == 10.0);
    CHECK(alice.extra == nlohmann::json{{"moves", 3}});
    const auto& bob = (*end.results)[1];
    CHECK(bob.player == "bob");
    CHECK(bob.outcome == protocol::Outcome::Quit);
    CHECK_FALSE(bob.rank);
    CHECK_FALSE(bob.score);
    CHECK(bob.player_id == 77);
    // rank and score are explicit nulls on the wire, as the schema shows them.
    const auto raw = nlohmann::json::parse(lines.back().line);
    CHECK(raw["results"][1]["rank"].is_null());
    CHECK(raw["results"][1]["score"].is_null());
    CHECK(std::count_if(lines.begin(), lines.end(), [](const auto& l) {
              return l.report && l.report->status == protocol::ReportStatus::End;
          }) == 1);
}

TEST_CASE("ERROR carries err_msg", "[sdk][reporter][integration]") {
    ReportEndpoint endpoint;
    sdk::Reporter reporter(target_for(endpoint.port()), quiet_options());
    reporter.error("the dealer crashed");
    REQUIRE(reporter.flush(10s));
    const auto errors = endpoint.reports_with(protocol::ReportStatus::Error);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].report->err_msg == "the dealer crashed");
}

TEST_CASE("After the platform drops the connection, reports continue on a new one",
          "[sdk][reporter][integration]") {
    EndpointOptions options;
    options.close_first_connection_after_first_line = true;
    SECTION("the first message was answered before the drop") {
        options.reply_before_close = true;
    }
    SECTION("the first message was never answered: it is sent again") {
        options.reply_before_close = false;
    }
    ReportEndpoint endpoint(options);
    sdk::Reporter reporter(target_for(endpoint.port()), quiet_options());
    reporter.started(7000);
    REQUIRE(reporter.flush(10s));
    reporter.heartbeat();
    reporter.error("after the reconnect");
    REQUIRE(reporter.flush(10s));

    const auto lines = endpoint.lines();
    std::vector<std::pair<int, protocol::ReportStatus>> seen;
    for (const auto& l : lines) {
        REQUIRE(l.report);
        seen.emplace_back(l.connection, l.report->status);
    }
    using S = protocol::ReportStatus;
    if (options.reply_before_close) {
        CHECK(seen ==
              std::vector<std::pair<int, S>>{{1, S::Started}, {2, S::Heartbeat}, {2, S::Error}});
    } else {
        CHECK(seen == std::vector<std::pair<int, S>>{
                          {1, S::Started}, {2, S::Started}, {2, S::Heartbeat}, {2, S::Error}});
    }
    CHECK(endpoint.connections_accepted() == 2);
    const auto stats = reporter.stats();
    CHECK(stats.reconnects == 1);
    CHECK(stats.acknowledged == 3);
    CHECK(stats.dropped == 0);
}

TEST_CASE("A report the platform does not answer in time is sent again on a new connection",
          "[sdk][reporter][integration]") {
    EndpointOptions endpoint_options;
    endpoint_options.ignore_first_line = true;
    ReportEndpoint endpoint(endpoint_options);
    std::vector<std::string> logged;
    std::mutex logged_mutex;
    auto options = quiet_options();
    options.reply_timeout = 200ms;
    options.log = [&](std::string_view line) {
        std::lock_guard lock(logged_mutex);
        logged.emplace_back(line);
    };
    sdk::Reporter reporter(target_for(endpoint.port()), options);
    reporter.started(7000);
    REQUIRE(reporter.flush(10s));

    // Same bytes twice: the unanswered STARTED on the stuck connection, then
    // the resend on a fresh one, which the platform answers.
    const auto lines = endpoint.lines();
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].connection == 1);
    CHECK(lines[1].connection == 2);
    CHECK(lines[1].line == lines[0].line);
    REQUIRE(lines[1].report);
    CHECK(lines[1].report->status == protocol::ReportStatus::Started);
    const auto stats = reporter.stats();
    CHECK(stats.unanswered == 1);
    CHECK(stats.acknowledged == 1);
    CHECK(stats.reconnects == 1);
    CHECK(stats.dropped == 0);
    CHECK_THAT(stats.last_error, Catch::Contains("STARTED report got no reply within 200 ms"));
    std::lock_guard lock(logged_mutex);
    REQUIRE_FALSE(logged.empty());
    CHECK_THAT(logged.front(), Catch::Contains("no reply within 200 ms; resending"));
}

TEST_CASE("started() after end() or error() is refused and brings no heartbeat back",
          "[sdk][reporter][integration]") {
    ReportEndpoint endpoint;
    sdk::Reporter reporter(target_for(endpoint.port(), 50ms), quiet_options());
    reporter.started(7000);
    REQUIRE(endpoint.wait_for_status(protocol::ReportStatus::Heartbeat, 1, 10s));
    SECTION("after end()") {
        reporter.end({});
    }
    SECTION("after error()") {
        reporter.error("the table collapsed");
    }
    CHECK_THROWS_AS(reporter.started(7000), std::logic_error);
    REQUIRE(reporter.flush(10s));
    const auto before = endpoint.lines().size();
    // Twenty heartbeat intervals of silence: a revived heartbeat timer would
    // have sent one by then.
    CHECK_FALSE(endpoint.wait_until([&](const auto& lines) { return lines.size() > before; },
                                    1000ms));
    const auto lines = endpoint.lines();
    REQUIRE(lines.back().report);
    CHECK(lines.back().report->status != protocol::ReportStatus::Heartbeat);
    CHECK(endpoint.reports_with(protocol::ReportStatus::Started).size() == 1);
}

TEST_CASE("Reports queued while the platform is down are delivered once it is up",
          "[sdk][reporter][integration]") {
    const int port = gamestore::sdk_test::pick_free_port();
    auto options = quiet_options();
    options.backoff_initial = 20ms;
    options.backoff_max = 200ms;
    sdk::Reporter reporter(target_for(port), options);
    reporter.started(7000);
    // Nobody listens: flush cannot succeed, and says so within its bound.
    CHECK_FALSE(reporter.flush(150ms));
    CHECK_THAT(reporter.stats().last_error, Catch::Contains("refused"));

    EndpointOptions endpoint_options;
    endpoint_options.port = port;
    ReportEndpoint endpoint(endpoint_options);
    REQUIRE(reporter.flush(10s));
    REQUIRE(endpoint.reports_with(protocol::ReportStatus::Started).size() == 1);
}

TEST_CASE("A rejection from the platform is counted and kept as last_error",
          "[sdk][reporter][integration]") {
    EndpointOptions options;
    options.reject_reason = "unknown match_id";
    ReportEndpoint endpoint(options);
    std::vector<std::string> logged;
    auto reporter_options = quiet_options();
    reporter_options.log = [&](std::string_view line) { logged.emplace_back(line); };
    sdk::Reporter reporter(target_for(endpoint.port()), reporter_options);
    reporter.started(7000);
    REQUIRE(reporter.flush(10s));
    const auto stats = reporter.stats();
    CHECK(stats.rejected == 1);
    CHECK(stats.acknowledged == 0);
    CHECK(stats.last_error == "STARTED rejected: unknown match_id");
    REQUIRE(logged.size() == 1);
    CHECK(logged[0] == "platform rejected the STARTED report: unknown match_id");
    // The token never appears in what the SDK logs.
    CHECK(logged[0].find("report-secret-12") == std::string::npos);
}

TEST_CASE("The destructor gives up on undeliverable reports within its bound",
          "[sdk][reporter][integration]") {
    const int port = gamestore::sdk_test::pick_free_port();
    auto options = quiet_options();
    options.shutdown_flush_timeout = 100ms;
    const auto start = std::chrono::steady_clock::now();
    {
        sdk::Reporter reporter(target_for(port), options);
        reporter.started(7000);
        reporter.end({});
    }
    // Bounded by shutdown_flush_timeout plus one connect attempt, not forever.
    CHECK(std::chrono::steady_clock::now() - start < 10s);
}

TEST_CASE("PlayerResult serialises outcome names and refuses a non-object extra",
          "[sdk][reporter]") {
    sdk::PlayerResult r;
    r.player = "carol";
    r.outcome = sdk::Outcome::Draw;
    r.rank = 2;
    CHECK(
        r.to_json() ==
        nlohmann::json{{"player", "carol"}, {"outcome", "DRAW"}, {"rank", 2}, {"score", nullptr}});
    r.extra = 5;
    CHECK_THROWS_AS(r.to_json(), std::invalid_argument);
    CHECK(std::string(sdk::to_string(sdk::Outcome::Win)) == "WIN");
    CHECK(std::string(sdk::to_string(sdk::Outcome::Lose)) == "LOSE");
    CHECK(std::string(sdk::to_string(sdk::Outcome::Quit)) == "QUIT");
    CHECK(std::string(sdk::to_string(sdk::Outcome::Error)) == "ERROR");
}
