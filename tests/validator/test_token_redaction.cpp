// A token found in a process's argv is reported, but never repeated: the
// table, the JSON and the JUnit XML show it redacted (6 characters + "…").
#include <catch2/catch.hpp>

#include "platform/protocol/redact.hpp"
#include "tests/support/process.hpp"
#include "tests/validator/validator_runner.hpp"

namespace gamestore::testing {
namespace {

namespace fs = std::filesystem;

// Otherwise a well-behaved game (the Python SDK example), but before it
// starts it puts its report token on a helper's command line, and tells the
// test which token that was.
constexpr const char* kLeakyServer = R"py(#!/usr/bin/env python3
import os
import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
token = os.environ["REPORT_TOKEN"]
(here / "leaked_token").write_text(token)
# Same process group: the platform's stop reaches it.
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "--token=" + token])
os.execv(sys.executable, [sys.executable, str(here / "server.py")])
)py";

fs::path make_leaky_package(const fs::path& dir) {
    fs::create_directories(dir);
    const auto sdk = source_dir() / "sdk" / "python";
    for (const char* file : {"server.py", "client.py"}) {
        fs::copy_file(sdk / "examples" / file, dir / file);
    }
    fs::copy_file(sdk / "gamestore_sdk.py", dir / "gamestore_sdk.py");
    write_file(dir / "leaky_server.py", kLeakyServer);
    write_file(dir / "manifest.json", R"({"game_name": "Leaky", "version": "1.0.0", "type": "CLI",
  "min_players": 2, "max_players": 2,
  "server": {"command": "python3 leaky_server.py", "heartbeat_interval_sec": 1},
  "client": {"command": "python3 client.py"},
  "healthcheck": {"tcp_port": "{port}", "timeout_sec": 10}})");
    return dir;
}

}  // namespace

TEST_CASE("a token in a process's argv fails no_tokens_in_argv and is shown redacted", "[validator][tokens]") {
    TempDir temp("validator-token-leak");
    // Two copies: each run leaks its own token into its own package dir
    // (unconfined: in the sandbox the write would land in the game's
    // private copy, out of this test's reach).
    const auto for_json = make_leaky_package(temp.path() / "json");
    const auto for_table = make_leaky_package(temp.path() / "table");
    const auto junit = temp.path() / "results.xml";
    const auto results = run_validators(
        {{for_json.string(), "--json", "--junit", junit.string(), "--grace", "1",
          "--heartbeat-cycles", "2", "--sandbox", "none"},
         {for_table.string(), "--grace", "1", "--heartbeat-cycles", "2", "--sandbox", "none"}},
        2);

    const auto& json_run = results[0];
    {
        INFO(json_run.describe());
        REQUIRE(fs::exists(for_json / "leaked_token"));
        const auto token = read_file(for_json / "leaked_token");
        REQUIRE(token.size() == 32);
        const auto redacted = protocol::redact_token(token);
        REQUIRE(redacted == token.substr(0, 6) + "\xE2\x80\xA6");

        CHECK(json_run.exit_code == 1);
        REQUIRE(json_run.json.is_object());
        // The leak is the only problem of an otherwise conforming game.
        CHECK(json_run.checks_with("fail") == std::set<std::string>{"no_tokens_in_argv"});
        std::string leak;
        for (const auto& check : json_run.json["checks"]) {
            if (check.value("name", "") == "no_tokens_in_argv") {
                leak = check.value("message", "");
                for (const auto& detail : check["details"]) leak += "\n" + detail.get<std::string>();
            }
        }
        CHECK(leak.find("the report_token is in the argv of pid ") != std::string::npos);
        CHECK(leak.find("--token=" + redacted) != std::string::npos);
        // Nowhere in the output, whole: not in stdout, stderr or the XML.
        CHECK(json_run.output.find(token) == std::string::npos);
        CHECK(json_run.errors.find(token) == std::string::npos);
        CHECK(json_run.output.find(token.substr(0, 12)) == std::string::npos);

        const auto xml = read_file(junit);
        INFO(xml);
        CHECK(xml.find("name=\"no_tokens_in_argv\"") != std::string::npos);
        CHECK(xml.find("--token=" + redacted) != std::string::npos);
        CHECK(xml.find(token) == std::string::npos);
        CHECK(xml.find(token.substr(0, 12)) == std::string::npos);
    }

    const auto& table_run = results[1];
    {
        INFO(table_run.describe());
        REQUIRE(fs::exists(for_table / "leaked_token"));
        const auto token = read_file(for_table / "leaked_token");
        REQUIRE(token.size() == 32);
        CHECK(table_run.exit_code == 1);
        CHECK(table_run.output.find("no_tokens_in_argv") != std::string::npos);
        CHECK(table_run.output.find("--token=" + protocol::redact_token(token)) != std::string::npos);
        CHECK(table_run.output.find(token) == std::string::npos);
        CHECK(table_run.output.find(token.substr(0, 12)) == std::string::npos);
        CHECK(table_run.errors.find(token) == std::string::npos);
    }
}

}  // namespace gamestore::testing
