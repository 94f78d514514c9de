#pragma once
// What one scenario run produced: the operation log, measurements, faults
// injected and the verdict of each invariant. The runner fills it; report.cpp
// prints it as a table, JSON and JUnit XML.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gamestore::sim {

enum class OpOutcome { Ok, Fail, Unknown };  // Unknown: no answer (connection lost, server killed)

struct OpRecord {
    double start_ms = 0;  // since the run started
    double end_ms = 0;
    std::string actor;    // account name or "abuse-…"
    std::string op;       // lobby op or sim step ("client.launch", "server.kill9", ...)
    OpOutcome outcome = OpOutcome::Ok;
    std::string detail;   // error code + sentence, or what was done
};

struct Violation {
    double at_ms = 0;
    std::string message;  // names the room, match, player or process concerned
};

struct InvariantResult {
    std::string name;             // "I1" .. "I9"
    std::uint64_t checks = 0;     // how many times it was evaluated
    std::vector<Violation> violations;  // first ones kept (capped), count below
    std::uint64_t violation_count = 0;
    bool expected_broken = false; // the scenario expects this one to break
    bool held() const { return violation_count == 0; }
    bool passed() const { return expected_broken ? !held() : held(); }
};

struct Percentiles {
    std::size_t samples = 0;
    double p50 = 0, p99 = 0, max = 0;
};

struct ScenarioResult {
    std::string scenario;
    std::string file;
    std::uint64_t seed = 0;
    double duration_sec = 0;
    bool setup_failed = false;     // could not run at all (see setup_error)
    std::string setup_error;

    std::uint64_t matches_started = 0;   // room.start accepted
    std::uint64_t matches_ended = 0;     // match.ended observed
    std::map<std::string, std::uint64_t> match_status;  // status -> count
    std::map<std::string, std::uint64_t> faults;        // fault kind -> injected count
    std::uint64_t ops_ok = 0, ops_fail = 0, ops_unknown = 0;
    std::uint64_t clients_launched = 0;
    std::uint64_t server_restarts = 0;

    Percentiles launch_latency_ms;   // room.start sent -> IN_GAME seen by the host
    Percentiles lobby_rtt_ms;        // ping round trips, whole run
    Percentiles lobby_rtt_abuse_ms;  // ping round trips during the abuse window

    std::vector<InvariantResult> invariants;
    std::vector<std::string> expectation_failures;  // [expect] not met (min_matches, outcome per profile)
    std::vector<OpRecord> ops;                      // every operation, in completion order
    nlohmann::json schedule;                        // the seeded plan (rooms, rounds, faults, kills)
    // One object per match started: {match_id, profile, players, status,
    // reason, start_ms, end_ms, interrupted}.
    nlohmann::json matches = nlohmann::json::array();

    bool passed() const;
};

Percentiles percentiles(std::vector<double> samples);

// Human summary table of every scenario (stdout).
std::string summary_table(const std::vector<ScenarioResult>& results);
// --json: {scenarios:[...]} with every field above (ops included).
nlohmann::json to_json(const std::vector<ScenarioResult>& results);
// --junit: one <testsuite> per scenario, one <testcase> per invariant plus
// "expectations" and "setup".
std::string to_junit(const std::vector<ScenarioResult>& results);

const char* to_string(OpOutcome outcome);

}  // namespace gamestore::sim
