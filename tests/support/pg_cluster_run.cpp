// gamestore-test-pg COMMAND [ARG...]: runs COMMAND (no shell) while a private
// PostgreSQL cluster (pg_cluster.hpp: initdb + postgres as an unprivileged
// user in a temp dir, on a Unix socket only) is up, every ARG that is
// exactly {postgres} replaced by the URI of the cluster's maintenance
// database. Stops and removes the cluster afterwards and exits with
// COMMAND's exit code (128 + N when a signal N ended it; 2 when the cluster
// could not start). `ci/test` runs the sim's quick suite through it.

#include <chrono>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/pg_cluster.hpp"
#include "tests/support/process.hpp"

int main(int argc, char** argv) {
    using namespace std::chrono_literals;
    if (argc < 2) {
        std::cerr << "usage: gamestore-test-pg COMMAND [ARG...] (ARG {postgres} becomes the "
                     "cluster's URI)\n";
        return 2;
    }
    std::optional<gamestore::testing::PgCluster> cluster;
    try {
        cluster.emplace();
    } catch (const std::exception& e) {
        std::cerr << "gamestore-test-pg: " << e.what() << "\n";
        return 2;
    }
    gamestore::testing::SpawnOptions options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        options.argv.push_back(arg == "{postgres}" ? cluster->uri("postgres") : arg);
    }
    std::optional<int> code;
    try {
        gamestore::testing::ChildProcess command(options);
        // Bounded like every wait: far beyond any suite run through it.
        code = command.wait_exit_code(4h);
    } catch (const std::exception& e) {
        std::cerr << "gamestore-test-pg: " << e.what() << "\n";
        return 2;
    }
    if (!code) {
        std::cerr << "gamestore-test-pg: " << options.argv.front()
                  << " still ran after 4 hours; killed\n";
        return 1;
    }
    return *code < 0 ? 128 - *code : *code;
}
