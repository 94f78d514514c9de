// The sim's checkers can fail: gamestore-sim runs a small scenario against a
// server started with --debug-keep-ready-after-match (the reset path leaves
// ready set) and must report I3 broken, exit 1 and print the replay seed;
// the same scenario and seed against a correct server must pass. A scenario
// with mistakes is refused with exit 2 and every mistake named.

#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/process.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace gamestore::testing;
using namespace std::chrono_literals;

namespace {

struct SimRun {
    int exit_code = -1;
    std::string output;
    json report;
};

SimRun run_sim(const TempDir& dir, const std::string& tag, std::vector<std::string> args) {
    const auto out = dir.path() / (tag + ".out");
    const auto report = dir.path() / (tag + ".json");
    SpawnOptions options;
    options.argv = {
        binary("gamestore-sim").string(), "run", "--quiet", "--json", report.string(), "--work-dir",
        (dir.path() / tag).string()};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.stdout_file = out;
    options.stderr_file = out;
    ChildProcess sim(options);
    SimRun run;
    const auto code = sim.wait_exit_code(300s);
    REQUIRE(code.has_value());
    run.exit_code = *code;
    run.output = read_file(out);
    if (fs::exists(report)) {
        run.report = json::parse(read_file(report));
    }
    return run;
}

const json& invariant(const json& report, const std::string& name) {
    for (const auto& inv : report.at("scenarios").at(0).at("invariants")) {
        if (inv.at("name") == name) return inv;
    }
    FAIL("no invariant " << name << " in the report");
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("a server that keeps ready after a match breaks I3, and only I3", "[sim][integration]") {
    TempDir dir("gamestore-sim-test");
    const auto scenario = (source_dir() / "tests" / "sim" / "scenarios" / "ready-reset.toml").string();

    const auto broken = run_sim(dir, "broken", {scenario, "--seed", "42", "--server-arg=--debug-keep-ready-after-match"});
    INFO(broken.output);
    CHECK(broken.exit_code == 1);
    REQUIRE(broken.report.is_object());
    CHECK(broken.report.at("passed") == false);
    const auto& i3 = invariant(broken.report, "I3");
    CHECK(i3.at("held") == false);
    CHECK(i3.at("violation_count").get<int>() > 0);
    CHECK(i3.at("violations").at(0).at("message").get<std::string>().find("ready still set") != std::string::npos);
    for (const auto* other : {"I1", "I2", "I5", "I8", "I9"}) {
        CHECK(invariant(broken.report, other).at("held") == true);
    }
    CHECK(broken.output.find("I3 BROKEN") != std::string::npos);
    CHECK(broken.output.find("--seed 42") != std::string::npos);

    const auto healthy = run_sim(dir, "healthy", {scenario, "--seed", "42"});
    INFO(healthy.output);
    CHECK(healthy.exit_code == 0);
    REQUIRE(healthy.report.is_object());
    CHECK(healthy.report.at("passed") == true);
    CHECK(invariant(healthy.report, "I3").at("checks").get<int>() > 0);
    // The seed fixed the schedule: both runs planned the same rounds.
    CHECK(healthy.report.at("scenarios").at(0).at("schedule").at("drivers") ==
          broken.report.at("scenarios").at(0).at("schedule").at("drivers"));
}

TEST_CASE("a scenario with mistakes is refused with every mistake named", "[sim][integration]") {
    TempDir dir("gamestore-sim-test");
    const auto file = dir.path() / "bad.toml";
    std::ofstream(file) << "name = \"bad\"\n[workload]\nrooms = 0\nplayerz = 3\n[[games]]\nprofile = \"ok\"\n"
                           "weight = -1\nexpect = [\"WON\"]\n";
    const auto run = run_sim(dir, "bad", {file.string()});
    CHECK(run.exit_code == 2);
    CHECK(run.output.find("workload.rooms") != std::string::npos);
    CHECK(run.output.find("workload.playerz") != std::string::npos);
    CHECK(run.output.find("games[0].weight") != std::string::npos);
    CHECK(run.output.find("games[0].expect") != std::string::npos);
}
