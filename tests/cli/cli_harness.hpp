#pragma once
// Drives the real gamestore-dev and gamestore-player binaries as child
// processes (no shell) against a ServerFixture, and builds the small game
// packages the tests publish.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/client/sync_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/server_fixture.hpp"

namespace gamestore::cli_test {

namespace fs = std::filesystem;

inline constexpr const char* kPassword = "correct-horse-1";

struct CliResult {
    int code = -1000;  // exit code, -signal, or -1000 when it did not finish in time
    std::string out;
    std::string err;
    std::string text() const { return out + err; }
    nlohmann::json json() const { return nlohmann::json::parse(out); }
};

// A tool started in the background (two players in one match); its output
// goes to files read once it has finished.
struct RunningCli {
    std::unique_ptr<testing::ChildProcess> process;
    fs::path out_file;
    fs::path err_file;
    // Waits for the exit (bounded) and collects the output.
    CliResult finish(std::chrono::milliseconds timeout);
};

// Waits (bounded) for the host's and the guest's `play` of one match and
// requires both to exit 0; their results, host first.
std::pair<CliResult, CliResult> finish_match_ok(RunningCli& host, RunningCli& guest);

class CliHarness {
public:
    explicit CliHarness(const testing::ServerFixture& server);

    // <scratch>/home: GAMESTORE_HOME of every run.
    const fs::path& home() const { return home_; }
    // A scratch directory for packages and the like.
    const fs::path& work() const { return work_; }

    CliResult dev(const std::vector<std::string>& args, const std::string& input = {},
                  const std::map<std::string, std::string>& env = {});
    CliResult player(const std::vector<std::string>& args, const std::string& input = {},
                     const std::map<std::string, std::string>& env = {});
    CliResult run(const fs::path& binary, const std::vector<std::string>& args, const std::string& input,
                  const std::map<std::string, std::string>& env);
    // gamestore-player started without waiting for it; stdin is empty, or
    // `stdin_path` (e.g. a FIFO the test keeps writing to). `own_session`:
    // it leads a session and process group of its own (as a shell's
    // foreground job would), so the test can signal the whole group the way
    // a terminal's Ctrl-C does.
    RunningCli start_player(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                            const fs::path& stdin_path = {}, bool own_session = false);

    // <home>/player/<user>
    fs::path player_dir(const std::string& user) const { return home_ / "player" / user; }

private:
    testing::SpawnOptions spawn_options(const fs::path& binary, const std::vector<std::string>& args,
                                        const std::string& input, const std::map<std::string, std::string>& env,
                                        fs::path& out, fs::path& err);

    testing::TempDir scratch_;
    fs::path home_;
    fs::path work_;
    std::string server_;
    int runs_ = 0;
};

// A minimal valid package directory (manifest.json, server.py, client.py and,
// when `payload` is not empty, data/payload.bin holding it).
fs::path make_package_dir(const fs::path& parent, const std::string& game, const std::string& version,
                          const std::string& payload = {});
// The same, packed with create_zip into <parent>/<game>-<version>.zip.
fs::path make_package_zip(const fs::path& parent, const std::string& game, const std::string& version,
                          const std::string& payload = {});
// manifest.json text for a package.
std::string manifest_text(const std::string& game, const std::string& version,
                          const std::string& server_command = "python3 server.py");

// Deterministic bytes that deflate cannot shrink.
std::string noise(std::size_t size, unsigned seed);

// A lobby connection signed in through the client library (registering the
// account first when `register_first`).
std::unique_ptr<client::SyncLobbyClient> sign_in(const testing::ServerFixture& server, const std::string& role,
                                                 const std::string& name, bool register_first = true);
// dev.publish of a zip file; `sha256` defaults to the file's real digest.
protocol::Response publish(client::SyncLobbyClient& client, const fs::path& zip, std::string sha256 = {});

// Every path under data_dir/{tmp,packages,games}, relative to data_dir.
std::set<std::string> stored_files(const fs::path& data_dir);
// Regular files under data_dir/tmp.
std::vector<std::string> temp_files(const fs::path& data_dir);

std::string file_text(const fs::path& path);

}  // namespace gamestore::cli_test
