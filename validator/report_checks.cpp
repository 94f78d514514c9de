#include "validator/report_checks.hpp"

#include <algorithm>
#include <deque>
#include <map>

#include "platform/protocol/rate_limit.hpp"
#include "platform/protocol/redact.hpp"
#include "platform/protocol/text.hpp"
#include "validator/check_names.hpp"

namespace gamestore::validator {

using protocol::join;
using protocol::ReportStatus;
using Clock = Conversation::Clock;
using std::chrono::milliseconds;

namespace {

std::string plural(std::size_t n, const std::string& word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// A value a game sent, quoted in a check's sentence.
constexpr std::size_t kQuotedValueBytes = 80;

std::string in_quotes(const std::string& text) {
    return protocol::in_quotes(text, kQuotedValueBytes);
}

// What is wrong with a well-formed report's identity, empty when authentic.
std::vector<std::string> identity_problems(const protocol::Report& report, const ExpectedMatch& expected) {
    std::vector<std::string> problems;
    if (report.room_id != expected.room_id) {
        problems.push_back("room_id " + std::to_string(report.room_id) + " instead of ROOM_ID " +
                           std::to_string(expected.room_id));
    }
    if (report.match_id != expected.match_id) {
        problems.push_back("match_id " + in_quotes(report.match_id) + " instead of MATCH_ID " + in_quotes(expected.match_id));
    }
    if (report.report_token != expected.report_token) {
        problems.push_back("a report_token (" + protocol::redact_token(report.report_token) +
                           ") that is not REPORT_TOKEN");
    }
    return problems;
}

// A malformed line that is an END whose results are broken: judged by
// end_results_schema rather than as control-plane noise.
bool is_bad_end_results(const ReportRecord& record) {
    return record.kind == ReportRecord::Kind::Malformed && record.status_field == "END" &&
           record.error_field.rfind("results", 0) == 0;
}

milliseconds ms_between(Clock::time_point from, Clock::time_point to) {
    return elapsed_ms(from, to);
}

}  // namespace

const ReportRecord* Conversation::started() const {
    for (const auto& record : reports) {
        if (record.report && record.report->status == ReportStatus::Started) {
            return &record;
        }
    }
    return nullptr;
}

std::vector<const ReportRecord*> Conversation::terminals() const {
    std::vector<const ReportRecord*> out;
    for (const auto& record : reports) {
        if (record.report &&
            (record.report->status == ReportStatus::End || record.report->status == ReportStatus::Error)) {
            out.push_back(&record);
        }
    }
    return out;
}

void judge_started_fields(const Conversation& c, CheckBook& book) {
    const ReportRecord* started = c.started();
    if (!started) {
        book.skip(checks::kStartedFields, "the server never sent STARTED");
        book.skip(checks::kStartedPortEcho, "the server never sent STARTED");
        return;
    }
    const auto& report = *started->report;
    auto problems = identity_problems(report, c.expected);
    if (report.protocol_version != protocol::kPlatformProtocolVersion) {
        problems.push_back("protocol_version " + std::to_string(report.protocol_version) + " (this platform speaks " +
                           std::to_string(protocol::kPlatformProtocolVersion) + ")");
    }
    if (problems.empty()) {
        book.pass(checks::kStartedFields,
                  "STARTED carried room_id " + std::to_string(c.expected.room_id) +
                      ", MATCH_ID, REPORT_TOKEN and protocol_version 1");
    } else {
        book.fail(checks::kStartedFields,
                  "STARTED carried " + join(problems, ", ") + "; it must carry ROOM_ID, MATCH_ID and REPORT_TOKEN "
                      "exactly as given in the environment and protocol_version 1, otherwise the platform ignores "
                      "it and the room never starts",
                  problems);
    }
    const int port = report.port.value_or(0);
    if (port == c.expected.port) {
        book.pass(checks::kStartedPortEcho, "STARTED echoed port " + std::to_string(port) + " (PORT)");
    } else {
        book.fail(checks::kStartedPortEcho,
                  "STARTED says port " + std::to_string(port) + " but the server was given PORT=" +
                      std::to_string(c.expected.port) +
                      "; listen on PORT (or {port}) and report that port, the platform refuses any other and the "
                      "room never starts");
    }
}

void judge_heartbeat_cadence(const Conversation& c, CheckBook& book) {
    const ReportRecord* started = c.started();
    if (!started) {
        book.skip(checks::kHeartbeatCadence, "the server never sent STARTED");
        return;
    }
    const auto start = started->at;
    const auto end = std::max(c.observation_end, start);
    const auto terminals = c.terminals();
    const bool ended = !terminals.empty() && terminals.front()->at <= end;
    std::vector<Clock::time_point> beats;
    for (const auto& record : c.reports) {
        if (record.report && record.report->status == ReportStatus::Heartbeat && record.at > start &&
            record.at <= end) {
            beats.push_back(record.at);
        }
    }
    // Gaps between STARTED, every heartbeat, and the end of the observation.
    milliseconds worst{0};
    Clock::time_point worst_from = start;
    Clock::time_point previous = start;
    for (const auto at : beats) {
        if (ms_between(previous, at) > worst) {
            worst = ms_between(previous, at);
            worst_from = previous;
        }
        previous = at;
    }
    if (ms_between(previous, end) > worst) {
        worst = ms_between(previous, end);
        worst_from = previous;
    }
    const std::string promise = "the manifest promises one every " + format_seconds(c.heartbeat_interval_sec) +
                                " (server.heartbeat_interval_sec) and the validator allows " +
                                format_seconds(c.heartbeat_limit) + " (1.5 x interval + " +
                                format_seconds(c.heartbeat_slack) + ")";
    const std::string observed = plural(beats.size(), "HEARTBEAT") + " in " +
                                 format_seconds(ms_between(start, end)) + " after STARTED";
    if (!ended && c.server_exit && static_cast<int>(beats.size()) < c.heartbeat_cycles) {
        book.fail(checks::kHeartbeatCadence,
                  "the server " + *c.server_exit + " " + format_seconds(ms_between(start, end)) +
                      " after STARTED, after " + std::to_string(beats.size()) + " of " +
                      std::to_string(c.heartbeat_cycles) +
                      " expected heartbeats and without END or ERROR; a match must run until it reports END (see "
                      "the server log below)",
                  {observed}, ms_between(start, end));
        return;
    }
    if (worst > c.heartbeat_limit) {
        const std::string after = worst_from == start
                                      ? "STARTED"
                                      : "the HEARTBEAT at " + format_seconds(ms_between(start, worst_from)) +
                                            " after STARTED";
        book.fail(checks::kHeartbeatCadence,
                  "no HEARTBEAT for " + format_seconds(worst) + " after " + after + "; " + promise +
                      ", the platform warns at 3x and stops the match at 5x the interval: send HEARTBEAT every "
                      "HEARTBEAT_INTERVAL_SEC seconds from STARTED until END",
                  {observed}, ms_between(start, end));
        return;
    }
    if (!ended && static_cast<int>(beats.size()) < c.heartbeat_cycles) {
        book.fail(checks::kHeartbeatCadence,
                  "only " + observed + " (expected " + std::to_string(c.heartbeat_cycles) + "); " + promise,
                  {observed}, ms_between(start, end));
        return;
    }
    book.pass(checks::kHeartbeatCadence,
              observed + (ended ? " until the match ended" : "") + ", largest gap " + format_seconds(worst) + "; " +
                  promise,
              ms_between(start, end));
}

void judge_reports_authenticated(const Conversation& c, CheckBook& book) {
    std::size_t total = 0;
    // problem -> (status, count) in first-seen order, problems in first-seen order.
    std::vector<std::string> order;
    std::map<std::string, std::vector<std::pair<std::string, std::size_t>>> problems;
    for (const auto& record : c.reports) {
        if (!record.report) {
            continue;
        }
        ++total;
        for (const auto& problem : identity_problems(*record.report, c.expected)) {
            if (!problems.count(problem)) {
                order.push_back(problem);
            }
            auto& counts = problems[problem];
            const std::string status(protocol::to_string(record.report->status));
            const auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == status; });
            if (it == counts.end()) {
                counts.emplace_back(status, 1);
            } else {
                ++it->second;
            }
        }
    }
    if (total == 0) {
        book.skip(checks::kReportsAuthenticated, "the server sent no well-formed report");
        return;
    }
    if (problems.empty()) {
        book.pass(checks::kReportsAuthenticated,
                  "all " + plural(total, "report") + " carried ROOM_ID, MATCH_ID and REPORT_TOKEN");
        return;
    }
    std::vector<std::string> details;
    std::size_t bad = 0;
    for (const auto& problem : order) {
        std::vector<std::string> counts;
        for (const auto& [status, n] : problems[problem]) {
            counts.push_back(status + (n > 1 ? " x" + std::to_string(n) : ""));
            bad += n;
        }
        details.push_back(join(counts, ", ") + " carried " + problem);
    }
    book.fail(checks::kReportsAuthenticated,
              details.front() + ": the platform ignores every report whose room_id, match_id or report_token is not "
                                "the match's own, so read ROOM_ID, MATCH_ID and REPORT_TOKEN (or REPORT_TOKEN_PATH) "
                                "from the environment and send them unchanged",
              details);
}

void judge_control_plane_hygiene(const Conversation& c, CheckBook& book) {
    std::vector<std::string> failures;
    std::vector<std::string> warnings;
    std::size_t lines = 0;

    std::size_t malformed = 0;
    const ReportRecord* first_malformed = nullptr;
    std::size_t too_large = 0;
    std::size_t rate_limited = 0;
    std::size_t unknown_status = 0;
    const ReportRecord* first_unknown = nullptr;
    for (const auto& record : c.reports) {
        ++lines;
        switch (record.kind) {
            case ReportRecord::Kind::Malformed:
                if (!is_bad_end_results(record)) {
                    if (!first_malformed) first_malformed = &record;
                    ++malformed;
                }
                break;
            case ReportRecord::Kind::TooLarge:
                ++too_large;
                break;
            case ReportRecord::Kind::RateLimited:
                ++rate_limited;
                break;
            case ReportRecord::Kind::UnknownStatus:
                if (!first_unknown) first_unknown = &record;
                ++unknown_status;
                break;
            case ReportRecord::Kind::Report:
                break;
        }
    }

    // Flood: the platform's budget (20/s sustained, bursts of 50) applied to
    // everything the match sent, over all its connections together.
    protocol::TokenBucket budget(20.0, 50.0);
    std::size_t over_budget = 0;
    std::size_t peak = 0;
    std::deque<Clock::time_point> window;
    for (const auto& record : c.reports) {
        if (!budget.try_take(record.at)) {
            ++over_budget;
        }
        window.push_back(record.at);
        while (!window.empty() && record.at - window.front() >= std::chrono::seconds(1)) {
            window.pop_front();
        }
        peak = std::max(peak, window.size());
    }
    if (over_budget > 0 || rate_limited > 0) {
        failures.push_back("flood: up to " + std::to_string(peak) +
                           " report lines within one second; the platform allows 20/s sustained with bursts of 50, "
                           "drops the excess and disconnects on sustained abuse: send one HEARTBEAT per interval");
    }
    if (too_large > 0) {
        failures.push_back(plural(too_large, "line") +
                           " longer than 64 KiB: the platform drops such lines; keep reports small (put bulky data "
                           "in your own logs, not in details or stats)");
    }
    if (malformed > 0) {
        failures.push_back(plural(malformed, "malformed report line") + ", the first: " + first_malformed->error +
                           " in " + in_quotes(first_malformed->excerpt) +
                           "; send one JSON object per line with the fields of docs/PROTOCOL.md");
    }
    for (const auto& connection : c.connections) {
        if (connection.unterminated_bytes > 0) {
            failures.push_back("connection " + std::to_string(connection.id) + " ended with " +
                               plural(connection.unterminated_bytes, "byte") + " that never got a newline (" +
                               in_quotes(connection.unterminated_excerpt) +
                               "): the platform never sees such a report; end every report with \\n");
        }
        if (connection.closed_for_abuse) {
            failures.push_back("connection " + std::to_string(connection.id) +
                               " was closed for sustained abuse (over 200 reports dropped within 10 s)");
        }
    }

    if (unknown_status > 0) {
        warnings.push_back(plural(unknown_status, "report") + " with an unknown status, the first: " +
                           first_unknown->error + "; the platform ignores them");
    }
    std::size_t started = 0;
    std::optional<Clock::time_point> started_at;
    std::optional<Clock::time_point> ended_at;
    std::size_t before_started = 0;
    std::size_t after_end = 0;
    for (const auto& record : c.reports) {
        if (!record.report) {
            continue;
        }
        const auto status = record.report->status;
        if (status == ReportStatus::Started) {
            ++started;
            if (!started_at) started_at = record.at;
        } else if (status == ReportStatus::Heartbeat) {
            if (!started_at) ++before_started;
            if (ended_at) ++after_end;
        }
        if ((status == ReportStatus::End || status == ReportStatus::Error) && !ended_at) {
            ended_at = record.at;
        }
    }
    if (started > 1) {
        warnings.push_back("STARTED was sent " + std::to_string(started) +
                           " times; send it once, when the server is ready (the platform ignores the repeats; a "
                           "resend after a lost reply is the only legitimate one)");
    }
    if (before_started > 0) {
        warnings.push_back(plural(before_started, "HEARTBEAT") +
                           " before STARTED; start heartbeats with STARTED");
    }
    if (after_end > 0) {
        warnings.push_back(plural(after_end, "HEARTBEAT") +
                           " after END/ERROR; stop heartbeats before the final report");
    }

    const std::string summary = plural(lines, "report line") + " on " + plural(c.connections.size(), "connection");
    if (!failures.empty()) {
        auto details = failures;
        details.insert(details.end(), warnings.begin(), warnings.end());
        book.fail(checks::kControlPlaneHygiene, failures.front(), details);
    } else if (!warnings.empty()) {
        book.warn(checks::kControlPlaneHygiene, warnings.front(), warnings);
    } else if (lines == 0) {
        book.skip(checks::kControlPlaneHygiene, "the server sent nothing to the control plane");
    } else {
        book.pass(checks::kControlPlaneHygiene,
                  summary + ": all well formed, newline-terminated, under 64 KiB and within 20 reports/s");
    }
}

void judge_end_results(const Conversation& c, CheckBook& book) {
    for (const auto& record : c.reports) {
        if (is_bad_end_results(record)) {
            book.fail(checks::kEndResultsSchema,
                      "END is malformed: " + record.error +
                          "; each result is {\"player\":name,\"outcome\":\"WIN|LOSE|DRAW|QUIT|ERROR\",\"rank\":int|null,"
                          "\"score\":number|null}");
            return;
        }
    }
    const ReportRecord* end = nullptr;
    for (const auto& record : c.reports) {
        if (record.report && record.report->status == ReportStatus::End) {
            end = &record;
            break;
        }
    }
    if (!end) {
        book.skip(checks::kEndResultsSchema, "no END arrived (" + c.no_end_reason + ")");
        return;
    }
    const auto& report = *end->report;
    if (!report.results) {
        book.warn(checks::kEndResultsSchema,
                  "END has no results, so the platform records no outcome per player: send one "
                  "{\"player\",\"outcome\",\"rank\",\"score\"} entry for each of PLAYERS_JSON");
        return;
    }
    std::map<std::string, int> named;
    std::vector<std::string> strangers;
    std::vector<std::string> summary;
    for (const auto& result : *report.results) {
        const bool member = std::find(c.expected.players.begin(), c.expected.players.end(), result.player) !=
                            c.expected.players.end();
        if (!member) {
            strangers.push_back(result.player);
        }
        ++named[result.player];
        summary.push_back(protocol::printable(result.player, 40) + " " +
                          std::string(protocol::to_string(result.outcome)));
    }
    std::vector<std::string> problems;
    for (const auto& stranger : strangers) {
        problems.push_back("END results name " + in_quotes(stranger) + ", who is not a player of this match (players: " +
                           join(c.expected.players, ", ") + ")");
    }
    for (const auto& [player, count] : named) {
        if (count > 1) {
            problems.push_back("END results name " + in_quotes(player) + " " + std::to_string(count) + " times");
        }
    }
    for (const auto& player : c.expected.players) {
        if (!named.count(player)) {
            problems.push_back("END results have no entry for " + in_quotes(player) +
                               " (give a player who left the outcome QUIT)");
        }
    }
    if (!problems.empty()) {
        book.fail(checks::kEndResultsSchema,
                  problems.front() + "; every player of PLAYERS_JSON needs exactly one result and nobody else, "
                                     "otherwise the platform refuses the END",
                  problems);
        return;
    }
    book.pass(checks::kEndResultsSchema,
              "END names every player exactly once with a valid outcome: " + join(summary, ", "));
}

void judge_single_terminal(const Conversation& c, CheckBook& book) {
    const auto terminals = c.terminals();
    if (terminals.empty()) {
        book.skip(checks::kSingleTerminalReport, "no END or ERROR arrived (" + c.no_end_reason + ")");
        return;
    }
    std::vector<std::string> sequence;
    for (const auto* record : terminals) {
        sequence.push_back(std::string(protocol::to_string(record->report->status)));
    }
    if (terminals.size() == 1) {
        book.pass(checks::kSingleTerminalReport, "exactly one final report (" + sequence.front() + ")");
        return;
    }
    book.fail(checks::kSingleTerminalReport,
              "the server sent " + join(sequence, " then ") +
                  "; send exactly one END or ERROR per match and nothing after it (the platform ends the match on "
                  "the first and refuses the rest)",
              {}, ms_between(terminals.front()->at, terminals.back()->at));
}

}  // namespace gamestore::validator
