#include "validator/report_checks.hpp"

#include <algorithm>
#include <deque>
#include <map>

#include "platform/protocol/rate_limit.hpp"
#include "platform/protocol/redact.hpp"
#include "platform/protocol/report_rules.hpp"
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
    const auto problems = identity_problems(report, c.expected);
    std::vector<std::string> warnings;
    if (report.protocol_version != protocol::kPlatformProtocolVersion) {
        warnings.push_back(
            "STARTED says protocol_version " + std::to_string(report.protocol_version) +
            "; the platform accepts any version from 1 to 1000000 and does not act on it, but only "
            "version 1 exists: send 1 (or leave it out)");
    }
    for (const auto& note : report.tolerated) {
        warnings.push_back("STARTED: " + note);
    }
    if (!problems.empty()) {
        book.fail(checks::kStartedFields,
                  "STARTED carried " + join(problems, ", ") +
                      "; it must carry ROOM_ID, MATCH_ID and REPORT_TOKEN exactly as given in the "
                      "environment, "
                      "otherwise the platform refuses it and the room never starts",
                  problems);
    } else if (!warnings.empty()) {
        book.warn(checks::kStartedFields, warnings.front(), warnings);
    } else {
        book.pass(checks::kStartedFields, "STARTED carried room_id " +
                                              std::to_string(c.expected.room_id) +
                                              ", MATCH_ID, REPORT_TOKEN and protocol_version 1");
    }
    const int port = report.port.value_or(0);
    if (port == c.expected.port) {
        book.pass(checks::kStartedPortEcho, "STARTED echoed port " + std::to_string(port) + " (PORT)");
    } else {
        book.fail(
            checks::kStartedPortEcho,
            "STARTED says port " + std::to_string(port) +
                " but the server was given PORT=" + std::to_string(c.expected.port) +
                "; listen on PORT (or {port}) and report that port, the platform refuses any other "
                "(\"" +
                protocol::refusal_sentence(protocol::Refusal{protocol::ReportRefusal::WrongPort,
                                                             c.expected.match_id,
                                                             0,
                                                             c.expected.port,
                                                             {},
                                                             {}}) +
                "\") and the room never starts");
    }
}

Conversation::Clock::time_point heartbeat_silence_from(
    Conversation::Clock::time_point started,
    std::optional<Conversation::Clock::time_point> clients_launched_at,
    const std::vector<Conversation::Clock::time_point>& beats) {
    if (!beats.empty()) {
        return beats.back();
    }
    return clients_launched_at ? std::max(started, *clients_launched_at) : started;
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
    const auto interval = milliseconds(static_cast<long long>(c.heartbeat_interval_sec * 1000.0));
    // The platform's watchdog (docs/MATCHES.md "Timeouts"): a warning after
    // warn_factor intervals without a heartbeat, TIMEOUT after kill_factor.
    const auto kill_limit = interval * c.heartbeat_kill_factor + c.heartbeat_slack;
    const std::string declared =
        "server.heartbeat_interval_sec is " + format_seconds(c.heartbeat_interval_sec) +
        "; the platform warns after " + std::to_string(c.heartbeat_warn_factor) +
        "x and stops the match after " + std::to_string(c.heartbeat_kill_factor) + "x that (" +
        format_seconds(interval * c.heartbeat_kill_factor) + ") without a HEARTBEAT";
    const std::string observed = plural(beats.size(), "HEARTBEAT") + " in " +
                                 format_seconds(ms_between(start, end)) + " after STARTED";
    if (!ended && c.server_exit && static_cast<int>(beats.size()) < c.heartbeat_cycles) {
        book.fail(checks::kHeartbeatCadence,
                  "the server " + *c.server_exit + " " + format_seconds(ms_between(start, end)) +
                      " after STARTED, after " + std::to_string(beats.size()) + " of " +
                      std::to_string(c.heartbeat_cycles) +
                      " expected heartbeats and without END or ERROR; a match must run until it "
                      "reports END (see "
                      "the server log below)",
                  {observed}, ms_between(start, end));
        return;
    }
    // The silence before the first heartbeat counts from when players could
    // join: the platform launches the clients right after STARTED, the
    // validator only after its own probes, and a game may well start its
    // heartbeats once its players are in.
    Clock::time_point first_from = start;
    if (beats.empty() || (c.clients_launched_at && beats.front() > *c.clients_launched_at)) {
        first_from = heartbeat_silence_from(start, c.clients_launched_at, {});
    }
    const bool silent_without_players = beats.empty() && !c.clients_launched_at;
    milliseconds worst{0};
    Clock::time_point worst_from = start;
    Clock::time_point previous = first_from;
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
    // The cadence the game keeps, for advice: its largest gap between two
    // heartbeats, rounded up to whole seconds.
    milliseconds cadence{0};
    for (std::size_t i = 1; i < beats.size(); ++i) {
        cadence = std::max(cadence, ms_between(beats[i - 1], beats[i]));
    }
    const auto after_text = [&](Clock::time_point from) {
        if (from == start)
            return std::string("STARTED");
        if (c.clients_launched_at && from == *c.clients_launched_at)
            return std::string("the clients were launched");
        return "the HEARTBEAT at " + format_seconds(ms_between(start, from)) + " after STARTED";
    };
    if (silent_without_players) {
        book.warn(checks::kHeartbeatCadence,
                  "no HEARTBEAT in " + format_seconds(ms_between(start, end)) +
                      " after STARTED, with no client of the package launched; that is fine if the "
                      "game starts its heartbeats "
                      "once its players join (the platform launches the clients right after "
                      "STARTED), but " +
                      declared + ": send HEARTBEAT from STARTED on",
                  {observed}, ms_between(start, end));
        return;
    }
    if (worst > kill_limit) {
        book.fail(checks::kHeartbeatCadence,
                  "no HEARTBEAT for " + format_seconds(worst) + " after " + after_text(worst_from) +
                      "; " + declared +
                      ", so it would stop this match as TIMEOUT: send HEARTBEAT every "
                      "HEARTBEAT_INTERVAL_SEC seconds "
                      "from STARTED until END",
                  {observed}, ms_between(start, end));
        return;
    }
    if (worst > c.heartbeat_limit) {
        const auto seconds = (std::max(cadence, worst).count() + 999) / 1000;
        book.warn(checks::kHeartbeatCadence,
                  "no HEARTBEAT for " + format_seconds(worst) + " after " + after_text(worst_from) +
                      "; " + declared + ": heartbeats every " + std::to_string(seconds) +
                      " s? declare server.heartbeat_interval_sec: " + std::to_string(seconds) +
                      " in the manifest (the platform tolerates up to " +
                      std::to_string(c.heartbeat_kill_factor) + "x the declared interval)",
                  {observed}, ms_between(start, end));
        return;
    }
    book.pass(checks::kHeartbeatCadence,
              observed + (ended ? " until the match ended" : "") + ", largest gap " +
                  format_seconds(worst) + " (the validator allows " +
                  format_seconds(c.heartbeat_limit) + " = 1.5 x interval + " +
                  format_seconds(c.heartbeat_slack) + " without a warning); " + declared,
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
    std::size_t unterminated_accepted = 0;
    const ConnectionRecord* first_unterminated = nullptr;
    for (const auto& connection : c.connections) {
        if (connection.unterminated_bytes > 0 && connection.unterminated_accepted) {
            if (unterminated_accepted++ == 0) {
                first_unterminated = &connection;
            }
        } else if (connection.unterminated_bytes > 0) {
            failures.push_back("connection " + std::to_string(connection.id) + " ended with " +
                               plural(connection.unterminated_bytes, "byte") +
                               " that never got a newline (" +
                               in_quotes(connection.unterminated_excerpt) +
                               "), and the connection was not closed after them: the platform "
                               "never sees such a report; end every "
                               "report with \\n");
        }
        if (connection.closed_for_abuse) {
            failures.push_back("connection " + std::to_string(connection.id) +
                               " was closed for sustained abuse (over 200 reports dropped within 10 s)");
        }
    }

    if (first_unterminated) {
        warnings.push_back(
            plural(unterminated_accepted, "report") +
            " without a final newline, the first on connection " +
            std::to_string(first_unterminated->id) + " (" +
            in_quotes(first_unterminated->unterminated_excerpt) +
            "): the platform accepts them because the game closed its side right after each, but "
            "end every report with \\n");
    }
    std::vector<std::string> tolerated;
    for (const auto& record : c.reports) {
        // STARTED's and END's are warned about by their own checks.
        if (!record.report || record.report->status == ReportStatus::Started ||
            record.report->status == ReportStatus::End) {
            continue;
        }
        for (const auto& note : record.report->tolerated) {
            const std::string line =
                std::string(protocol::to_string(record.report->status)) + ": " + note;
            if (std::find(tolerated.begin(), tolerated.end(), line) == tolerated.end()) {
                tolerated.push_back(line);
            }
        }
    }
    for (const auto& note : tolerated) {
        warnings.push_back(note + " (docs/PROTOCOL.md \"Messages\")");
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
    // The platform's END rules (protocol::check_end): the first END they
    // accept is the one it records; a refused END changes nothing.
    std::vector<std::string> refused;
    const ReportRecord* end = nullptr;
    for (const auto& record : c.reports) {
        if (!record.report || record.report->status != ReportStatus::End) {
            continue;
        }
        if (const auto refusal = protocol::check_end(*record.report, c.expected.players)) {
            refused.push_back("the platform refuses END: " + protocol::refusal_sentence(*refusal));
            continue;
        }
        end = &record;
        break;
    }
    if (!end && !refused.empty()) {
        book.fail(checks::kEndResultsSchema,
                  refused.front() + "; name only players of PLAYERS_JSON (players: " +
                      join(c.expected.players, ", ") +
                      "), each once, and winner and loser not the same one",
                  refused);
        return;
    }
    if (!end) {
        book.skip(checks::kEndResultsSchema, "no END arrived (" + c.no_end_reason + ")");
        return;
    }
    const auto& report = *end->report;
    std::vector<std::string> summary;
    if (report.results) {
        for (const auto& result : *report.results) {
            summary.push_back(protocol::printable(result.player, 40) + " " +
                              std::string(protocol::to_string(result.outcome)));
        }
    }
    std::vector<std::string> warnings;
    const auto unnamed = protocol::unnamed_players(report, c.expected.players);
    if (!c.expected.players.empty() && unnamed.size() == c.expected.players.size()) {
        book.fail(checks::kEndResultsSchema,
                  "END names no player of the match (no results, winner or loser for any of " +
                      join(c.expected.players, ", ") +
                      "), so the platform records the match without a single outcome: send one "
                      "{\"player\",\"outcome\",\"rank\",\"score\"} entry for each of PLAYERS_JSON");
        return;
    }
    if (!report.results) {
        warnings.push_back("END has no results" +
                           std::string(unnamed.size() < c.expected.players.size()
                                           ? " (winner/loser name some players)"
                                           : "") +
                           ", so the platform records no outcome for " + join(unnamed, ", ") +
                           ": send one {\"player\",\"outcome\",\"rank\",\"score\"} entry for each "
                           "of PLAYERS_JSON");
    } else if (!unnamed.empty()) {
        warnings.push_back(
            "END results have no entry for " + join(unnamed, ", ") +
            "; the platform accepts it and records no outcome for them: give every player of "
            "PLAYERS_JSON one entry (QUIT for a player who left)");
    }
    for (const auto& note : report.tolerated) {
        warnings.push_back("END: " + note);
    }
    for (const auto& sentence : refused) {
        warnings.push_back(sentence + " (a corrected END followed and was accepted)");
    }
    if (!warnings.empty()) {
        book.warn(checks::kEndResultsSchema, warnings.front(), warnings);
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
