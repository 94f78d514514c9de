// The verdicts on control-plane conversations, on made-up records: no
// sockets, no processes, no clocks (times are constructed).
#include <catch2/catch.hpp>

#include <set>

#include "platform/packages/manifest.hpp"
#include "validator/check_book.hpp"
#include "validator/check_names.hpp"
#include "validator/report_checks.hpp"
#include "validator/static_checks.hpp"

namespace gamestore::validator {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using protocol::ReportStatus;

const Clock::time_point T0{};  // launch

Clock::time_point at(int ms) {
    return T0 + milliseconds(ms);
}

// A conversation expecting room 1, match "m-1", token "tok", port 4000,
// players alice and bob, heartbeats every second (limit 1.75 s), 3 cycles.
Conversation conversation() {
    Conversation c;
    c.expected.room_id = 1;
    c.expected.match_id = "m-1";
    c.expected.report_token = "tok";
    c.expected.port = 4000;
    c.expected.players = {"alice", "bob"};
    c.launched_at = T0;
    c.heartbeat_interval_sec = 1.0;
    c.heartbeat_slack = milliseconds(250);
    c.heartbeat_limit = milliseconds(1750);
    c.heartbeat_cycles = 3;
    c.no_end_reason = "stopped";
    c.connections.push_back(ConnectionRecord{1, T0, std::nullopt, 0, 0, "", false});
    return c;
}

ReportRecord report(int ms, ReportStatus status, std::string match_id = "m-1", std::string token = "tok") {
    ReportRecord record;
    record.kind = ReportRecord::Kind::Report;
    record.at = at(ms);
    record.connection = 1;
    protocol::Report r;
    r.room_id = 1;
    r.match_id = std::move(match_id);
    r.report_token = std::move(token);
    r.status = status;
    if (status == ReportStatus::Started) r.port = 4000;
    record.report = r;
    record.status_field = std::string(protocol::to_string(status));
    return record;
}

ReportRecord end_with(int ms, std::vector<std::pair<std::string, protocol::Outcome>> results) {
    auto record = report(ms, ReportStatus::End);
    record.report->results.emplace();
    for (auto& [player, outcome] : results) {
        protocol::PlayerResult result;
        result.player = player;
        result.outcome = outcome;
        record.report->results->push_back(result);
    }
    return record;
}

CheckResult verdict(const CheckBook& book, std::string_view name) {
    for (const auto& check : book.ordered("undecided")) {
        if (check.name == name) return check;
    }
    FAIL("no such check");
    return {};
}

}  // namespace

TEST_CASE("heartbeat cadence", "[validator][judges]") {
    auto c = conversation();
    c.reports.push_back(report(100, ReportStatus::Started));
    CheckBook book;

    SECTION("regular heartbeats pass") {
        for (int ms : {1100, 2100, 3100}) c.reports.push_back(report(ms, ReportStatus::Heartbeat));
        c.observation_end = at(3150);
        judge_heartbeat_cadence(c, book);
        CHECK(book.status(checks::kHeartbeatCadence) == CheckStatus::Pass);
    }
    SECTION("a gap over 1.5 x interval + slack warns, names the gap and advises an interval") {
        for (int ms : {1100, 3000, 4000}) c.reports.push_back(report(ms, ReportStatus::Heartbeat));
        c.observation_end = at(4100);
        judge_heartbeat_cadence(c, book);
        const auto v = verdict(book, checks::kHeartbeatCadence);
        CHECK(v.status == CheckStatus::Warn);
        CHECK_THAT(v.message, Catch::Contains("1.90 s"));
        CHECK_THAT(v.message, Catch::Contains("declare server.heartbeat_interval_sec: 2"));
    }
    SECTION("a gap over the platform's kill factor (5 x interval + slack) fails") {
        for (int ms : {1100, 6400})
            c.reports.push_back(report(ms, ReportStatus::Heartbeat));
        c.observation_end = at(6500);
        judge_heartbeat_cadence(c, book);
        const auto v = verdict(book, checks::kHeartbeatCadence);
        CHECK(v.status == CheckStatus::Fail);
        CHECK_THAT(v.message, Catch::Contains("5.30 s"));
        CHECK_THAT(v.message, Catch::Contains("TIMEOUT"));
    }
    SECTION("a gap exactly at the limit passes") {
        for (int ms : {1850, 3600, 5350}) c.reports.push_back(report(ms, ReportStatus::Heartbeat));
        c.observation_end = at(5350);
        judge_heartbeat_cadence(c, book);
        CHECK(book.status(checks::kHeartbeatCadence) == CheckStatus::Pass);
    }
    SECTION("silence after a heartbeat warns until the kill factor, then fails") {
        c.reports.push_back(report(1100, ReportStatus::Heartbeat));
        c.observation_end = at(2900);
        judge_heartbeat_cadence(c, book);
        CHECK(book.status(checks::kHeartbeatCadence) == CheckStatus::Warn);
        CheckBook later;
        c.observation_end = at(6400);
        judge_heartbeat_cadence(c, later);
        CHECK(later.status(checks::kHeartbeatCadence) == CheckStatus::Fail);
    }
    SECTION("no heartbeat while no player was connected warns only") {
        c.observation_end = at(3200);
        judge_heartbeat_cadence(c, book);
        const auto v = verdict(book, checks::kHeartbeatCadence);
        CHECK(v.status == CheckStatus::Warn);
        CHECK_THAT(v.message, Catch::Contains("with no client of the package launched"));
    }
    SECTION("heartbeats that start once the clients are in pass") {
        c.clients_launched_at = at(6000);
        for (int ms : {6500, 7500, 8500})
            c.reports.push_back(report(ms, ReportStatus::Heartbeat));
        c.observation_end = at(9000);
        judge_heartbeat_cadence(c, book);
        CHECK(book.status(checks::kHeartbeatCadence) == CheckStatus::Pass);
    }
    SECTION("with clients, no heartbeat for 5 x interval after they were launched fails") {
        c.clients_launched_at = at(3000);
        c.observation_end = at(8400);
        judge_heartbeat_cadence(c, book);
        CHECK(book.status(checks::kHeartbeatCadence) == CheckStatus::Fail);
    }
    SECTION("a server that exits early fails with its exit") {
        c.observation_end = at(600);
        c.server_exit = "exited with code 1";
        judge_heartbeat_cadence(c, book);
        const auto v = verdict(book, checks::kHeartbeatCadence);
        CHECK(v.status == CheckStatus::Fail);
        CHECK_THAT(v.message, Catch::Contains("exited with code 1"));
    }
    SECTION("a match that ends before K heartbeats is fine") {
        c.reports.push_back(report(1100, ReportStatus::Heartbeat));
        c.reports.push_back(end_with(1500, {{"alice", protocol::Outcome::Win}, {"bob", protocol::Outcome::Lose}}));
        c.observation_end = at(1500);
        judge_heartbeat_cadence(c, book);
        CHECK(book.status(checks::kHeartbeatCadence) == CheckStatus::Pass);
    }
    SECTION("no STARTED: skipped") {
        c.reports.clear();
        judge_heartbeat_cadence(c, book);
        CHECK(verdict(book, checks::kHeartbeatCadence).message == "skipped: the server never sent STARTED");
    }
}

TEST_CASE("the wait for END and heartbeat_cadence measure the same silence",
          "[validator][judges]") {
    // STARTED at 100 ms (see conversation()); the kill limit is 5 x 1 s + 250 ms.
    const auto started = at(100);
    CHECK(heartbeat_silence_from(started, std::nullopt, {}) == started);
    CHECK(heartbeat_silence_from(started, at(3000), {}) == at(3000));
    CHECK(heartbeat_silence_from(started, at(3000), {at(1000), at(2000)}) == at(2000));
    CHECK(heartbeat_silence_from(started, at(3000), {at(3500)}) == at(3500));
    // A game that heartbeats only once its players are in (every 10 s, first
    // one 10 s after they join): the clients launched 3 s after STARTED. The
    // wait gives up 5.25 s after the silence began; at that moment, and not
    // before, the check fails.
    for (const int clients_ms : {100, 3000, 9000}) {
        INFO("clients launched at " << clients_ms << " ms");
        const auto from = heartbeat_silence_from(started, at(clients_ms), {});
        const auto gives_up = from + milliseconds(5250);
        auto c = conversation();
        c.reports.push_back(report(100, ReportStatus::Started));
        c.clients_launched_at = at(clients_ms);
        CheckBook before;
        c.observation_end = gives_up;
        judge_heartbeat_cadence(c, before);
        CHECK(before.status(checks::kHeartbeatCadence) != CheckStatus::Fail);
        CheckBook after;
        c.observation_end = gives_up + milliseconds(1);
        judge_heartbeat_cadence(c, after);
        CHECK(after.status(checks::kHeartbeatCadence) == CheckStatus::Fail);
    }
}

TEST_CASE("STARTED fields, port echo and report authentication", "[validator][judges]") {
    auto c = conversation();
    CheckBook book;
    SECTION("a correct STARTED passes") {
        c.reports.push_back(report(10, ReportStatus::Started));
        judge_started_fields(c, book);
        judge_reports_authenticated(c, book);
        CHECK(book.status(checks::kStartedFields) == CheckStatus::Pass);
        CHECK(book.status(checks::kStartedPortEcho) == CheckStatus::Pass);
        CHECK(book.status(checks::kReportsAuthenticated) == CheckStatus::Pass);
    }
    SECTION("a stale match_id fails both and names the value") {
        c.reports.push_back(report(10, ReportStatus::Started, "m-0"));
        c.reports.push_back(report(20, ReportStatus::Heartbeat, "m-0"));
        judge_started_fields(c, book);
        judge_reports_authenticated(c, book);
        CHECK(book.status(checks::kStartedFields) == CheckStatus::Fail);
        const auto v = verdict(book, checks::kReportsAuthenticated);
        CHECK(v.status == CheckStatus::Fail);
        CHECK_THAT(v.message, Catch::StartsWith("STARTED, HEARTBEAT carried match_id 'm-0'"));
    }
    SECTION("a wrong token is shown redacted only") {
        c.reports.push_back(report(10, ReportStatus::Started, "m-1", "0123456789abcdef0123"));
        judge_reports_authenticated(c, book);
        const auto v = verdict(book, checks::kReportsAuthenticated);
        CHECK(v.status == CheckStatus::Fail);
        CHECK_THAT(v.message, Catch::Contains("012345…"));
        CHECK_THAT(v.message, !Catch::Contains("0123456789abcdef0123"));
    }
    SECTION("another protocol_version and tolerated fields warn, as the platform accepts them") {
        auto started = report(10, ReportStatus::Started);
        started.report->protocol_version = 2;
        started.report->tolerated.push_back(
            "timestamp is string, not a number of seconds; it was ignored");
        c.reports.push_back(started);
        judge_started_fields(c, book);
        const auto v = verdict(book, checks::kStartedFields);
        CHECK(v.status == CheckStatus::Warn);
        CHECK_THAT(v.message, Catch::Contains("protocol_version 2"));
        CHECK(v.details.size() == 2);
    }
    SECTION("a wrong port fails the echo only") {
        auto started = report(10, ReportStatus::Started);
        started.report->port = 4001;
        c.reports.push_back(started);
        judge_started_fields(c, book);
        CHECK(book.status(checks::kStartedFields) == CheckStatus::Pass);
        CHECK(book.status(checks::kStartedPortEcho) == CheckStatus::Fail);
    }
}

TEST_CASE("control-plane hygiene", "[validator][judges]") {
    auto c = conversation();
    c.reports.push_back(report(10, ReportStatus::Started));
    CheckBook book;
    SECTION("a quiet, clean conversation passes") {
        for (int ms : {1000, 2000}) c.reports.push_back(report(ms, ReportStatus::Heartbeat));
        judge_control_plane_hygiene(c, book);
        CHECK(book.status(checks::kControlPlaneHygiene) == CheckStatus::Pass);
    }
    SECTION("a burst within the platform's budget passes, a sustained flood fails") {
        for (int i = 0; i < 50; ++i) c.reports.push_back(report(100 + i, ReportStatus::Heartbeat));
        judge_control_plane_hygiene(c, book);
        CHECK(book.status(checks::kControlPlaneHygiene) == CheckStatus::Pass);
        for (int i = 0; i < 40; ++i) c.reports.push_back(report(200 + i * 10, ReportStatus::Heartbeat));
        judge_control_plane_hygiene(c, book);
        const auto v = verdict(book, checks::kControlPlaneHygiene);
        CHECK(v.status == CheckStatus::Fail);
        CHECK_THAT(v.message, Catch::StartsWith("flood"));
    }
    SECTION("a report without its newline on a connection left open fails") {
        c.connections[0].unterminated_bytes = 42;
        c.connections[0].unterminated_excerpt = R"({"status":"END")";
        judge_control_plane_hygiene(c, book);
        const auto v = verdict(book, checks::kControlPlaneHygiene);
        CHECK(v.status == CheckStatus::Fail);
        CHECK_THAT(v.message, Catch::Contains("42 bytes that never got a newline"));
    }
    SECTION(
        "a one-shot report without its newline, then a clean close, warns (the platform accepts "
        "it)") {
        c.connections[0].unterminated_bytes = 42;
        c.connections[0].unterminated_accepted = true;
        c.connections[0].unterminated_excerpt = R"({"status":"END"})";
        judge_control_plane_hygiene(c, book);
        const auto v = verdict(book, checks::kControlPlaneHygiene);
        CHECK(v.status == CheckStatus::Warn);
        CHECK_THAT(v.message, Catch::Contains("without a final newline"));
    }
    SECTION("a HEARTBEAT timestamp the platform ignores warns") {
        auto beat = report(1000, ReportStatus::Heartbeat);
        beat.report->tolerated.push_back("ts is string, not a number of seconds; it was ignored");
        c.reports.push_back(beat);
        c.reports.push_back(beat);
        judge_control_plane_hygiene(c, book);
        const auto v = verdict(book, checks::kControlPlaneHygiene);
        CHECK(v.status == CheckStatus::Warn);
        CHECK(v.details.size() == 1);
    }
    SECTION("malformed and oversized lines fail") {
        ReportRecord bad;
        bad.kind = ReportRecord::Kind::Malformed;
        bad.at = at(50);
        bad.error = "Report is not valid JSON";
        bad.excerpt = "{oops";
        c.reports.push_back(bad);
        ReportRecord big;
        big.kind = ReportRecord::Kind::TooLarge;
        big.at = at(60);
        c.reports.push_back(big);
        judge_control_plane_hygiene(c, book);
        const auto v = verdict(book, checks::kControlPlaneHygiene);
        CHECK(v.status == CheckStatus::Fail);
        CHECK(v.details.size() == 2);
    }
    SECTION("a duplicate STARTED is a warning") {
        c.reports.push_back(report(20, ReportStatus::Started));
        judge_control_plane_hygiene(c, book);
        CHECK(book.status(checks::kControlPlaneHygiene) == CheckStatus::Warn);
    }
    SECTION("a broken END result is judged as END results, not as noise") {
        ReportRecord bad;
        bad.kind = ReportRecord::Kind::Malformed;
        bad.at = at(50);
        bad.status_field = "END";
        bad.error_field = "results[0].outcome";
        bad.error = "END report field 'results[0].outcome' must be one of WIN, LOSE, DRAW, QUIT or ERROR";
        c.reports.push_back(bad);
        judge_control_plane_hygiene(c, book);
        judge_end_results(c, book);
        CHECK(book.status(checks::kControlPlaneHygiene) == CheckStatus::Pass);
        CHECK(book.status(checks::kEndResultsSchema) == CheckStatus::Fail);
    }
}

TEST_CASE("END results and the single terminal report", "[validator][judges]") {
    auto c = conversation();
    c.reports.push_back(report(10, ReportStatus::Started));
    CheckBook book;
    using protocol::Outcome;
    SECTION("every player once passes") {
        c.reports.push_back(end_with(500, {{"alice", Outcome::Win}, {"bob", Outcome::Lose}}));
        judge_end_results(c, book);
        judge_single_terminal(c, book);
        CHECK(book.status(checks::kEndResultsSchema) == CheckStatus::Pass);
        CHECK(book.status(checks::kSingleTerminalReport) == CheckStatus::Pass);
    }
    SECTION("a stranger or a duplicate fails with the platform's refusal") {
        c.reports.push_back(end_with(500, {{"alice", Outcome::Win}, {"alice", Outcome::Lose}, {"mallory", Outcome::Lose}}));
        judge_end_results(c, book);
        const auto v = verdict(book, checks::kEndResultsSchema);
        CHECK(v.status == CheckStatus::Fail);
        CHECK_THAT(v.message,
                   Catch::StartsWith(
                       "the platform refuses END: results[1].player 'alice' is named twice"));
    }
    SECTION("a refused END followed by a corrected one warns") {
        c.reports.push_back(end_with(500, {{"mallory", Outcome::Win}}));
        c.reports.push_back(end_with(600, {{"alice", Outcome::Win}, {"bob", Outcome::Lose}}));
        judge_end_results(c, book);
        const auto v = verdict(book, checks::kEndResultsSchema);
        CHECK(v.status == CheckStatus::Warn);
        CHECK_THAT(v.message, Catch::Contains("'mallory' is not a player"));
    }
    SECTION("a missing player warns: the platform records the others") {
        c.reports.push_back(end_with(500, {{"alice", Outcome::Win}}));
        judge_end_results(c, book);
        const auto v = verdict(book, checks::kEndResultsSchema);
        CHECK(v.status == CheckStatus::Warn);
        CHECK_THAT(v.message, Catch::StartsWith("END results have no entry for bob"));
    }
    SECTION("a winner who is not a player fails") {
        auto end = end_with(500, {{"alice", Outcome::Win}, {"bob", Outcome::Lose}});
        end.report->winner = "mallory";
        c.reports.push_back(end);
        judge_end_results(c, book);
        CHECK(book.status(checks::kEndResultsSchema) == CheckStatus::Fail);
    }
    SECTION(
        "END without results fails when it names nobody, warns when winner/loser name players") {
        c.reports.push_back(report(500, ReportStatus::End));
        judge_end_results(c, book);
        CHECK(book.status(checks::kEndResultsSchema) == CheckStatus::Fail);
        CheckBook named;
        c.reports.back().report->winner = "alice";
        judge_end_results(c, named);
        CHECK(named.status(checks::kEndResultsSchema) == CheckStatus::Warn);
    }
    SECTION("END then ERROR fails") {
        c.reports.push_back(end_with(500, {{"alice", Outcome::Win}, {"bob", Outcome::Lose}}));
        c.reports.push_back(report(600, ReportStatus::Error));
        judge_single_terminal(c, book);
        const auto v = verdict(book, checks::kSingleTerminalReport);
        CHECK(v.status == CheckStatus::Fail);
        CHECK_THAT(v.message, Catch::StartsWith("the server sent END then ERROR"));
    }
    SECTION("no END: skipped with the reason") {
        judge_end_results(c, book);
        judge_single_terminal(c, book);
        CHECK(verdict(book, checks::kEndResultsSchema).message == "skipped: no END arrived (stopped)");
        CHECK(book.status(checks::kSingleTerminalReport) == CheckStatus::Skipped);
    }
}

TEST_CASE("manifest issues are sorted into their checks", "[validator][judges]") {
    auto checks_of = [](const std::string& json) {
        std::set<std::string> names;
        for (const auto& issue : packages::parse_manifest(json).issues) {
            names.insert(std::string(classify_manifest_issue(issue)));
        }
        return names;
    };
    const std::string tail = R"(, "type": "CLI", "max_players": 2, "client": {"command": "./c"}})";
    CHECK(checks_of(R"({"game_name": "g", "version": "v1", "server": {"command": "./s"})" + tail) ==
          std::set<std::string>{"manifest_semver"});
    CHECK(checks_of(R"({"game_name": "g", "version": "1.0.0", "server": {"command": "./s {nope}"})" + tail) ==
          std::set<std::string>{"manifest_placeholders"});
    CHECK(checks_of(R"({"game_name": "g", "version": "1.0.0", "server": {"command": "./s {p3}"})" + tail) ==
          std::set<std::string>{"manifest_placeholders"});
    CHECK(checks_of(R"({"game_name": "g", "version": "1.0.0", "server": {"command": "./s {report_token}"})" + tail) ==
          std::set<std::string>{"no_tokens_in_commands"});
    CHECK(checks_of(R"({"game_name": "g", "version": "1.0.0", "min_players": 3, "server": {"command": "./s"})" +
                    tail) == std::set<std::string>{"manifest_players"});
    CHECK(checks_of(R"({"game_name": "", "version": "1.0.0", "server": {"command": "./s 'x"})" + tail) ==
          std::set<std::string>{"manifest_schema"});
}

}  // namespace gamestore::validator
