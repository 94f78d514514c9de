// gamestore-sim: runs TOML scenarios against a real gamestore-server and
// checks the platform's invariants (docs/SIM.md).
//
//   gamestore-sim run SCENARIO.toml... [--seed S] [--junit FILE] [--json FILE]
//                     [--postgres URI]
//
// Exit status: 0 every scenario passed, 1 one failed (an invariant broke or
// an expectation was not met), 2 the scenarios could not be run (usage, a
// scenario file with errors, missing binaries).

#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "platform/store/pg_db.hpp"
#include "platform/store/postgres_store.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"

namespace fs = std::filesystem;
using namespace gamestore::sim;

namespace {

fs::path exe_dir() {
    std::error_code ec;
    const auto self = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::current_path() : self.parent_path();
}

// The URI of database `name` on the server `admin_uri` reaches: libpq lets
// a dbname parameter override the one in the URI's path.
std::string database_uri(const std::string& admin_uri, const std::string& name) {
    return admin_uri + (admin_uri.find('?') == std::string::npos ? "?" : "&") + "dbname=" + name;
}

bool write_file(const fs::path& file, const std::string& content) {
    std::ofstream out(file, std::ios::trunc);
    out << content;
    return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"gamestore-sim: multi-client simulation runner with invariant checks"};
    app.require_subcommand(1);
    auto* run = app.add_subcommand("run", "run scenarios; exit 0 when every invariant held");
    std::vector<std::string> files;
    std::optional<std::uint64_t> seed;
    std::string junit, json_out, work, server, packages, postgres;
    std::vector<std::string> server_args;
    bool keep = false, quiet = false;
    run->add_option("scenarios", files, "scenario TOML files")->required()->check(CLI::ExistingFile);
    run->add_option("--seed", seed, "replay this seed (the workload and fault schedule)");
    run->add_option("--junit", junit, "write JUnit XML here");
    run->add_option("--json", json_out, "write the full results (ops log included) as JSON here");
    run->add_option("--work-dir", work, "keep run files here (default: a temp dir, removed when all passed)");
    run->add_flag("--keep", keep, "keep the temp run files even when all passed");
    run->add_option("--server", server, "gamestore-server binary (default: the one of this build)");
    run->add_option("--packages", packages, "fakegame packages dir (default: the one of this build)");
    run->add_option("--server-arg", server_args, "extra gamestore-server flag (repeatable; e.g. a debug fault)")
        ->allow_extra_args(false);
    run->add_option(
        "--postgres", postgres,
        "run every scenario's server on a fresh PostgreSQL database created through this "
        "URI (a role that may CREATE DATABASE; no password in it), dropped when all passed");
    run->add_flag("-q,--quiet", quiet, "no progress lines");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    // Hundreds of simulated players are hundreds of sockets here and in the
    // server (which inherits the limit): lift the soft limit to the hard one.
    if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &files);
    }

    const auto build = exe_dir().parent_path();
    RunOptions options;
    options.server_binary = server.empty() ? exe_dir() / "gamestore-server" : fs::path(server);
    options.packages_dir = packages.empty() ? build / "fakegames" / "packages" : fs::path(packages);
    options.seed = seed;
    options.extra_server_args = server_args;
    if (!quiet) {
        options.progress = [](const std::string& line) { std::cerr << "gamestore-sim: " << line << std::endl; };
    }
    if (!fs::exists(options.server_binary)) {
        std::cerr << "gamestore-sim: no gamestore-server at " << options.server_binary << " (use --server)\n";
        return 2;
    }
    if (!fs::is_directory(options.packages_dir)) {
        std::cerr << "gamestore-sim: no fakegame packages in " << options.packages_dir << " (use --packages)\n";
        return 2;
    }

    std::vector<Scenario> scenarios;
    bool bad = false;
    for (const auto& file : files) {
        try {
            scenarios.push_back(load_scenario(file));
        } catch (const ScenarioError& e) {
            std::cerr << e.what() << "\n";
            bad = true;
        }
    }
    if (bad) {
        return 2;
    }

    fs::path root;
    if (!work.empty()) {
        root = fs::absolute(work);
        fs::create_directories(root);
    } else {
        std::string pattern = (fs::temp_directory_path() / "gamestore-sim-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("gamestore-sim: mkdtemp");
            return 2;
        }
        root = pattern;
    }

    // One empty database per scenario: its after-the-run checks read what
    // that scenario's server acknowledged, and nothing else.
    std::unique_ptr<gamestore::store::pg::Connection> admin;
    std::vector<std::string> databases;
    if (!postgres.empty()) {
        try {
            admin = gamestore::store::pg::Connection::open(postgres, "");
        } catch (const std::exception& e) {
            std::cerr << "gamestore-sim: cannot connect to "
                      << gamestore::store::redact_database_uri(postgres) << ": "
                      << gamestore::store::redact_database_uri(e.what()) << "\n";
            return 2;
        }
    }

    std::vector<ScenarioResult> results;
    for (std::size_t i = 0; i < scenarios.size(); ++i) {
        options.work_dir = root / (std::to_string(i + 1) + "-" + scenarios[i].name);
        options.extra_server_args = server_args;
        if (admin) {
            const auto name =
                "gamestore_sim_" + std::to_string(::getpid()) + "_" + std::to_string(i + 1);
            try {
                admin->exec(("CREATE DATABASE " + name + " TEMPLATE template0").c_str());
            } catch (const std::exception& e) {
                std::cerr << "gamestore-sim: cannot create the database " << name << ": "
                          << gamestore::store::redact_database_uri(e.what()) << "\n";
                return 2;
            }
            databases.push_back(name);
            options.extra_server_args.push_back("--database");
            options.extra_server_args.push_back(database_uri(postgres, name));
        }
        results.push_back(run_scenario(scenarios[i], options));
        if (!quiet) {
            std::cerr << "gamestore-sim: " << scenarios[i].name << ": " << (results.back().passed() ? "PASS" : "FAIL")
                      << " in " << results.back().duration_sec << " s\n";
        }
    }

    std::cout << summary_table(results);
    bool all_passed = true;
    for (const auto& result : results) all_passed = all_passed && result.passed();
    if (!json_out.empty() && !write_file(json_out, to_json(results).dump(2) + "\n")) {
        std::cerr << "gamestore-sim: cannot write " << json_out << "\n";
        return 2;
    }
    if (!junit.empty() && !write_file(junit, to_junit(results))) {
        std::cerr << "gamestore-sim: cannot write " << junit << "\n";
        return 2;
    }
    if (all_passed && work.empty() && !keep) {
        std::error_code ec;
        fs::remove_all(root, ec);
        for (const auto& name : databases) {
            try {
                admin->exec(("DROP DATABASE " + name).c_str());
            } catch (const std::exception& e) {
                std::cerr << "gamestore-sim: cannot drop the database " << name << ": "
                          << gamestore::store::redact_database_uri(e.what()) << "\n";
            }
        }
    } else {
        std::cout << "run files: " << root.string() << "\n";
        for (const auto& name : databases) {
            std::cout << "database: "
                      << gamestore::store::redact_database_uri(database_uri(postgres, name))
                      << "\n";
        }
    }
    return all_passed ? 0 : 1;
}
