#pragma once
// Starts the real gamestore-server on ephemeral loopback ports with a temp
// data dir and learns its ports from the ready file.

#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace gamestore::testing {

struct ServerEndpoints {
    std::string lobby_host;
    unsigned short lobby_port = 0;
    std::string report_host;
    unsigned short report_port = 0;
    std::string http_host;
    unsigned short http_port = 0;
};

// The --database a server on `data_dir` uses in this test run: "" (SQLite,
// the server's default DATA/gamestore.db), or, when GAMESTORE_TEST_STORE is
// postgresql, a fresh schema of the binary's private PostgreSQL cluster,
// the same one every time the same data dir is asked for (restarts).
std::string test_database_for(const std::filesystem::path& data_dir);
// From now on a server on `data_dir` uses `database` (servers that share a
// database but not a data dir).
void use_test_database(const std::filesystem::path& data_dir, const std::string& database);

class ServerFixture {
public:
    explicit ServerFixture(std::vector<std::string> extra_args = {},
                           const std::filesystem::path& data_dir = {});
    ~ServerFixture();

    const ServerEndpoints& endpoints() const { return endpoints_; }
    std::string lobby_address() const;
    const std::filesystem::path& data_dir() const { return data_dir_; }
    const std::filesystem::path& log_file() const { return log_file_; }
    ChildProcess& process() { return *process_; }
    std::string log() const { return read_file(log_file_); }
    // SIGKILL without cleanup (crash tests); the data dir stays.
    void kill_hard();
    // SIGTERM; returns the exit code.
    std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));

private:
    TempDir temp_;
    std::filesystem::path data_dir_;
    std::filesystem::path log_file_;
    std::optional<ChildProcess> process_;
    ServerEndpoints endpoints_;
};

}  // namespace gamestore::testing
