// The SDKs' own example games must pass validation: they are what game
// developers copy.
#include <catch2/catch.hpp>

#include <iostream>

#include "tests/support/process.hpp"
#include "tests/validator/validator_runner.hpp"

namespace gamestore::testing {
namespace {

namespace fs = std::filesystem;

void expect_clean(const ValidatorRun& run) {
    INFO(run.describe());
    CHECK(run.exit_code == 0);
    CHECK(run.checks_with("fail").empty());
    CHECK(run.checks_with("warn").empty());
    CHECK_FALSE(run.temp_left_behind);
}

}  // namespace

TEST_CASE("the Python SDK example validates, with and without its clients", "[validator][sdk]") {
    // The example imports gamestore_sdk.py from the SDK tree; a published
    // package vendors it next to server.py, so build exactly that.
    TempDir temp("validator-python-example");
    const auto package = temp.path() / "higher-number";
    fs::create_directories(package);
    const auto sdk = source_dir() / "sdk" / "python";
    for (const char* file : {"manifest.json", "server.py", "client.py"}) {
        fs::copy_file(sdk / "examples" / file, package / file);
    }
    fs::copy_file(sdk / "gamestore_sdk.py", package / "gamestore_sdk.py");

    // Heartbeats every 2 s: two intervals keep the run short.
    const auto results = run_validators({{package.string(), "--json", "--heartbeat-cycles", "2"},
                                         {package.string(), "--json", "--heartbeat-cycles", "2", "--players", "2"}},
                                        2);
    expect_clean(results[0]);
    CHECK(results[0].status_of("sigterm_stops_group") == "pass");
    CHECK(results[0].status_of("handshake_accepts_valid_client") == "pass");
    expect_clean(results[1]);
    for (const char* check : {"match_plays_to_end", "end_results_schema", "single_terminal_report",
                              "client_handshake", "handshake_accepts_valid_client"}) {
        INFO(check << "\n" << results[1].describe());
        CHECK(results[1].status_of(check) == "pass");
    }
    std::cout << "validate_game_package on the Python SDK example: " << results[0].seconds << " s, with 2 clients "
              << results[1].seconds << " s\n";
}

TEST_CASE("the C++ SDK example package validates", "[validator][sdk]") {
    // Built with the test (test_validator depends on sdk_example_package).
    const auto package = build_dir() / "sdk" / "example-package";
    INFO("no C++ SDK example package in " << package.string() << ": build the sdk_example_package target");
    REQUIRE(fs::exists(package / "manifest.json"));
    // Heartbeats every 5 s: one interval is enough to see the cadence.
    const auto results = run_validators({{package.string(), "--json", "--heartbeat-cycles", "1"},
                                         {package.string(), "--json", "--heartbeat-cycles", "1", "--players", "2"}},
                                        2);
    expect_clean(results[0]);
    expect_clean(results[1]);
    CHECK(results[1].status_of("match_plays_to_end") == "pass");
}

TEST_CASE("the reference games validate and play themselves with GAMESTORE_BOT=1", "[validator][games]") {
    // Built with the test (test_validator depends on game_packages).
    const auto packages = build_dir() / "games" / "packages";
    INFO("no reference game packages in " << packages.string() << ": build the game_packages target");
    REQUIRE(fs::exists(packages / "connect_four" / "manifest.json"));
    REQUIRE(fs::exists(packages / "liars_dice" / "manifest.json"));
    const auto connect_four = (packages / "connect_four").string();
    const auto liars_dice = (packages / "liars_dice").string();
    const auto results = run_validators({{connect_four, "--json", "--heartbeat-cycles", "2"},
                                         {connect_four, "--json", "--heartbeat-cycles", "2", "--players", "2"},
                                         {liars_dice, "--json", "--heartbeat-cycles", "2", "--players", "3"}},
                                        3);
    for (const auto& run : results) {
        expect_clean(run);
    }
    CHECK(results[0].status_of("sigterm_stops_group") == "pass");
    CHECK(results[1].status_of("match_plays_to_end") == "pass");
    CHECK(results[2].status_of("match_plays_to_end") == "pass");
}

}  // namespace gamestore::testing
