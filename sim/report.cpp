#include "sim/results.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string_view>

#include "sim/scenario.hpp"

namespace gamestore::sim {

namespace {

constexpr std::size_t kShownViolations = 5;

std::string fixed(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

std::string ms(const Percentiles& p, double Percentiles::*field) {
    return p.samples == 0 ? "-" : fixed(p.*field, 1);
}

std::string plural(std::uint64_t count, std::string_view noun) {
    return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

// Violation messages and op details quote game output, which may be any
// bytes; JSON and XML both need valid UTF-8, so bad bytes become U+FFFD.
std::string valid_utf8(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size();) {
        const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(in[i + k]); };
        const unsigned char lead = byte(0);
        const std::size_t length = lead < 0x80           ? 1
                                   : (lead >> 5) == 0x06 ? 2
                                   : (lead >> 4) == 0x0E ? 3
                                   : (lead >> 3) == 0x1E ? 4
                                                         : 0;
        bool ok = length > 0 && i + length <= in.size();
        std::uint32_t code = length == 1 ? lead : lead & (0x7F >> length);
        for (std::size_t k = 1; ok && k < length; ++k) {
            ok = (byte(k) & 0xC0) == 0x80;
            code = (code << 6) | (byte(k) & 0x3F);
        }
        // Overlong forms, surrogates and code points past U+10FFFF are invalid too.
        static constexpr std::uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
        ok = ok && code >= kMinimum[length] && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF);
        if (ok) {
            out.append(in.substr(i, length));
            i += length;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

std::string xml_escape(std::string_view text, bool attribute) {
    std::string out;
    for (const char c : valid_utf8(text)) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            // Parsers fold raw whitespace in attributes into spaces; keep the lines.
            case '\n': out += attribute ? "&#10;" : "\n"; break;
            case '\r': out += attribute ? "&#13;" : "\r"; break;
            case '\t': out += attribute ? "&#9;" : "\t"; break;
            default:
                // Other control characters are not allowed in XML 1.0, not even as references.
                out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
        }
    }
    return out;
}

// Quotes a path for the replay line when the shell would split or expand it.
std::string shell_quote(const std::string& text) {
    const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
               std::string_view("/._-+,:@%=").find(c) != std::string_view::npos;
    });
    if (plain) {
        return text;
    }
    std::string out = "'";
    for (const char c : text) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

std::uint64_t faults_total(const ScenarioResult& r) {
    return std::accumulate(r.faults.begin(), r.faults.end(), std::uint64_t{0},
                           [](std::uint64_t sum, const auto& entry) { return sum + entry.second; });
}

std::string counts_text(const std::map<std::string, std::uint64_t>& counts) {
    std::string out;
    for (const auto& [name, count] : counts) {
        out += (out.empty() ? "" : ", ") + name + " " + std::to_string(count);
    }
    return out.empty() ? "none" : out;
}

// "I3 BROKEN (2 violations)" / "I1 held (40 checks)", plus the expectation when it is inverted.
std::string verdict(const InvariantResult& inv) {
    std::string out = inv.name + (inv.held() ? " held (" + plural(inv.checks, "check") + ")"
                                             : " BROKEN (" + plural(inv.violation_count, "violation") + ")");
    if (inv.expected_broken) {
        out += inv.held() ? " (expected to break: held)" : " (expected to break: broke)";
    }
    return out;
}

std::string violation_line(const Violation& v) {
    return "at " + fixed(v.at_ms, 1) + " ms: " + v.message;
}

// The first violations kept, and how many more there were.
std::vector<std::string> violation_lines(const InvariantResult& inv) {
    std::vector<std::string> lines;
    const std::size_t shown = std::min(inv.violations.size(), kShownViolations);
    for (std::size_t i = 0; i < shown; ++i) {
        lines.push_back(violation_line(inv.violations[i]));
    }
    if (inv.violation_count > shown) {
        lines.push_back("... and " + std::to_string(inv.violation_count - shown) + " more");
    }
    return lines;
}

nlohmann::json percentiles_json(const Percentiles& p) {
    return {{"samples", p.samples}, {"p50", p.p50}, {"p99", p.p99}, {"max", p.max}};
}

nlohmann::json scenario_json(const ScenarioResult& r) {
    nlohmann::json invariants = nlohmann::json::array();
    for (const auto& inv : r.invariants) {
        nlohmann::json violations = nlohmann::json::array();
        for (const auto& v : inv.violations) {
            violations.push_back({{"at_ms", v.at_ms}, {"message", valid_utf8(v.message)}});
        }
        invariants.push_back({{"name", inv.name},
                              {"summary", invariant_summary(inv.name)},
                              {"checks", inv.checks},
                              {"held", inv.held()},
                              {"expected_broken", inv.expected_broken},
                              {"passed", inv.passed()},
                              {"violation_count", inv.violation_count},
                              {"violations", std::move(violations)}});
    }
    nlohmann::json expectation_failures = nlohmann::json::array();
    for (const auto& failure : r.expectation_failures) {
        expectation_failures.push_back(valid_utf8(failure));
    }
    nlohmann::json ops = nlohmann::json::array();
    for (const auto& op : r.ops) {
        ops.push_back({{"start_ms", op.start_ms},
                       {"end_ms", op.end_ms},
                       {"actor", valid_utf8(op.actor)},
                       {"op", valid_utf8(op.op)},
                       {"outcome", to_string(op.outcome)},
                       {"detail", valid_utf8(op.detail)}});
    }
    return {{"scenario", r.scenario},
            {"file", valid_utf8(r.file)},
            {"seed", r.seed},
            {"passed", r.passed()},
            {"duration_sec", r.duration_sec},
            {"setup_failed", r.setup_failed},
            {"setup_error", valid_utf8(r.setup_error)},
            {"matches_started", r.matches_started},
            {"matches_ended", r.matches_ended},
            {"match_status", r.match_status},
            {"faults", r.faults},
            {"ops_ok", r.ops_ok},
            {"ops_fail", r.ops_fail},
            {"ops_unknown", r.ops_unknown},
            {"clients_launched", r.clients_launched},
            {"server_restarts", r.server_restarts},
            {"launch_latency_ms", percentiles_json(r.launch_latency_ms)},
            {"lobby_rtt_ms", percentiles_json(r.lobby_rtt_ms)},
            {"lobby_rtt_abuse_ms", percentiles_json(r.lobby_rtt_abuse_ms)},
            {"invariants", std::move(invariants)},
            {"expectation_failures", std::move(expectation_failures)},
            {"ops", std::move(ops)},
            {"schedule", r.schedule},
            {"matches", r.matches}};
}

}  // namespace

bool ScenarioResult::passed() const {
    return !setup_failed && expectation_failures.empty() &&
           std::all_of(invariants.begin(), invariants.end(), [](const InvariantResult& inv) { return inv.passed(); });
}

Percentiles percentiles(std::vector<double> samples) {
    // NaN has no place in a sort order; an unmeasured sample is no sample.
    std::erase_if(samples, [](double v) { return std::isnan(v); });
    Percentiles out;
    if (samples.empty()) {
        return out;
    }
    std::sort(samples.begin(), samples.end());
    const std::size_t n = samples.size();
    // Nearest rank: the smallest sample with at least p% of samples at or below it.
    const auto rank = [&](std::size_t p) { return samples[std::max<std::size_t>(1, (p * n + 99) / 100) - 1]; };
    out.samples = n;
    out.p50 = rank(50);
    out.p99 = rank(99);
    out.max = samples.back();
    return out;
}

const char* to_string(OpOutcome outcome) {
    switch (outcome) {
        case OpOutcome::Ok: return "ok";
        case OpOutcome::Fail: return "fail";
        case OpOutcome::Unknown: return "unknown";
    }
    return "unknown";
}

std::string summary_table(const std::vector<ScenarioResult>& results) {
    std::vector<std::vector<std::string>> rows = {{"scenario", "seed", "result", "matches", "faults",
                                                   "ops ok/fail/unknown", "launch p50/p99 ms",
                                                   "lobby RTT p50/p99 ms", "abuse RTT p99 ms"}};
    for (const auto& r : results) {
        rows.push_back({r.scenario, std::to_string(r.seed), r.passed() ? "PASS" : "FAIL",
                        std::to_string(r.matches_ended) + "/" + std::to_string(r.matches_started),
                        std::to_string(faults_total(r)),
                        std::to_string(r.ops_ok) + "/" + std::to_string(r.ops_fail) + "/" +
                            std::to_string(r.ops_unknown),
                        ms(r.launch_latency_ms, &Percentiles::p50) + "/" + ms(r.launch_latency_ms, &Percentiles::p99),
                        ms(r.lobby_rtt_ms, &Percentiles::p50) + "/" + ms(r.lobby_rtt_ms, &Percentiles::p99),
                        ms(r.lobby_rtt_abuse_ms, &Percentiles::p99)});
    }
    std::vector<std::size_t> widths(rows.front().size(), 0);
    for (const auto& row : rows) {
        for (std::size_t c = 0; c < row.size(); ++c) {
            widths[c] = std::max(widths[c], row[c].size());
        }
    }
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t c = 0; c < row.size(); ++c) {
            // Names and verdicts read left-aligned, numbers right-aligned.
            const std::string pad(widths[c] - row[c].size(), ' ');
            line += (c == 0 ? "" : "  ") + (c == 0 || c == 2 ? row[c] + pad : pad + row[c]);
        }
        out += line.substr(0, line.find_last_not_of(' ') + 1) + "\n";
    }

    std::size_t passed = 0;
    for (const auto& r : results) {
        passed += r.passed() ? 1 : 0;
        out += "\n" + r.scenario + ": " + (r.passed() ? "PASS" : "FAIL") + " (seed " + std::to_string(r.seed) +
               ", " + fixed(r.duration_sec, 1) + " s, " + r.file + ")\n";
        if (r.setup_failed) {
            out += "  FAIL  setup: " + r.setup_error + "\n";
        }
        for (const auto& inv : r.invariants) {
            out += std::string(inv.passed() ? "  ok    " : "  FAIL  ") + verdict(inv);
            if (!inv.held() && !inv.expected_broken) {
                out += ": " + invariant_summary(inv.name) + "\n";
                for (const auto& line : violation_lines(inv)) {
                    out += "          " + line + "\n";
                }
            } else {
                out += "\n";
            }
        }
        for (const auto& failure : r.expectation_failures) {
            out += "  FAIL  expectation: " + failure + "\n";
        }
        out += "  match status: " + counts_text(r.match_status) + "\n";
        out += "  faults: " + counts_text(r.faults) + "\n";
        out += "  clients launched " + std::to_string(r.clients_launched) + ", server restarts " +
               std::to_string(r.server_restarts) + "\n";
        if (!r.passed()) {
            out += "  replay with: gamestore-sim run " + shell_quote(r.file) + " --seed " + std::to_string(r.seed) +
                   "\n";
        }
    }
    out += "\n" + std::to_string(passed) + " of " + plural(results.size(), "scenario") + " passed\n";
    return out;
}

nlohmann::json to_json(const std::vector<ScenarioResult>& results) {
    nlohmann::json scenarios = nlohmann::json::array();
    for (const auto& r : results) {
        scenarios.push_back(scenario_json(r));
    }
    const bool passed = std::all_of(results.begin(), results.end(), [](const auto& r) { return r.passed(); });
    return {{"passed", passed}, {"scenarios", std::move(scenarios)}};
}

std::string to_junit(const std::vector<ScenarioResult>& results) {
    struct Case {
        std::string name;
        std::string failure;  // message attribute; empty: passed
        std::string body;     // failure text
        bool skipped = false;
    };
    std::string suites;
    std::size_t total_tests = 0, total_failures = 0;
    double total_time = 0;
    for (const auto& r : results) {
        std::vector<Case> cases;
        for (const auto& inv : r.invariants) {
            Case c{inv.name + " " + invariant_summary(inv.name), "", "", r.setup_failed};
            if (!inv.passed() && !r.setup_failed) {
                c.failure = inv.held() ? "expected " + inv.name + " to break, but it held (" +
                                             plural(inv.checks, "check") + ")"
                                       : inv.name + " broken: " + plural(inv.violation_count, "violation");
                for (const auto& line : violation_lines(inv)) {
                    c.body += line + "\n";
                }
            }
            cases.push_back(std::move(c));
        }
        Case expectations{"expectations", "", "", r.setup_failed};
        if (!r.expectation_failures.empty() && !r.setup_failed) {
            expectations.failure = plural(r.expectation_failures.size(), "expectation") + " not met";
            for (const auto& failure : r.expectation_failures) {
                expectations.body += failure + "\n";
            }
        }
        cases.push_back(std::move(expectations));
        Case setup{"setup", "", "", false};
        if (r.setup_failed) {
            setup.failure = "setup failed";
            setup.body = r.setup_error + "\n";
        }
        cases.push_back(std::move(setup));

        const auto failures =
            std::count_if(cases.begin(), cases.end(), [](const Case& c) { return !c.failure.empty(); });
        total_tests += cases.size();
        total_failures += static_cast<std::size_t>(failures);
        total_time += r.duration_sec;
        suites += "  <testsuite name=\"" + xml_escape(r.scenario, true) + "\" tests=\"" + std::to_string(cases.size()) +
                  "\" failures=\"" + std::to_string(failures) + "\" errors=\"0\" time=\"" +
                  fixed(r.duration_sec, 3) + "\">\n";
        suites += "    <properties>\n";
        suites += "      <property name=\"seed\" value=\"" + std::to_string(r.seed) + "\"/>\n";
        suites += "      <property name=\"file\" value=\"" + xml_escape(r.file, true) + "\"/>\n";
        suites += "    </properties>\n";
        const std::string classname = xml_escape("gamestore-sim." + r.scenario, true);
        for (const auto& c : cases) {
            suites += "    <testcase classname=\"" + classname + "\" name=\"" + xml_escape(c.name, true) + "\"";
            if (c.failure.empty() && !c.skipped) {
                suites += "/>\n";
                continue;
            }
            suites += ">\n";
            if (!c.failure.empty()) {
                suites += "      <failure message=\"" + xml_escape(c.failure, true) + "\">" +
                          xml_escape(c.body, false) + "</failure>\n";
            } else {
                suites += "      <skipped message=\"setup failed\"/>\n";
            }
            suites += "    </testcase>\n";
        }
        suites += "  </testsuite>\n";
    }
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"gamestore-sim\" tests=\"" +
           std::to_string(total_tests) + "\" failures=\"" + std::to_string(total_failures) + "\" time=\"" +
           fixed(total_time, 3) + "\">\n" + suites + "</testsuites>\n";
}

}  // namespace gamestore::sim
