#include "sim/results.hpp"
#include "sim/scenario.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

using namespace gamestore::sim;
namespace fs = std::filesystem;

namespace {

// Lines of the ScenarioError thrown for `text` (fails the test if it parses).
std::vector<std::string> errors_of(const std::string& text, const std::string& file = "quick.toml") {
    try {
        parse_scenario(text, file);
    } catch (const ScenarioError& e) {
        std::vector<std::string> lines;
        std::istringstream in(e.what());
        for (std::string line; std::getline(in, line);) {
            lines.push_back(line);
        }
        return lines;
    }
    FAIL("parsed without error:\n" << text);
    return {};
}

bool has_line(const std::vector<std::string>& lines, const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

bool any_starts_with(const std::vector<std::string>& lines, const std::string& prefix) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
}

const std::string kMinimal = R"(
name = "minimal"
[[games]]
profile = "ok"
expect = ["END"]
)";

InvariantResult invariant(const std::string& name, std::uint64_t violations, bool expected_broken = false) {
    InvariantResult inv;
    inv.name = name;
    inv.checks = 10;
    inv.violation_count = violations;
    for (std::uint64_t i = 0; i < std::min<std::uint64_t>(violations, 7); ++i) {
        inv.violations.push_back({100.0 + static_cast<double>(i), "room r" + std::to_string(i) + ": ready kept"});
    }
    inv.expected_broken = expected_broken;
    return inv;
}

ScenarioResult sample_result() {
    ScenarioResult r;
    r.scenario = "quick";
    r.file = "sim/scenarios/quick.toml";
    r.seed = 42;
    r.duration_sec = 12.5;
    r.matches_started = 8;
    r.matches_ended = 7;
    r.match_status = {{"END", 6}, {"ERROR", 1}};
    r.faults = {{"forged_report", 3}, {"kill9", 1}};
    r.ops_ok = 100;
    r.ops_fail = 2;
    r.ops_unknown = 1;
    r.launch_latency_ms = percentiles({10, 20, 30});
    r.invariants = {invariant("I1", 0), invariant("I3", 0)};
    r.ops.push_back({1.5, 2.5, "alice", "room.create", OpOutcome::Ok, "r1"});
    r.ops.push_back({3, 4, "bob", "room.join", OpOutcome::Unknown, "connection lost"});
    r.schedule = {{"rooms", 2}};
    return r;
}

}  // namespace

TEST_CASE("a full scenario parses with every field") {
    const Scenario s = parse_scenario(R"(
name = "full"
description = "everything set"
time_limit_sec = 120

[server]
startup_timeout_sec = 4
stop_grace_sec = 0.5
end_grace_sec = 1.5
heartbeat_warn_factor = 2
heartbeat_kill_factor = 4
report_rate = 30
auth_deadline_sec = 5
match_log_cap = 4096
game_port_count = 50
extra_args = ["--debug-keep-ready-after-match"]

[workload]
developers = 2
players = 9
rooms = 3
rounds = 4
arrival = "poisson"
arrival_window_sec = 2.5
review_probability = 0.25
browse_interval_sec = 0.5
match_timeout_sec = 30

[[games]]
profile = "ok"
weight = 3
expect = ["END"]
min_members = 2
max_members = 4

[[games]]
profile = "exit-before-started"
weight = 0.5
expect = ["LAUNCH_FAILED", "CRASHED"]

[abuse]
start_sec = 1
duration_sec = 5
lobby_flood_connections = 1
lobby_oversized_lines = 2
lobby_slowloris = 3
lobby_malformed_lines = 4
report_flood_connections = 5
report_oversized_lines = 6
report_slowloris = 7
report_malformed_lines = 8
forged_reports = 9

[[kills]]
at_sec = 5

[[kills]]
after_matches = 10

[expect]
ping_p99_ms = 100
min_matches = 6
invariants = ["I1", "I3", "I6"]
broken = ["I3"]
)",
                                      "full.toml");
    CHECK(s.name == "full");
    CHECK(s.description == "everything set");
    CHECK(s.file == "full.toml");
    CHECK(s.time_limit_sec == 120);

    CHECK(s.server.startup_timeout_sec == 4);
    CHECK(s.server.stop_grace_sec == 0.5);
    CHECK(s.server.end_grace_sec == 1.5);
    CHECK(s.server.heartbeat_warn_factor == 2);
    CHECK(s.server.heartbeat_kill_factor == 4);
    CHECK(s.server.report_rate == 30);
    CHECK(s.server.auth_deadline_sec == 5);
    CHECK(s.server.match_log_cap == 4096);
    CHECK(s.server.game_port_count == 50);
    CHECK(s.server.extra_args == std::vector<std::string>{"--debug-keep-ready-after-match"});

    CHECK(s.workload.developers == 2);
    CHECK(s.workload.players == 9);
    CHECK(s.workload.rooms == 3);
    CHECK(s.workload.rounds == 4);
    CHECK(s.workload.arrival == Arrival::Poisson);
    CHECK(s.workload.arrival_window_sec == 2.5);
    CHECK(s.workload.review_probability == 0.25);
    CHECK(s.workload.browse_interval_sec == 0.5);
    CHECK(s.workload.match_timeout_sec == 30);

    REQUIRE(s.games.size() == 2);
    CHECK(s.games[0].profile == "ok");
    CHECK(s.games[0].weight == 3);
    CHECK(s.games[0].expect == std::vector<std::string>{"END"});
    CHECK(s.games[0].min_members == 2);
    CHECK(s.games[0].max_members == 4);
    CHECK(s.games[1].profile == "exit-before-started");
    CHECK(s.games[1].weight == 0.5);
    CHECK(s.games[1].expect == std::vector<std::string>{"LAUNCH_FAILED", "CRASHED"});

    CHECK(s.abuse.start_sec == 1);
    CHECK(s.abuse.duration_sec == 5);
    CHECK(s.abuse.lobby_flood_connections == 1);
    CHECK(s.abuse.lobby_oversized_lines == 2);
    CHECK(s.abuse.lobby_slowloris == 3);
    CHECK(s.abuse.lobby_malformed_lines == 4);
    CHECK(s.abuse.report_flood_connections == 5);
    CHECK(s.abuse.report_oversized_lines == 6);
    CHECK(s.abuse.report_slowloris == 7);
    CHECK(s.abuse.report_malformed_lines == 8);
    CHECK(s.abuse.forged_reports == 9);

    REQUIRE(s.kills.size() == 2);
    CHECK(s.kills[0].at_sec == 5.0);
    CHECK_FALSE(s.kills[0].after_matches);
    CHECK_FALSE(s.kills[1].at_sec);
    CHECK(s.kills[1].after_matches == 10);

    CHECK(s.expect.ping_p99_ms == 100);
    CHECK(s.expect.min_matches == 6);
    CHECK(s.expect.invariants == std::vector<std::string>{"I1", "I3", "I6"});
    CHECK(s.expect.broken == std::vector<std::string>{"I3"});
}

TEST_CASE("defaults apply to everything left out") {
    const Scenario s = parse_scenario(kMinimal, "minimal.toml");
    const Scenario defaults;
    CHECK(s.name == "minimal");
    CHECK(s.description.empty());
    CHECK(s.time_limit_sec == defaults.time_limit_sec);
    CHECK(s.server.startup_timeout_sec == defaults.server.startup_timeout_sec);
    CHECK(s.server.match_log_cap == defaults.server.match_log_cap);
    CHECK(s.server.game_port_count == defaults.server.game_port_count);
    CHECK(s.server.extra_args.empty());
    CHECK(s.workload.players == defaults.workload.players);
    CHECK(s.workload.rooms == defaults.workload.rooms);
    CHECK(s.workload.arrival == Arrival::Burst);
    CHECK(s.workload.review_probability == defaults.workload.review_probability);
    REQUIRE(s.games.size() == 1);
    CHECK(s.games[0].weight == 1);
    CHECK(s.games[0].min_members == 1);
    CHECK(s.games[0].max_members == 3);
    CHECK(s.abuse.duration_sec == 0);
    CHECK(s.abuse.forged_reports == 0);
    CHECK(s.kills.empty());
    CHECK(s.expect.ping_p99_ms == defaults.expect.ping_p99_ms);
    CHECK(s.expect.min_matches == 1);
    CHECK(s.expect.invariants.empty());
    CHECK(s.expect.broken.empty());
}

TEST_CASE("integers are accepted where numbers with fractions are") {
    const Scenario s = parse_scenario(kMinimal + "[workload]\nreview_probability = 1\narrival_window_sec = 0\n", "x");
    CHECK(s.workload.review_probability == 1.0);
    CHECK(s.workload.arrival_window_sec == 0.0);
}

TEST_CASE("each kind of problem is reported with its key path") {
    const auto one = [](const std::string& extra) {
        const auto lines = errors_of(kMinimal + extra);
        CHECK(lines.size() == 1);
        return lines.empty() ? std::string() : lines.front();
    };
    // types
    CHECK(one("[workload]\nplayers = \"four\"\n") == "quick.toml: workload.players: expected an integer, got a string");
    CHECK(one("[workload]\nrooms = 1.5\n") == "quick.toml: workload.rooms: expected an integer, got a float");
    CHECK(one("[server]\nreport_rate = true\n") == "quick.toml: server.report_rate: expected a number, got a boolean");
    CHECK(one("[server]\nextra_args = \"--x\"\n") ==
          "quick.toml: server.extra_args: expected an array of strings, got a string");
    CHECK(one("[server]\nextra_args = [\"--x\", 3]\n") ==
          "quick.toml: server.extra_args[1]: expected a string, got an integer");
    CHECK(errors_of("abuse = 3\n" + kMinimal) ==
          std::vector<std::string>{"quick.toml: abuse: expected a table ([abuse]), got an integer"});
    CHECK(one("[server]\nstartup_timeout_sec = inf\n") ==
          "quick.toml: server.startup_timeout_sec: must be a finite number, got inf");
    // ranges
    CHECK(one("[abuse]\nforged_reports = -1\n") == "quick.toml: abuse.forged_reports: must be >= 0, got -1");
    CHECK(one("[workload]\nrooms = 0\n") == "quick.toml: workload.rooms: must be >= 1, got 0");
    CHECK(one("[workload]\nrounds = 0\n") == "quick.toml: workload.rounds: must be >= 1, got 0");
    CHECK(one("[workload]\nplayers = 2\nrooms = 3\n") ==
          "quick.toml: workload.players: must be >= workload.rooms (3, one host per room), got 2");
    CHECK(one("[workload]\nreview_probability = 1.5\n") ==
          "quick.toml: workload.review_probability: must be between 0 and 1, got 1.5");
    CHECK(one("[workload]\nmatch_timeout_sec = 0\n") == "quick.toml: workload.match_timeout_sec: must be > 0, got 0");
    CHECK(one("[workload]\narrival = \"bursty\"\n") ==
          "quick.toml: workload.arrival: must be one of burst, uniform, poisson; got 'bursty'");
    CHECK(one("[server]\nmatch_log_cap = -5\n") == "quick.toml: server.match_log_cap: must be >= 0, got -5");
    CHECK(one("[workload]\nplayers = 9999999999\n") ==
          "quick.toml: workload.players: must be <= 2147483647, got 9999999999");
    // games
    CHECK(one("[[games]]\nprofile = \"ok\"\nweight = -1\nexpect = [\"END\"]\n") ==
          "quick.toml: games[1].weight: must be > 0, got -1");
    CHECK(one("[[games]]\nprofile = \"Bad_Name\"\nexpect = [\"END\"]\n") ==
          "quick.toml: games[1].profile: must match [a-z0-9-]+ (a fakegame package dir name), got "
          "'Bad_Name'");
    CHECK(one("[[games]]\nprofile = \"\"\nexpect = [\"END\"]\n") ==
          "quick.toml: games[1].profile: must match [a-z0-9-]+ (a fakegame package dir name), got "
          "''");
    CHECK(one("[[games]]\nprofile = \"ok\"\nexpect = []\n") == "quick.toml: games[1].expect: must not be empty");
    CHECK(one("[[games]]\nprofile = \"ok\"\nexpect = [\"END\", \"ENDED\"]\n") ==
          "quick.toml: games[1].expect[1]: must be one of END, ERROR, CRASHED, TIMEOUT, ABORTED, "
          "LAUNCH_FAILED; "
          "got 'ENDED'");
    CHECK(one("[[games]]\nprofile = \"ok\"\n") ==
          "quick.toml: games[1].expect: missing (the acceptable match.ended statuses, e.g. [\"END\"])");
    CHECK(one("[[games]]\nexpect = [\"END\"]\n") ==
          "quick.toml: games[1].profile: missing (the fakegame profile this entry plays)");
    CHECK(one("[[games]]\nprofile = \"ok\"\nexpect = [\"END\"]\nmin_members = 0\n") ==
          "quick.toml: games[1].min_members: must be >= 1, got 0");
    CHECK(one("[[games]]\nprofile = \"ok\"\nexpect = [\"END\"]\nmax_members = 9\n") ==
          "quick.toml: games[1].max_members: must be <= 8, got 9");
    CHECK(one("[[games]]\nprofile = \"ok\"\nexpect = [\"END\"]\nmin_members = 4\n") ==
          "quick.toml: games[1].max_members: must be >= min_members (4), got 3");
    // kills
    CHECK(one("[[kills]]\n") == "quick.toml: kills[0]: needs at_sec or after_matches");
    CHECK(one("[[kills]]\nat_sec = 1\nafter_matches = 2\n") ==
          "quick.toml: kills[0]: give at_sec or after_matches, not both");
    CHECK(one("[[kills]]\nafter_matches = 0\n") == "quick.toml: kills[0].after_matches: must be >= 1, got 0");
    // expect
    CHECK(one("[expect]\ninvariants = [\"I1\", \"I10\"]\n") ==
          "quick.toml: expect.invariants[1]: must be one of I1..I9, got 'I10'");
    CHECK(one("[expect]\nbroken = [\"i3\"]\n") ==
          "quick.toml: expect.broken[0]: must be one of I1..I9, got 'i3'");
    CHECK(one("[expect]\ninvariants = [\"I1\", \"I1\"]\n") == "quick.toml: expect.invariants[1]: I1 is listed twice");
    CHECK(one("[expect]\ninvariants = [\"I1\"]\nbroken = [\"I3\"]\n") ==
          "quick.toml: expect.broken[0]: I3 is not in expect.invariants, so it is never checked and cannot break");
    CHECK(one("[expect]\nping_p99_ms = 0\n") == "quick.toml: expect.ping_p99_ms: must be > 0, got 0");
}

TEST_CASE("required top-level parts") {
    CHECK(errors_of("[[games]]\nprofile = \"ok\"\nexpect = [\"END\"]\n") ==
          std::vector<std::string>{"quick.toml: name: missing (every scenario needs a name)"});
    CHECK(errors_of("name = \"\"\n[[games]]\nprofile = \"ok\"\nexpect = [\"END\"]\n") ==
          std::vector<std::string>{"quick.toml: name: must not be empty"});
    CHECK(errors_of("name = \"x\"\n") ==
          std::vector<std::string>{"quick.toml: games: at least one [[games]] table is required"});
    CHECK(errors_of("name = \"x\"\ngames = []\n") ==
          std::vector<std::string>{"quick.toml: games: at least one [[games]] table is required"});
    CHECK(errors_of("name = \"x\"\n[games]\nprofile = \"ok\"\n") ==
          std::vector<std::string>{"quick.toml: games: expected an array of tables ([[games]]), got a table"});
}

TEST_CASE("unknown keys are rejected wherever they are") {
    const auto lines = errors_of("nmae = \"typo\"\n" + kMinimal + "[sever]\n[workload]\nplayer = 3\n"
                                            "[[games]]\nprofile = \"ok\"\nexpect = [\"END\"]\nwieght = 2\n");
    CHECK(lines.size() == 4);
    CHECK(any_starts_with(lines, "quick.toml: nmae: unknown key (expected one of: name, description,"));
    CHECK(any_starts_with(lines, "quick.toml: sever: unknown key"));
    CHECK(any_starts_with(lines, "quick.toml: workload.player: unknown key (expected one of: developers, players,"));
    CHECK(has_line(lines, "quick.toml: games[1].wieght: unknown key (expected one of: profile, weight, expect, "
                          "min_members, max_members, think_ms, abandon_after_ms)"));
}

TEST_CASE("several problems are all reported at once") {
    const auto lines = errors_of(R"(
description = 3
[workload]
rooms = 0
review_probability = -0.5
[[games]]
profile = "ok"
weight = 0
expect = ["NOPE"]
[[kills]]
at_sec = -1
[expect]
invariants = ["I0"]
)");
    CHECK(lines.size() == 8);
    CHECK(has_line(lines, "quick.toml: name: missing (every scenario needs a name)"));
    CHECK(has_line(lines, "quick.toml: description: expected a string, got an integer"));
    CHECK(has_line(lines, "quick.toml: workload.rooms: must be >= 1, got 0"));
    CHECK(has_line(lines, "quick.toml: workload.review_probability: must be between 0 and 1, got -0.5"));
    CHECK(has_line(lines, "quick.toml: games[0].weight: must be > 0, got 0"));
    CHECK(any_starts_with(lines, "quick.toml: games[0].expect[0]: must be one of END,"));
    CHECK(has_line(lines, "quick.toml: kills[0].at_sec: must be >= 0, got -1"));
    CHECK(has_line(lines, "quick.toml: expect.invariants[0]: must be one of I1..I9, got 'I0'"));
}

TEST_CASE("a TOML syntax error names file and line") {
    try {
        parse_scenario("name = \"x\"\n\n[workload\nplayers = 3\n", "bad.toml");
        FAIL("parsed");
    } catch (const ScenarioError& e) {
        const std::string message = e.what();
        CHECK(message.rfind("bad.toml:3:", 0) == 0);
        CHECK(message.find("TOML syntax error") != std::string::npos);
    }
}

TEST_CASE("load_scenario reads a file and reports one it cannot read") {
    const fs::path dir = fs::temp_directory_path() / ("sim-units-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path file = dir / "min.toml";
    std::ofstream(file) << kMinimal;
    const Scenario s = load_scenario(file);
    CHECK(s.name == "minimal");
    CHECK(s.file == file);
    CHECK_THROWS_WITH(load_scenario(dir / "missing.toml"), Catch::Contains("missing.toml: cannot read"));
    fs::remove_all(dir);
}

TEST_CASE("every scenario shipped in sim/scenarios parses") {
    const char* source = std::getenv("GAMESTORE_SOURCE_DIR");
    const fs::path dir = fs::path(source != nullptr ? source : ".") / "sim" / "scenarios";
    if (!fs::is_directory(dir)) {
        WARN("no " << dir << "; run through ctest");
        return;
    }
    int found = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.path().extension() == ".toml") {
            INFO(entry.path());
            CHECK_NOTHROW(load_scenario(entry.path()));
            ++found;
        }
    }
    CHECK(found >= 5);  // the quick suite and the soak scenario
}

TEST_CASE("invariant names and summaries") {
    CHECK(invariant_names() == std::vector<std::string>{"I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9"});
    CHECK(invariant_summary("I3") == "every match exit path ends in WAITING with ready cleared");
    CHECK(invariant_summary("I10") == "unknown invariant");
}

TEST_CASE("percentiles use the nearest rank") {
    CHECK(percentiles({}).samples == 0);
    CHECK(percentiles({}).p99 == 0);

    const Percentiles one = percentiles({7});
    CHECK(one.samples == 1);
    CHECK(one.p50 == 7);
    CHECK(one.p99 == 7);
    CHECK(one.max == 7);

    const Percentiles four = percentiles({4, 1, 3, 2});
    CHECK(four.p50 == 2);
    CHECK(four.p99 == 4);
    CHECK(four.max == 4);

    std::vector<double> hundred;
    for (int i = 100; i >= 1; --i) {
        hundred.push_back(i);
    }
    const Percentiles p = percentiles(hundred);
    CHECK(p.samples == 100);
    CHECK(p.p50 == 50);
    CHECK(p.p99 == 99);
    CHECK(p.max == 100);

    hundred.push_back(1000);  // 101 samples: rank ceil(99.99) = 100
    CHECK(percentiles(hundred).p99 == 100);
}

TEST_CASE("ScenarioResult::passed honours expected-broken invariants") {
    ScenarioResult r = sample_result();
    CHECK(r.passed());

    r.invariants[1] = invariant("I3", 2);
    CHECK_FALSE(r.passed());

    r.invariants[1].expected_broken = true;  // broke as the scenario said it would
    CHECK(r.passed());

    r.invariants[1] = invariant("I3", 0, true);  // expected to break but held
    CHECK_FALSE(r.passed());

    r = sample_result();
    r.expectation_failures.push_back("min_matches: 7 ended, 10 expected");
    CHECK_FALSE(r.passed());

    r = sample_result();
    r.setup_failed = true;
    CHECK_FALSE(r.passed());
}

TEST_CASE("to_string of outcomes") {
    CHECK(std::string(to_string(OpOutcome::Ok)) == "ok");
    CHECK(std::string(to_string(OpOutcome::Fail)) == "fail");
    CHECK(std::string(to_string(OpOutcome::Unknown)) == "unknown");
}

TEST_CASE("the summary table shows verdicts and how to replay a failure") {
    ScenarioResult good = sample_result();
    ScenarioResult bad = sample_result();
    bad.scenario = "abuse";
    bad.seed = 7;
    bad.invariants[1] = invariant("I3", 7);
    bad.invariants.push_back(invariant("I4", 2, true));

    const std::string table = summary_table({good, bad});
    CHECK(table.find("scenario") != std::string::npos);
    CHECK(table.find("PASS") != std::string::npos);
    CHECK(table.find("FAIL") != std::string::npos);
    CHECK(table.find("7/8") != std::string::npos);          // matches ended/started
    CHECK(table.find("100/2/1") != std::string::npos);      // ops
    CHECK(table.find("20.0/30.0") != std::string::npos);    // launch p50/p99
    CHECK(table.find("I1 held (10 checks)") != std::string::npos);
    CHECK(table.find("I3 BROKEN (7 violations)") != std::string::npos);
    CHECK(table.find("room r4: ready kept") != std::string::npos);
    CHECK(table.find("room r5: ready kept") == std::string::npos);  // at most 5 messages
    CHECK(table.find("... and 2 more") != std::string::npos);
    CHECK(table.find("I4 BROKEN (2 violations) (expected to break: broke)") != std::string::npos);
    CHECK(table.find("END 6, ERROR 1") != std::string::npos);
    CHECK(table.find("forged_report 3, kill9 1") != std::string::npos);
    CHECK(table.find("replay with: gamestore-sim run sim/scenarios/quick.toml --seed 7") != std::string::npos);
    CHECK(table.find("--seed 42") == std::string::npos);  // the passing one needs no replay
    CHECK(table.find("1 of 2 scenarios passed") != std::string::npos);
}

TEST_CASE("JUnit has a failure per broken invariant and escapes text") {
    ScenarioResult r = sample_result();
    r.scenario = "a<b>&\"c\"";
    r.invariants[1] = invariant("I3", 1);
    r.invariants[1].violations[0].message = "room <r1> & \"x\"\x01";
    r.invariants.push_back(invariant("I4", 3, true));
    r.expectation_failures.push_back("min_matches: 0 < 1");

    const std::string xml = to_junit({r});
    CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 0) == 0);
    CHECK(xml.find("<testsuite name=\"a&lt;b&gt;&amp;&quot;c&quot;\" tests=\"5\" failures=\"2\"") !=
          std::string::npos);
    CHECK(xml.find("<property name=\"seed\" value=\"42\"/>") != std::string::npos);
    CHECK(xml.find("classname=\"gamestore-sim.a&lt;b&gt;&amp;&quot;c&quot;\" name=\"I3 every match exit path") !=
          std::string::npos);
    CHECK(xml.find("<failure message=\"I3 broken: 1 violation\">at 100.0 ms: room &lt;r1&gt; &amp; &quot;x&quot;?"
                   "\n</failure>") != std::string::npos);
    CHECK(xml.find("name=\"expectations\">\n      <failure message=\"1 expectation not met\">min_matches: 0 &lt; 1") !=
          std::string::npos);
    CHECK(xml.find("name=\"setup\"/>") != std::string::npos);
    CHECK(xml.find("I4 stale/forged reports change nothing, each counted\"/>") != std::string::npos);

    // Well-formed-ish: nothing raw that needs escaping and the elements balance.
    for (const char* raw : {"<r1>", "& ", "\"c\""}) {
        CHECK(xml.find(raw) == std::string::npos);
    }
    const auto count = [&](const std::string& what) {
        std::size_t n = 0;
        for (auto at = xml.find(what); at != std::string::npos; at = xml.find(what, at + 1)) {
            ++n;
        }
        return n;
    };
    CHECK(count("<testsuite ") == count("</testsuite>"));
    CHECK(count("<failure ") == count("</failure>"));
    CHECK(count("<testcase ") == 5);
    CHECK(xml.find("</testsuites>\n") == xml.size() - 14);
}

TEST_CASE("JUnit marks a failed setup") {
    ScenarioResult r = sample_result();
    r.setup_failed = true;
    r.setup_error = "gamestore-server did not start";
    const std::string xml = to_junit({r});
    CHECK(xml.find("<failure message=\"setup failed\">gamestore-server did not start") != std::string::npos);
    CHECK(xml.find("<skipped message=\"setup failed\"/>") != std::string::npos);
}

TEST_CASE("JSON round-trips the key fields") {
    ScenarioResult r = sample_result();
    r.invariants[1] = invariant("I3", 2, true);
    r.lobby_rtt_ms = percentiles({1, 2, 3, 4});
    r.ops.push_back({5, 6, "carol", "client.launch", OpOutcome::Fail, "bad byte \xff here"});

    const nlohmann::json parsed = nlohmann::json::parse(to_json({r}).dump());
    CHECK(parsed["passed"] == true);
    REQUIRE(parsed["scenarios"].size() == 1);
    const auto& s = parsed["scenarios"][0];
    CHECK(s["scenario"] == "quick");
    CHECK(s["file"] == "sim/scenarios/quick.toml");
    CHECK(s["seed"] == 42);
    CHECK(s["passed"] == true);
    CHECK(s["setup_failed"] == false);
    CHECK(s["matches_started"] == 8);
    CHECK(s["matches_ended"] == 7);
    CHECK(s["match_status"]["END"] == 6);
    CHECK(s["faults"]["kill9"] == 1);
    CHECK(s["ops_unknown"] == 1);
    CHECK(s["lobby_rtt_ms"]["samples"] == 4);
    CHECK(s["lobby_rtt_ms"]["p50"] == 2.0);
    CHECK(s["launch_latency_ms"]["p99"] == 30.0);
    CHECK(s["schedule"]["rooms"] == 2);

    REQUIRE(s["invariants"].size() == 2);
    const auto& i3 = s["invariants"][1];
    CHECK(i3["name"] == "I3");
    CHECK(i3["summary"] == invariant_summary("I3"));
    CHECK(i3["checks"] == 10);
    CHECK(i3["held"] == false);
    CHECK(i3["expected_broken"] == true);
    CHECK(i3["passed"] == true);
    CHECK(i3["violation_count"] == 2);
    CHECK(i3["violations"][1]["at_ms"] == 101.0);
    CHECK(i3["violations"][1]["message"] == "room r1: ready kept");

    REQUIRE(s["ops"].size() == 3);
    CHECK(s["ops"][1] == nlohmann::json{{"start_ms", 3.0}, {"end_ms", 4.0}, {"actor", "bob"}, {"op", "room.join"},
                                        {"outcome", "unknown"}, {"detail", "connection lost"}});
    CHECK(s["ops"][2]["outcome"] == "fail");
    CHECK(s["ops"][2]["detail"] == "bad byte \xEF\xBF\xBD here");  // invalid UTF-8 replaced, dump() does not throw

    r.setup_failed = true;
    CHECK(to_json({r})["passed"] == false);
}
