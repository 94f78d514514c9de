// The fault matrix: validate_game_package over every fakegame fault profile
// that may run unsandboxed (not the sandbox_only ones), asserting the exact
// set of failing and warning checks that validator/expectations.tsv names for it.
#include <catch2/catch.hpp>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "platform/launch/process_launcher.hpp"
#include "tests/support/process.hpp"
#include "tests/validator/validator_runner.hpp"

namespace gamestore::testing {
namespace {

namespace fs = std::filesystem;

struct Row {
    std::string profile;
    std::vector<std::string> options;
    std::set<std::string> fail;
    std::set<std::string> warn;
    int line = 0;
};

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::string part;
    std::istringstream in(text);
    while (std::getline(in, part, separator)) {
        if (!part.empty() || separator == '\t') parts.push_back(part);
    }
    return parts;
}

std::vector<Row> read_expectations() {
    const auto path = source_dir() / "validator" / "expectations.tsv";
    std::ifstream in(path);
    REQUIRE(in.good());
    std::vector<Row> rows;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty() || line[0] == '#') continue;
        const auto columns = split(line, '\t');
        INFO(path.string() << ":" << number << ": " << line);
        REQUIRE(columns.size() == 4);
        Row row;
        row.profile = columns[0];
        if (columns[1] != "-") row.options = split(columns[1], ' ');
        row.fail = split_names(columns[2]);
        row.warn = split_names(columns[3]);
        row.line = number;
        rows.push_back(std::move(row));
    }
    return rows;
}

const std::set<std::string>& known_checks() {
    static const std::set<std::string> names = {
        "zip_safety", "package_size", "manifest_schema", "manifest_semver", "manifest_players",
        "manifest_placeholders", "manifest_warnings", "no_tokens_in_commands", "referenced_files",
        "started_within_timeout", "server_binds_port", "started_fields", "started_port_echo",
        "handshake_ready_at_started", "handshake_rejects_bad_token", "handshake_rejects_stale_match",
        "handshake_accepts_valid_client", "heartbeat_cadence", "client_handshake", "match_plays_to_end",
        "end_results_schema", "single_terminal_report", "reports_authenticated", "control_plane_hygiene",
        "no_tokens_in_argv", "sigterm_stops_group", "nothing_left_running"};
    return names;
}

std::string names(const std::set<std::string>& set) {
    std::string out;
    for (const auto& name : set) out += (out.empty() ? "" : ",") + name;
    return out.empty() ? "-" : out;
}

}  // namespace

TEST_CASE("every fakegame fault profile has a row in validator/expectations.tsv", "[validator][matrix]") {
    const auto rows = read_expectations();
    std::set<std::string> covered;
    for (const auto& row : rows) {
        covered.insert(row.profile);
        for (const auto& name : row.fail) {
            INFO("expectations.tsv line " << row.line << " names an unknown check");
            CHECK(known_checks().count(name) == 1);
        }
        for (const auto& name : row.warn) {
            INFO("expectations.tsv line " << row.line << " names an unknown check");
            CHECK(known_checks().count(name) == 1);
        }
    }
    const auto table = nlohmann::json::parse(read_file(fakegame_packages_dir() / "profiles.json"));
    REQUIRE(table.contains("profiles"));
    for (const auto& profile : table["profiles"]) {
        const auto name = profile.at("name").get<std::string>();
        if (profile.value("sandbox_only", false)) {
            // The validator runs servers unsandboxed: such a row would let the
            // profile loose on this machine.
            INFO("sandbox-only profile '" << name
                                          << "' must have no row in validator/expectations.tsv");
            CHECK(covered.count(name) == 0);
        } else {
            INFO("fault profile '" << name << "' needs a row in validator/expectations.tsv");
            CHECK(covered.count(name) == 1);
        }
    }
}

TEST_CASE("validate_game_package fails exactly the expected checks for each fault profile", "[validator][matrix]") {
    const auto rows = read_expectations();
    std::vector<std::vector<std::string>> runs;
    for (const auto& row : rows) {
        const auto package = fakegame_packages_dir() / row.profile;
        REQUIRE(fs::is_directory(package));
        std::vector<std::string> args{package.string(), "--json", "--grace", "1"};
        args.insert(args.end(), row.options.begin(), row.options.end());
        runs.push_back(std::move(args));
    }
    // A few at once: each run is mostly waiting (startup and heartbeat
    // intervals), and each has its own ports, temp dir and process tree.
    const auto results = run_validators(runs, 3);

    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& row = rows[i];
        const auto& run = results[i];
        INFO("expectations.tsv line " << row.line << ": " << row.profile << "\n" << run.describe());
        REQUIRE(run.json.is_object());
        CHECK(run.json["checks"].size() == known_checks().size());
        CHECK(names(run.checks_with("fail")) == names(row.fail));
        CHECK(names(run.checks_with("warn")) == names(row.warn));
        CHECK(run.exit_code == (row.fail.empty() ? 0 : 1));
        CHECK(run.json["summary"]["exit_code"] == run.exit_code);
        // Every verdict comes with a sentence.
        for (const auto& check : run.json["checks"]) {
            CHECK(!check.value("message", "").empty());
        }
        // The validator cleaned up after itself: no temp dir, and nothing of
        // the match running (escaped grandchildren included).
        CHECK_FALSE(run.temp_left_behind);
        const auto match_id = run.json.value("match_id", "");
        REQUIRE(!match_id.empty());
        CHECK(launch::processes_with_env_entry("MATCH_ID=" + match_id).empty());
        CHECK(launch::processes_with_env_entry("FAKEGAME_GRANDCHILD_OF=" + match_id).empty());
    }

    // Clients that wait for a player: the match to END is skipped, with the
    // clients' handshakes still checked, and no failure.
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (rows[i].profile != "client-waits-for-player")
            continue;
        const auto& run = results[i];
        INFO(run.describe());
        CHECK(run.exit_code == 0);
        CHECK(run.status_of("match_plays_to_end") == "skipped");
        CHECK(run.status_of("client_handshake") == "pass");
        CHECK(run.status_of("handshake_accepts_valid_client") == "pass");
    }

    // The well-behaved package, in detail.
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (rows[i].profile != "ok") continue;
        const auto& run = results[i];
        INFO(run.describe());
        if (rows[i].options.empty()) {
            std::cout << "validate_game_package on the well-behaved fakegame package: " << run.seconds
                      << " s (elapsed_ms " << run.json.value("elapsed_ms", 0) << ")\n";
            // Without clients only the match's end cannot be judged.
            CHECK(names(run.checks_with("skipped")) ==
                  "client_handshake,end_results_schema,match_plays_to_end,single_terminal_report");
            CHECK(run.status_of("sigterm_stops_group") == "pass");
            CHECK(run.status_of("handshake_accepts_valid_client") == "pass");
        } else {
            std::cout << "validate_game_package --players 2 on the well-behaved fakegame package: " << run.seconds
                      << " s\n";
            for (const char* check : {"client_handshake", "handshake_accepts_valid_client", "match_plays_to_end",
                                      "end_results_schema", "single_terminal_report", "heartbeat_cadence"}) {
                CHECK(run.status_of(check) == "pass");
            }
        }
    }
}

}  // namespace gamestore::testing
