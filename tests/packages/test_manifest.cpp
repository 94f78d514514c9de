#include "platform/packages/manifest.hpp"

#include "platform/packages/command_template.hpp"
#include "tests/packages/zip_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

using namespace gamestore::packages;
using gamestore::packages::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json base_manifest() {
    return json::parse(R"({
        "game_name": "Tiny",
        "version": "1.0.0",
        "type": "CLI",
        "max_players": 2,
        "server": {"command": "python3 server.py --port {port}"},
        "client": {"command": "python3 client.py --host {host} --port {port}"},
        "healthcheck": {"tcp_port": "{port}", "timeout_sec": 10}
    })");
}

// The messages of all issues at `path`.
std::vector<std::string> issues_at(const ManifestResult& result, const std::string& path) {
    std::vector<std::string> out;
    for (const auto& issue : result.issues) {
        if (issue.path == path) {
            out.push_back(issue.message);
        }
    }
    return out;
}

bool has_warning(const ManifestResult& result, const std::string& path) {
    return std::any_of(result.warnings.begin(), result.warnings.end(),
                       [&](const ManifestIssue& w) { return w.path == path; });
}

std::string all_issues(const ManifestResult& result) {
    std::string out;
    for (const auto& issue : result.issues) {
        out += format_issue(issue) + "\n";
    }
    return out;
}

// Parses `doc` and expects exactly one issue, at `path`, containing `text`.
void expect_single_issue(const json& doc, const std::string& path, const std::string& text) {
    const auto result = parse_manifest_json(doc);
    INFO(doc.dump());
    INFO(all_issues(result));
    CHECK_FALSE(result.manifest.has_value());
    REQUIRE(result.issues.size() == 1);
    CHECK(result.issues.front().path == path);
    CHECK_THAT(result.issues.front().message, Catch::Contains(text));
}

}  // namespace

TEST_CASE("prototype-format Wordle manifest parses with its defaults", "[manifest]") {
    const auto result =
        load_manifest(fs::path(GAMESTORE_PACKAGES_TEST_DATA) / "wordle_manifest.json");
    INFO(all_issues(result));
    REQUIRE(result.ok());
    CHECK(result.warnings.empty());
    const Manifest& m = *result.manifest;
    CHECK(m.game_name == "Wordle");
    CHECK(m.version == "1.0.0");
    CHECK(m.type == GameType::Cli);
    CHECK(m.max_players == 2);
    CHECK(m.min_players == 2);
    CHECK(m.protocol_version == 1);
    CHECK(m.startup_timeout_sec == 10.0);
    CHECK(m.heartbeat_interval_sec == 5.0);
    CHECK(m.healthcheck.declared);
    CHECK(m.healthcheck.tcp_port == "{port}");
    CHECK(m.server.argv.size() == 16);
    CHECK(m.server.argv[7] == "{p2}");
    CHECK(m.server.env ==
          std::vector<std::pair<std::string, std::string>>{{"REPORT_TOKEN", "{report_token}"}});
    CHECK(m.client.env ==
          std::vector<std::pair<std::string, std::string>>{{"CLIENT_TOKEN", "{client_token}"}});
    CHECK(m.server.cwd.empty());
}

TEST_CASE("prototype-format BigTwo manifest parses with its overrides", "[manifest]") {
    const auto result =
        load_manifest(fs::path(GAMESTORE_PACKAGES_TEST_DATA) / "bigtwo_manifest.json");
    INFO(all_issues(result));
    REQUIRE(result.ok());
    const Manifest& m = *result.manifest;
    CHECK(m.type == GameType::Cli);
    CHECK(to_string(m.type) == "CLI");  // "cli" accepted and normalised
    CHECK(m.version == "1.2.0-beta.1");
    CHECK(m.max_players == 4);
    CHECK(m.min_players == 4);
    CHECK(m.startup_timeout_sec == 15.0);  // defaults to healthcheck.timeout_sec
    CHECK(m.heartbeat_interval_sec == 2.0);
    // A number in env becomes a string.
    CHECK(std::find(m.server.env.begin(), m.server.env.end(),
                    std::pair<std::string, std::string>{"BIGTWO_DECKS", "1"}) !=
          m.server.env.end());
}

TEST_CASE("defaults and tolerant forms", "[manifest]") {
    SECTION("a single-player game defaults min_players to 1") {
        json doc = base_manifest();
        doc["max_players"] = 1;
        const auto result = parse_manifest_json(doc);
        REQUIRE(result.ok());
        CHECK(result.manifest->min_players == 1);
    }
    SECTION("missing healthcheck is a warning with defaults") {
        json doc = base_manifest();
        doc.erase("healthcheck");
        const auto result = parse_manifest_json(doc);
        REQUIRE(result.ok());
        CHECK(has_warning(result, "healthcheck"));
        CHECK_FALSE(result.manifest->healthcheck.declared);
        CHECK(result.manifest->healthcheck.tcp_port == "{port}");
        CHECK(result.manifest->healthcheck.timeout_sec == 10.0);
        CHECK(result.manifest->startup_timeout_sec == 10.0);
    }
    SECTION("explicit startup_timeout wins over the healthcheck timeout") {
        json doc = base_manifest();
        doc["server"]["startup_timeout"] = 2.5;
        doc["healthcheck"]["timeout_sec"] = 30;
        const auto result = parse_manifest_json(doc);
        REQUIRE(result.ok());
        CHECK(result.manifest->startup_timeout_sec == 2.5);
        CHECK(result.manifest->healthcheck.timeout_sec == 30.0);
    }
    SECTION("integer healthcheck port and optional host") {
        json doc = base_manifest();
        doc["healthcheck"]["tcp_port"] = 7000;
        doc["healthcheck"]["host"] = "{host}";
        const auto result = parse_manifest_json(doc);
        REQUIRE(result.ok());
        CHECK(result.manifest->healthcheck.tcp_port == "7000");
        CHECK(result.manifest->healthcheck.host == "{host}");
    }
    SECTION("unknown fields are warnings") {
        json doc = base_manifest();
        doc["author"] = "me";
        doc["server"]["restart"] = true;
        const auto result = parse_manifest_json(doc);
        REQUIRE(result.ok());
        CHECK(has_warning(result, "author"));
        CHECK(has_warning(result, "server.restart"));
    }
    SECTION("GUI type, 2.0 as an integer, cwd normalised") {
        json doc = base_manifest();
        doc["type"] = "Gui";
        doc["max_players"] = 4.0;
        doc["server"]["cwd"] = "./server/";
        const auto result = parse_manifest_json(doc);
        INFO(all_issues(result));
        REQUIRE(result.ok());
        CHECK(result.manifest->type == GameType::Gui);
        CHECK(result.manifest->max_players == 4);
        CHECK(result.manifest->server.cwd == "server/");
    }
    SECTION("literal braces and tokens in env are fine") {
        json doc = base_manifest();
        doc["server"]["command"] = "python3 server.py --fmt '{{json}}'";
        doc["server"]["env"] = {{"MY_TOKEN", "{client_token}"}, {"RT", "{report_token}"}};
        const auto result = parse_manifest_json(doc);
        INFO(all_issues(result));
        REQUIRE(result.ok());
        CHECK(result.manifest->server.argv.back() == "{{json}}");
    }
    SECTION("{player_name} in the server command is a warning") {
        json doc = base_manifest();
        doc["server"]["command"] = "python3 server.py --name {player_name}";
        const auto result = parse_manifest_json(doc);
        REQUIRE(result.ok());
        CHECK(has_warning(result, "server.command[3]"));
    }
}

TEST_CASE("every field's issue is reported at its path", "[manifest]") {
    struct Case {
        std::string pointer;  // JSON pointer to set ("" = erase `erase`)
        json value;
        std::string path;
        std::string text;
    };
    const std::vector<Case> cases = {
        {"/game_name", "a/b", "game_name", "'/'"},
        {"/game_name", "", "game_name", "must not be empty"},
        {"/game_name", std::string(65, 'x'), "game_name", "at most 64"},
        {"/game_name", "bad\x1b[2Jname", "game_name", "control characters"},
        {"/game_name", " padded", "game_name", "whitespace"},
        {"/game_name", 42, "game_name", "must be a string"},
        {"/version", "1.0", "version", "not a valid semantic version"},
        {"/version", "v1.0.0", "version", "semantic version"},
        {"/version", "01.0.0", "version", "leading zero"},
        {"/type", "TUI", "type", "\"CLI\" or \"GUI\""},
        {"/max_players", 0, "max_players", "between 1 and 64"},
        {"/max_players", 65, "max_players", "between 1 and 64"},
        {"/max_players", "4", "max_players", "must be an integer"},
        {"/max_players", 2.5, "max_players", "must be an integer"},
        {"/min_players", 3, "min_players", "must not exceed max_players"},
        {"/min_players", 0, "min_players", "at least 1"},
        {"/description", std::string(4001, 'd'), "description", "at most 4000"},
        {"/description", "ok\x07", "description", "control characters"},
        {"/description", 5, "description", "must be a string"},
        {"/protocol_version", 2, "protocol_version", "not supported"},
        {"/server", "python3 server.py", "server", "must be an object"},
        {"/server/command", "", "server.command", "must not be empty"},
        {"/server/command", "python3 'server.py", "server.command",
         "unterminated single quote at position 8"},
        {"/server/command", json::array({"python3", 5}), "server.command[1]", "must be a string"},
        {"/server/command", 7, "server.command", "must be a string"},
        {"/server/command", json::array({"", "x"}), "server.command[0]", "program name"},
        {"/server/env", json::array({"A=1"}), "server.env", "must be an object"},
        {"/server/env", {{"A", nullptr}}, "server.env.A", "must be a string"},
        {"/server/env", {{"A=B", "x"}}, "server.env.A=B", "not a valid environment variable name"},
        {"/server/env", {{"PORT", "1234"}}, "server.env.PORT", "set by the platform"},
        {"/server/env", {{"MATCH_DIR", "/tmp"}}, "server.env.MATCH_DIR", "set by the platform"},
        {"/server/env",
         {{"HEARTBEAT_INTERVAL_SEC", "1"}},
         "server.env.HEARTBEAT_INTERVAL_SEC",
         "set by the platform"},
        {"/server/env",
         {{"REPORT_TOKEN", "{client_token}"}},
         "server.env.REPORT_TOKEN",
         "set by the platform"},
        {"/client/env", {{"PLAYER_NAME", "{p1}"}}, "client.env.PLAYER_NAME", "set by the platform"},
        {"/client/env",
         {{"RT", "{report_token}"}},
         "client.env.RT",
         "not available to the game client"},
        {"/server/startup_timeout", 0, "server.startup_timeout", "greater than 0"},
        {"/server/startup_timeout", -1, "server.startup_timeout", "greater than 0"},
        {"/server/startup_timeout", "10", "server.startup_timeout", "must be a number"},
        {"/server/startup_timeout", 100000, "server.startup_timeout", "at most 3600"},
        {"/server/heartbeat_interval_sec", 0, "server.heartbeat_interval_sec", "greater than 0"},
        {"/server/cwd", "../elsewhere", "server.cwd", "'..'"},
        {"/server/cwd", "/abs", "server.cwd", "relative"},
        {"/client/cwd", 3, "client.cwd", "must be a string"},
        {"/healthcheck", "yes", "healthcheck", "must be an object"},
        {"/healthcheck/tcp_port", "abc", "healthcheck.tcp_port", "neither a template"},
        {"/healthcheck/tcp_port", 70000, "healthcheck.tcp_port", "1..65535"},
        {"/healthcheck/tcp_port", true, "healthcheck.tcp_port", "must be a template string"},
        {"/healthcheck/tcp_port", "{report_token}", "healthcheck.tcp_port", "tokens must travel"},
        {"/healthcheck/timeout_sec", 0, "healthcheck.timeout_sec", "greater than 0"},
        {"/healthcheck/host", 1, "healthcheck.host", "must be a string"},
        {"/healthcheck/host", "{hots}", "healthcheck.host", "unknown placeholder {hots}"},
    };
    for (const auto& c : cases) {
        json doc = base_manifest();
        doc[json::json_pointer(c.pointer)] = c.value;
        expect_single_issue(doc, c.path, c.text);
    }
}

TEST_CASE("missing required fields are each reported", "[manifest]") {
    for (const std::string key :
         {"game_name", "version", "type", "max_players", "server", "client"}) {
        json doc = base_manifest();
        doc.erase(key);
        expect_single_issue(doc, key, "is required");
    }
    json doc = base_manifest();
    doc["client"].erase("command");
    expect_single_issue(doc, "client.command", "is required");
}

TEST_CASE("placeholder errors", "[manifest]") {
    SECTION("{p3} with max_players 2") {
        json doc = base_manifest();
        doc["server"]["command"] = "python3 server.py --p1 {p1} --p3 {p3}";
        expect_single_issue(doc, "server.command[5]", "{p3} does not exist");
    }
    SECTION("{p3} in env with max_players 2") {
        json doc = base_manifest();
        doc["server"]["env"] = {{"THIRD", "{p3}"}};
        expect_single_issue(doc, "server.env.THIRD", "{p3} does not exist");
    }
    SECTION("unknown placeholder") {
        json doc = base_manifest();
        doc["client"]["command"] = "python3 client.py --user {username}";
        expect_single_issue(doc, "client.command[3]", "unknown placeholder {username}");
    }
    SECTION("bad brace syntax") {
        json doc = base_manifest();
        doc["client"]["command"] = "python3 client.py --x {port";
        expect_single_issue(doc, "client.command[3]", "never closed");
        doc["client"]["command"] = "python3 client.py {port:d}";
        expect_single_issue(doc, "client.command[2]", "format spec");
    }
    SECTION("client token in the server command") {
        json doc = base_manifest();
        doc["server"]["command"] = "python3 server.py --token {client_token}";
        expect_single_issue(doc, "server.command[3]", "tokens must travel by env or file");
    }
    SECTION("report token embedded in a server argument") {
        json doc = base_manifest();
        doc["server"]["command"] = "python3 server.py --report_token={report_token}";
        expect_single_issue(doc, "server.command[2]", "REPORT_TOKEN");
    }
    SECTION("client token in the client command") {
        json doc = base_manifest();
        doc["client"]["command"] = json::array({"python3", "client.py", "{client_token}"});
        expect_single_issue(doc, "client.command[2]", "CLIENT_TOKEN_PATH");
    }
    SECTION("report token in the client command") {
        json doc = base_manifest();
        doc["client"]["command"] = "python3 client.py {report_token}";
        expect_single_issue(doc, "client.command[2]", "not available to the game client");
    }
    SECTION("token paths in argv are fine") {
        json doc = base_manifest();
        doc["server"]["command"] =
            "python3 server.py --token-file {report_token_path} {client_token_path}";
        doc["client"]["command"] = "python3 client.py --token-file {client_token_path}";
        CHECK(parse_manifest_json(doc).ok());
    }
}

TEST_CASE("all issues are reported at once", "[manifest]") {
    json doc = base_manifest();
    doc["version"] = "1";
    doc["type"] = "TV";
    doc["max_players"] = 3;
    doc["server"]["command"] = "python3 server.py {p4} {client_token}";
    doc["client"].erase("command");
    doc["healthcheck"]["timeout_sec"] = -5;
    const auto result = parse_manifest_json(doc);
    INFO(all_issues(result));
    CHECK_FALSE(result.manifest.has_value());
    CHECK(result.issues.size() == 6);
    CHECK(issues_at(result, "version").size() == 1);
    CHECK(issues_at(result, "type").size() == 1);
    CHECK(issues_at(result, "server.command[2]").size() == 1);
    CHECK(issues_at(result, "server.command[3]").size() == 1);
    CHECK(issues_at(result, "client.command").size() == 1);
    CHECK(issues_at(result, "healthcheck.timeout_sec").size() == 1);
}

TEST_CASE("JSON-level problems", "[manifest]") {
    auto result = parse_manifest("{\"game_name\": ");
    REQUIRE(result.issues.size() == 1);
    CHECK(result.issues.front().path.empty());
    CHECK_THAT(result.issues.front().message, Catch::Contains("not valid JSON"));

    result = parse_manifest("[1,2]");
    REQUIRE(result.issues.size() == 1);
    CHECK_THAT(result.issues.front().message, Catch::Contains("must be a JSON object"));

    // A number beyond a double's range is refused by the JSON reader with
    // another exception than a syntax error; it is an issue all the same
    // (found by tests/fuzz/fuzz_manifest).
    for (const char* text :
         {R"({"max_players": 1e400})", R"({"server": {"startup_timeout": -1e999}})"}) {
        INFO(text);
        REQUIRE_NOTHROW(result = parse_manifest(text));
        REQUIRE(result.issues.size() == 1);
        CHECK(result.issues.front().path.empty());
        CHECK_THAT(result.issues.front().message, Catch::Contains("number too large"));
        CHECK_FALSE(result.manifest.has_value());
    }

    result = parse_manifest(std::string(kMaxManifestBytes + 1, ' '));
    REQUIRE(result.issues.size() == 1);
    CHECK_THAT(result.issues.front().message, Catch::Contains("limit"));

    result = load_manifest("/nonexistent/manifest.json");
    REQUIRE(result.issues.size() == 1);
    CHECK_THAT(result.issues.front().message, Catch::Contains("cannot read"));

    CHECK(format_issue({"server.command", "must not be empty"}) ==
          "server.command: must not be empty");
    CHECK(format_issue({"", "whole file"}) == "whole file");
}

TEST_CASE("check_referenced_files inspects the unpacked package", "[manifest]") {
    TempDir dir;
    const fs::path root = dir / "pkg";
    testing::write_file(root / "server.py", "print('server')\n");
    testing::write_file(root / "client.py", "print('client')\n");
    testing::write_file(dir / "outside.py", "print('outside')\n");

    auto parse = [](const std::string& server_command, const std::string& client_command) {
        json doc = base_manifest();
        doc["server"]["command"] = server_command;
        doc["client"]["command"] = client_command;
        const auto result = parse_manifest_json(doc);
        INFO(all_issues(result));
        REQUIRE(result.ok());
        return *result.manifest;
    };

    SECTION("interpreter from PATH plus existing scripts") {
        const auto m = parse("python3 server.py --port {port}", "/usr/bin/env python3 client.py");
        CHECK(check_referenced_files(m, root).empty());
    }
    SECTION("a missing script") {
        const auto m = parse("python3 serve.py --port {port}", "python3 client.py");
        const auto issues = check_referenced_files(m, root);
        REQUIRE(issues.size() == 1);
        CHECK(issues[0].path == "server.command[1]");
        CHECK_THAT(issues[0].message, Catch::Contains("'serve.py' does not exist"));
    }
    SECTION("a relative program must exist and be executable") {
        testing::write_file(root / "bin" / "server", "#!/bin/sh\n");
        fs::permissions(root / "bin" / "server", fs::perms(0644));
        const auto m = parse("bin/server --port {port}", "./missing-client");
        auto issues = check_referenced_files(m, root);
        REQUIRE(issues.size() == 2);
        CHECK(issues[0].path == "server.command[0]");
        CHECK_THAT(issues[0].message, Catch::Contains("not executable"));
        CHECK(issues[1].path == "client.command[0]");
        CHECK_THAT(issues[1].message, Catch::Contains("does not exist"));

        fs::permissions(root / "bin" / "server", fs::perms(0755));
        testing::write_file(root / "missing-client", "#!/bin/sh\n");
        fs::permissions(root / "missing-client", fs::perms(0700));
        CHECK(check_referenced_files(m, root).empty());
    }
    SECTION("a directory is not a program") {
        fs::create_directories(root / "bin" / "server");
        const auto m = parse("./bin/server", "python3 client.py");
        const auto issues = check_referenced_files(m, root);
        REQUIRE(issues.size() == 1);
        CHECK_THAT(issues[0].message, Catch::Contains("not a regular file"));
    }
    SECTION("paths escaping the package") {
        const auto m = parse("python3 ../outside.py", "../outside.py");
        const auto issues = check_referenced_files(m, root);
        REQUIRE(issues.size() == 2);
        CHECK(issues[0].path == "server.command[1]");
        CHECK_THAT(issues[0].message, Catch::Contains("outside the package"));
        CHECK(issues[1].path == "client.command[0]");
    }
    SECTION("a symlink pointing outside the package") {
        fs::create_symlink(dir / "outside.py", root / "link.py");
        const auto m = parse("python3 link.py", "python3 client.py");
        const auto issues = check_referenced_files(m, root);
        REQUIRE(issues.size() == 1);
        CHECK_THAT(issues[0].message, Catch::Contains("outside the package"));
    }
    SECTION("cwd is honoured and must exist") {
        json doc = base_manifest();
        doc["server"]["command"] = "python3 main.py";
        doc["server"]["cwd"] = "srv";
        const auto result = parse_manifest_json(doc);
        REQUIRE(result.ok());
        auto issues = check_referenced_files(*result.manifest, root);
        REQUIRE(issues.size() == 1);
        CHECK(issues[0].path == "server.cwd");
        testing::write_file(root / "srv" / "main.py", "");
        CHECK(check_referenced_files(*result.manifest, root).empty());
    }
    SECTION("options, templated and non-file arguments are not treated as files") {
        const auto m =
            parse("python3 -m game.server --config=conf/x.toml --p {port} http://x/y 127.0.0.1",
                  "python3 client.py");
        CHECK(check_referenced_files(m, root).empty());
    }
    SECTION("a missing package directory") {
        const auto m = parse("python3 server.py", "python3 client.py");
        const auto issues = check_referenced_files(m, dir / "nope");
        REQUIRE(issues.size() == 1);
        CHECK_THAT(issues[0].message, Catch::Contains("does not exist"));
    }
}
