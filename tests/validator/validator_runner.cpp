#include "tests/validator/validator_runner.hpp"

#include <chrono>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "tests/support/process.hpp"

namespace gamestore::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// A single validation is bounded by its own timeouts (startup, match,
// grace); this only catches a hung validator.
constexpr std::chrono::minutes kRunLimit{3};

struct Running {
    std::size_t index = 0;
    std::unique_ptr<TempDir> dir;
    std::optional<ChildProcess> process;
    Clock::time_point started;
};

std::unique_ptr<Running> start(std::size_t index, const std::vector<std::string>& args) {
    auto run = std::make_unique<Running>();
    run->index = index;
    run->dir = std::make_unique<TempDir>("validator-run");
    fs::create_directories(run->dir->path() / "tmp");
    SpawnOptions options;
    options.argv.push_back(validator_binary().string());
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.stdout_file = run->dir->path() / "stdout";
    options.stderr_file = run->dir->path() / "stderr";
    options.stdin_file = "/dev/null";
    // Its own TMPDIR: the run's work dir must be gone afterwards.
    options.env["TMPDIR"] = (run->dir->path() / "tmp").string();
    run->started = Clock::now();
    run->process.emplace(options);
    return run;
}

ValidatorRun finish(Running& running, const std::vector<std::string>& args) {
    ValidatorRun result;
    result.args = args;
    const auto code = running.process->wait_exit_code(kRunLimit);
    result.seconds = std::chrono::duration<double>(Clock::now() - running.started).count();
    result.exit_code = code.value_or(-1000);
    result.output = read_file(running.dir->path() / "stdout");
    result.errors = read_file(running.dir->path() / "stderr");
    result.json = nlohmann::json::parse(result.output, nullptr, false);
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(running.dir->path() / "tmp", ec)) {
        if (entry.path().filename().string().rfind("gamestore-validate-", 0) == 0) {
            result.temp_left_behind = true;
        }
    }
    return result;
}

}  // namespace

std::set<std::string> ValidatorRun::checks_with(const std::string& status) const {
    std::set<std::string> names;
    if (!json.is_object() || !json.contains("checks")) {
        return names;
    }
    for (const auto& check : json["checks"]) {
        if (check.value("status", "") == status) {
            names.insert(check.value("name", ""));
        }
    }
    return names;
}

std::string ValidatorRun::status_of(const std::string& check) const {
    if (json.is_object() && json.contains("checks")) {
        for (const auto& entry : json["checks"]) {
            if (entry.value("name", "") == check) {
                return entry.value("status", "");
            }
        }
    }
    return "(absent)";
}

std::string ValidatorRun::describe() const {
    std::ostringstream out;
    out << "validate_game_package";
    for (const auto& arg : args) out << ' ' << arg;
    out << "\nexit " << exit_code << " after " << seconds << " s\n--- stdout\n" << output << "--- stderr\n" << errors;
    return out.str();
}

fs::path validator_binary() {
    return binary("validate_game_package");
}

fs::path fakegame_packages_dir() {
    return build_dir() / "fakegames" / "packages";
}

std::vector<ValidatorRun> run_validators(const std::vector<std::vector<std::string>>& runs, int parallel) {
    std::vector<ValidatorRun> results(runs.size());
    std::deque<std::unique_ptr<Running>> active;
    std::size_t next = 0;
    // Bounded: each round starts or finishes at least one run.
    while (next < runs.size() || !active.empty()) {
        while (next < runs.size() && static_cast<int>(active.size()) < parallel) {
            active.push_back(start(next, runs[next]));
            ++next;
        }
        auto running = std::move(active.front());
        active.pop_front();
        results[running->index] = finish(*running, runs[running->index]);
    }
    return results;
}

ValidatorRun run_validator(const std::vector<std::string>& args) {
    return run_validators({args}, 1).front();
}

std::set<std::string> split_names(const std::string& text) {
    std::set<std::string> names;
    if (text == "-" || text.empty()) {
        return names;
    }
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        const auto name = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!name.empty()) names.insert(name);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return names;
}

std::vector<TableRow> read_table(const fs::path& file) {
    std::ifstream in(file);
    if (!in) {
        throw std::runtime_error("cannot read " + file.string());
    }
    std::vector<TableRow> rows;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty() || line[0] == '#') continue;
        TableRow row;
        row.line = number;
        std::size_t start = 0;
        for (;;) {
            const auto tab = line.find('\t', start);
            row.columns.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
            if (tab == std::string::npos) break;
            start = tab + 1;
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace gamestore::testing
