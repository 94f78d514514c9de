#pragma once
// Test support: real child processes without a shell, temp dirs, and waiting
// on events with deadlines (inotify for files, waitpid for exits) instead of
// sleeping.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gamestore::testing {

// A directory removed (recursively) when the object dies.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "gamestore-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

struct SpawnOptions {
    std::vector<std::string> argv;
    // Added to (and overriding) the parent's environment.
    std::map<std::string, std::string> env;
    std::optional<std::filesystem::path> cwd;
    std::optional<std::filesystem::path> stdout_file;
    std::optional<std::filesystem::path> stderr_file;
    std::optional<std::filesystem::path> stdin_file;
    bool new_session = false;
    // Drops to this uid/gid (and no supplementary groups) before exec; for
    // programs that refuse to run as root (PostgreSQL).
    std::optional<std::pair<uid_t, gid_t>> run_as;
    // Delivered to the child when the test process dies, so a crashed test
    // leaves no server behind (prctl PR_SET_PDEATHSIG); 0 for none. The
    // kernel sends it when the spawning *thread* exits: spawn long-lived
    // children from the main thread.
    int parent_death_signal = 0;
};

// A child process that is killed (SIGKILL to its pid) and reaped when the
// object dies, unless it was already reaped.
class ChildProcess {
public:
    explicit ChildProcess(const SpawnOptions& options);
    ~ChildProcess();
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    // Exit status as from waitpid (use WIFEXITED etc.), or nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    // The exit code, or -signal when killed by a signal; nullopt on timeout.
    std::optional<int> wait_exit_code(std::chrono::milliseconds timeout);
    bool running();
    void signal(int signo);

private:
    pid_t pid_ = -1;
    std::optional<int> status_;
};

// Waits (inotify, not polling) until `path` exists; false on timeout.
bool wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout);

// Waits (inotify on the writes in its directory) until the file `path`
// exists and contains `needle`; false on timeout.
bool wait_for_text(const std::filesystem::path& path, const std::string& needle, std::chrono::milliseconds timeout);

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

// Paths of built binaries and sources, from the env ctest sets.
std::filesystem::path build_dir();
std::filesystem::path source_dir();
// A program of build/bin/ (gamestore-server, gamestore-player, fakegame...).
std::filesystem::path binary(const std::string& program);

// Every pid whose /proc/<pid>/cmdline or environ mentions `needle` (used to
// find stray processes a test created).
std::vector<pid_t> pids_with_cmdline_containing(const std::string& needle);
std::string cmdline_of(pid_t pid);

}  // namespace gamestore::testing
