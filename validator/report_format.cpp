// The three output formats of docs/VALIDATOR.md: a table for people, JSON
// for scripts, JUnit XML for CI dashboards.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "validator/check_book.hpp"
#include "validator/check_names.hpp"
#include "validator/validator.hpp"

namespace gamestore::validator {

namespace {

std::string upper(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return out;
}

std::string pad(std::string text, std::size_t width) {
    if (text.size() < width) text.append(width - text.size(), ' ');
    return text;
}

std::string title(const ValidationReport& report) {
    std::string out = report.package;
    if (!report.game_name.empty()) {
        out += " (" + report.game_name + (report.version.empty() ? "" : " " + report.version) + ")";
    }
    return out;
}

std::string summary_line(const ValidationReport& report) {
    const auto s = report.summary();
    return std::to_string(report.checks.size()) + " checks: " + std::to_string(s.passed) + " passed, " +
           std::to_string(s.failed) + " failed, " + std::to_string(s.warned) + " warning" +
           (s.warned == 1 ? "" : "s") + ", " + std::to_string(s.skipped) + " skipped";
}

// XML 1.0 text: escaped, and without the control characters XML forbids.
std::string xml(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        switch (ch) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default:
                if (c < 0x20 && ch != '\n' && ch != '\t') {
                    out += '?';
                } else {
                    out += ch;
                }
        }
    }
    return out;
}

bool is_dynamic(std::string_view name) {
    for (const auto dynamic : checks::kDynamicChecks) {
        if (dynamic == name) return true;
    }
    return false;
}

std::string seconds_attr(std::chrono::milliseconds duration) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3f", static_cast<double>(duration.count()) / 1000.0);
    return buffer;
}

}  // namespace

std::string format_table(const ValidationReport& report) {
    std::string out = "validate_game_package: " + title(report) + "\n";
    if (!report.checkable) {
        out += "\ncannot check the package: " + report.fatal_error + "\n";
        out += "\nRESULT: NOT CHECKED (exit 2) in " + format_seconds(report.elapsed) + "\n";
        return out;
    }
    constexpr std::size_t kNameWidth = 32;
    constexpr std::size_t kStatusWidth = 9;
    out += "\n" + pad("CHECK", kNameWidth) + pad("STATUS", kStatusWidth) + "RESULT\n";
    for (const auto& check : report.checks) {
        out += pad(check.name, kNameWidth) + pad(upper(to_string(check.status)), kStatusWidth) + check.message + "\n";
        for (const auto& detail : check.details) {
            out += std::string(kNameWidth + kStatusWidth, ' ') + "- " + detail + "\n";
        }
    }
    if (!report.server_log_tail.empty()) {
        out += "\nlast lines of the game server's output:\n";
        for (const auto& line : report.server_log_tail) {
            out += "  | " + line + "\n";
        }
    }
    if (!report.kept_temp_dir.empty()) {
        out += "\nlogs, match directory and unpacked package kept in " + report.kept_temp_dir.string() + "\n";
    }
    const int code = report.exit_code();
    out += "\n" + summary_line(report) + "\n";
    out += std::string("RESULT: ") + (code == 0 ? "PASS" : "FAIL") + " (exit " + std::to_string(code) + ") in " +
           format_seconds(report.elapsed) + "\n";
    return out;
}

std::string format_json(const ValidationReport& report) {
    nlohmann::json document;
    document["package"] = report.package;
    document["game"] = {{"name", report.game_name}, {"version", report.version}};
    document["checkable"] = report.checkable;
    if (!report.checkable) {
        document["error"] = report.fatal_error;
    }
    auto checks = nlohmann::json::array();
    for (const auto& check : report.checks) {
        checks.push_back({{"name", check.name},
                          {"status", std::string(to_string(check.status))},
                          {"message", check.message},
                          {"details", check.details},
                          {"duration_ms", check.duration.count()}});
    }
    document["checks"] = std::move(checks);
    const auto s = report.summary();
    document["summary"] = {{"passed", s.passed},
                           {"failed", s.failed},
                           {"warned", s.warned},
                           {"skipped", s.skipped},
                           {"exit_code", report.exit_code()}};
    if (!report.match_id.empty()) {
        document["match_id"] = report.match_id;
    }
    document["server_log_tail"] = report.server_log_tail;
    if (!report.kept_temp_dir.empty()) {
        document["temp_dir"] = report.kept_temp_dir.string();
    }
    document["elapsed_ms"] = report.elapsed.count();
    // Game output and manifest text may hold invalid UTF-8: replace, never throw.
    return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string format_junit(const ValidationReport& report) {
    const auto s = report.summary();
    const std::string suite = "validate_game_package: " + title(report);
    const std::string classname =
        "validate_game_package." + (report.game_name.empty() ? std::string("package") : report.game_name);
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    if (!report.checkable) {
        out += "<testsuites name=\"validate_game_package\" tests=\"1\" failures=\"0\" errors=\"1\" time=\"" +
               seconds_attr(report.elapsed) + "\">\n";
        out += "  <testsuite name=\"" + xml(suite) + "\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"" +
               seconds_attr(report.elapsed) + "\">\n";
        out += "    <testcase classname=\"" + xml(classname) + "\" name=\"package\" time=\"" +
               seconds_attr(report.elapsed) + "\">\n";
        out += "      <error message=\"" + xml(report.fatal_error) + "\"/>\n";
        out += "    </testcase>\n  </testsuite>\n</testsuites>\n";
        return out;
    }
    const std::string counts = "tests=\"" + std::to_string(report.checks.size()) + "\" failures=\"" +
                               std::to_string(s.failed) + "\" errors=\"0\"";
    out += "<testsuites name=\"validate_game_package\" " + counts + " time=\"" + seconds_attr(report.elapsed) +
           "\">\n";
    out += "  <testsuite name=\"" + xml(suite) + "\" " + counts + " skipped=\"" + std::to_string(s.skipped) +
           "\" time=\"" + seconds_attr(report.elapsed) + "\">\n";
    for (const auto& check : report.checks) {
        out += "    <testcase classname=\"" + xml(classname) + "\" name=\"" + xml(check.name) + "\" time=\"" +
               seconds_attr(check.duration) + "\"";
        std::string body;
        std::string details;
        for (const auto& detail : check.details) {
            details += detail + "\n";
        }
        switch (check.status) {
            case CheckStatus::Pass:
                break;
            case CheckStatus::Fail:
                body = "      <failure message=\"" + xml(check.message) + "\">" + xml(details) + "</failure>\n";
                break;
            case CheckStatus::Skipped:
                body = "      <skipped message=\"" + xml(check.message) + "\"/>\n";
                break;
            case CheckStatus::Warn:
                body = "      <system-out>" + xml("WARN: " + check.message + "\n" + details) + "</system-out>\n";
                break;
        }
        if (check.status == CheckStatus::Fail && is_dynamic(check.name) && !report.server_log_tail.empty()) {
            std::string log;
            for (const auto& line : report.server_log_tail) log += line + "\n";
            body += "      <system-err>" + xml(log) + "</system-err>\n";
        }
        out += body.empty() ? "/>\n" : ">\n" + body + "    </testcase>\n";
    }
    out += "  </testsuite>\n</testsuites>\n";
    return out;
}

}  // namespace gamestore::validator
