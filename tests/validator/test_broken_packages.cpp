// Hand-made broken packages (manifests and zips), the package-level exit
// codes, and the output formats of validate_game_package.
#include <catch2/catch.hpp>

#include <fstream>

#include "platform/packages/zip.hpp"
#include "tests/packages/zip_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/validator/validator_runner.hpp"

namespace gamestore::testing {
namespace {

namespace fs = std::filesystem;

// A package directory running the fakegame binary with `manifest` (JSON text).
fs::path make_package(const fs::path& dir, const std::string& manifest) {
    fs::create_directories(dir / "bin");
    fs::copy_file(fakegame_packages_dir() / "ok" / "bin" / "fakegame", dir / "bin" / "fakegame");
    write_file(dir / "manifest.json", manifest);
    return dir;
}

std::string manifest_with(const std::string& server_command, const std::string& version = "1.0.0",
                          const std::string& extra = R"("healthcheck": {"tcp_port": "{port}", "timeout_sec": 5})") {
    return R"({"game_name": "broken", "version": ")" + version +
           R"(", "type": "CLI", "min_players": 1, "max_players": 2,
  "server": {"command": ")" + server_command + R"(", "heartbeat_interval_sec": 1},
  "client": {"command": "bin/fakegame client"}, )" + extra + "}";
}

std::string message_of(const ValidatorRun& run, const std::string& check) {
    for (const auto& entry : run.json["checks"]) {
        if (entry.value("name", "") == check) {
            std::string text = entry.value("message", "");
            for (const auto& detail : entry["details"]) text += "\n" + detail.get<std::string>();
            return text;
        }
    }
    return "";
}

}  // namespace

TEST_CASE("broken packages fail the check that names their problem", "[validator][packages]") {
    TempDir temp("validator-broken");
    const auto& t = temp.path();

    const auto token = make_package(t / "token-in-argv", manifest_with("bin/fakegame server --secret {client_token}"));
    const auto placeholder = make_package(t / "unknown-placeholder", manifest_with("bin/fakegame server --x {bogus}"));
    const auto missing = make_package(t / "missing-file", manifest_with("bin/not-there server"));
    const auto semver = make_package(t / "bad-semver", manifest_with("bin/fakegame server", "1.0"));
    const auto warnings = make_package(t / "no-healthcheck", manifest_with("bin/fakegame server", "1.0.0",
                                                                            R"("extra_field": 1)"));
    const auto schema = make_package(t / "bad-type", R"({"game_name": "broken", "version": "1.0.0", "type": "VR",
      "max_players": 2, "server": {"command": "bin/fakegame server"}, "client": {"command": "bin/fakegame client"}})");

    // A zip with a '..' entry (and a valid manifest, so it is checkable).
    const auto dotdot = t / "dotdot.zip";
    packages::testing::write_zip(dotdot, {{"manifest.json", manifest_with("bin/fakegame server"), 0100644},
                                          {"../escape.txt", "gotcha", 0100644}});
    // The well-behaved package, zipped the way gamestore-dev publish packs it.
    const auto good_zip = t / "ok.zip";
    packages::create_zip(fakegame_packages_dir() / "ok", good_zip);

    const auto results = run_validators(
        {
            {token.string(), "--json"},
            {placeholder.string(), "--json"},
            {missing.string(), "--json"},
            {semver.string(), "--json"},
            {warnings.string(), "--json", "--static-only"},
            {schema.string(), "--json"},
            {dotdot.string(), "--json"},
            {good_zip.string(), "--json", "--grace", "1"},
        },
        3);
    // One run per package, judged in turn (SECTIONs would re-run them all).

    {  // token in a command line
        const auto& run = results[0];
        INFO(run.describe());
        CHECK(run.exit_code == 1);
        CHECK(run.checks_with("fail") == std::set<std::string>{"no_tokens_in_commands"});
        CHECK(message_of(run, "no_tokens_in_commands").find("server.command[3]") != std::string::npos);
        // Nothing was launched.
        CHECK(run.status_of("started_within_timeout") == "skipped");
        CHECK(message_of(run, "started_within_timeout").find("cannot be launched") != std::string::npos);
    }
    {  // unknown placeholder
        const auto& run = results[1];
        INFO(run.describe());
        CHECK(run.exit_code == 1);
        CHECK(run.checks_with("fail") == std::set<std::string>{"manifest_placeholders"});
        CHECK(message_of(run, "manifest_placeholders").find("{bogus}") != std::string::npos);
    }
    {  // missing program
        const auto& run = results[2];
        INFO(run.describe());
        CHECK(run.exit_code == 1);
        CHECK(run.checks_with("fail") == std::set<std::string>{"referenced_files"});
        CHECK(message_of(run, "referenced_files").find("bin/not-there") != std::string::npos);
    }
    {  // bad semver
        const auto& run = results[3];
        INFO(run.describe());
        CHECK(run.exit_code == 1);
        CHECK(run.checks_with("fail") == std::set<std::string>{"manifest_semver"});
        CHECK(message_of(run, "manifest_semver").find("version:") != std::string::npos);
    }
    {  // manifest warnings are warnings
        const auto& run = results[4];
        INFO(run.describe());
        CHECK(run.exit_code == 0);
        CHECK(run.checks_with("fail").empty());
        CHECK(run.checks_with("warn") == std::set<std::string>{"manifest_warnings"});
        CHECK(message_of(run, "manifest_warnings").find("extra_field") != std::string::npos);
        CHECK(run.status_of("started_within_timeout") == "skipped");
    }
    {  // schema errors name their field
        const auto& run = results[5];
        INFO(run.describe());
        CHECK(run.exit_code == 1);
        CHECK(run.checks_with("fail") == std::set<std::string>{"manifest_schema"});
        CHECK(message_of(run, "manifest_schema").find("\ntype:") != std::string::npos);
    }
    {  // zip with a '..' entry
        const auto& run = results[6];
        INFO(run.describe());
        CHECK(run.exit_code == 1);
        CHECK(run.checks_with("fail") == std::set<std::string>{"zip_safety"});
        CHECK(message_of(run, "zip_safety").find("dot_dot") != std::string::npos);
        // The manifest is still checked; nothing is unpacked or launched.
        CHECK(run.status_of("manifest_schema") == "pass");
        CHECK(run.status_of("referenced_files") == "skipped");
        CHECK(run.status_of("started_within_timeout") == "skipped");
    }
    {  // a good zip is unpacked and passes
        const auto& run = results[7];
        INFO(run.describe());
        CHECK(run.exit_code == 0);
        CHECK(run.checks_with("fail").empty());
        CHECK(run.status_of("zip_safety") == "pass");
        CHECK(run.status_of("sigterm_stops_group") == "pass");
        CHECK_FALSE(run.temp_left_behind);
    }
}

TEST_CASE("packages that cannot be checked exit 2", "[validator][packages]") {
    TempDir temp("validator-unreadable");
    const auto& t = temp.path();
    fs::create_directories(t / "empty-dir");
    write_file(t / "not-a-zip.zip", "this is not a zip archive");
    const auto ok = fakegame_packages_dir() / "ok";

    const auto results = run_validators(
        {
            {(t / "does-not-exist").string(), "--json"},
            {(t / "empty-dir").string(), "--json"},
            {(t / "not-a-zip.zip").string(), "--json"},
            {ok.string(), "--json", "--players", "9"},  // max_players is 8
            {ok.string(), "--bogus-flag"},
        },
        3);
    for (std::size_t i = 0; i < 4; ++i) {
        INFO(results[i].describe());
        CHECK(results[i].exit_code == 2);
        REQUIRE(results[i].json.is_object());
        CHECK(results[i].json["checkable"] == false);
        CHECK(!results[i].json.value("error", "").empty());
        CHECK(results[i].json["summary"]["exit_code"] == 2);
    }
    CHECK(results[0].json.value("error", "").find("does not exist") != std::string::npos);
    CHECK(results[1].json.value("error", "").find("manifest.json") != std::string::npos);
    CHECK(results[2].json.value("error", "").find("not a readable zip") != std::string::npos);
    CHECK(results[3].json.value("error", "").find("max_players 8") != std::string::npos);
    INFO(results[4].describe());
    CHECK(results[4].exit_code == 2);
}

TEST_CASE("table and JUnit output", "[validator][output]") {
    TempDir temp("validator-output");
    const auto package = make_package(temp.path() / "pkg", manifest_with("bin/fakegame server", "01.0.0"));
    const auto junit = temp.path() / "results.xml";
    const auto run = run_validator({package.string(), "--junit", junit.string()});
    INFO(run.describe());
    CHECK(run.exit_code == 1);
    // The table: a header, one row per check, the verdict and the time.
    CHECK(run.output.find("CHECK") != std::string::npos);
    CHECK(run.output.find("manifest_semver") != std::string::npos);
    CHECK(run.output.find("FAIL") != std::string::npos);
    CHECK(run.output.find("RESULT: FAIL (exit 1) in ") != std::string::npos);

    const std::string xml = read_file(junit);
    INFO(xml);
    CHECK(xml.rfind("<?xml", 0) == 0);
    std::size_t testcases = 0;
    for (auto at = xml.find("<testcase "); at != std::string::npos; at = xml.find("<testcase ", at + 1)) ++testcases;
    CHECK(testcases == 27);
    CHECK(xml.find("name=\"manifest_semver\"") != std::string::npos);
    CHECK(xml.find("<failure message=\"") != std::string::npos);
    CHECK(xml.find("<skipped message=\"skipped: ") != std::string::npos);
    CHECK(xml.find("failures=\"1\"") != std::string::npos);
}

}  // namespace gamestore::testing
