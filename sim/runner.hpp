#pragma once
// Runs one scenario: a real gamestore-server on loopback (temp data dir),
// developers publishing the fake game packages, simulated players driven as
// coroutines on one thread through the client library, real fakegame
// clients launched on IN_GAME, abuse traffic, kill -9 + restart points, and
// the invariant checkers of sim/checkers.hpp. The seed fixes the workload
// and the fault schedule.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/results.hpp"
#include "sim/scenario.hpp"

namespace gamestore::sim {

struct RunOptions {
    std::filesystem::path server_binary;  // gamestore-server
    std::filesystem::path packages_dir;   // fakegame packages: <dir>/<profile>/manifest.json
    std::filesystem::path work_dir;       // this run's files (data dir, logs, client output)
    std::optional<std::uint64_t> seed;    // none: drawn at random and reported
    std::vector<std::string> extra_server_args;
    // Progress lines (phase changes, kills); may be empty.
    std::function<void(const std::string&)> progress;
};

ScenarioResult run_scenario(const Scenario& scenario, const RunOptions& options);

}  // namespace gamestore::sim
