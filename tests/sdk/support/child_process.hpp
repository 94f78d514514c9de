#pragma once
// Test support for process-level tests: spawn a binary with an explicit
// environment (no shell, nothing inherited), in its own session like the
// platform's launcher does, and wait for exits on a pidfd (an event, not a
// sleep loop). Plus the launch environment of a fake match.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gamestore::sdk_test {

// How a process ended.
struct ExitStatus {
    bool exited = false;  // exited normally with `code`
    int code = 0;
    int signal = 0;  // set when killed by a signal
};

std::string describe(const ExitStatus& status);

class ChildProcess {
  public:
    // argv[0] is the executable path. stdout/stderr go to the given files.
    // The child starts in `cwd` if given, else in the test's directory.
    ChildProcess(std::vector<std::string> argv, const std::map<std::string, std::string>& env,
                 const std::filesystem::path& stdout_file, const std::filesystem::path& stderr_file,
                 const std::optional<std::filesystem::path>& cwd = std::nullopt);
    // Kills the whole process group (SIGKILL) if still running, then reaps it.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    // Waits for the exit (and reaps); nullopt if still running after `timeout`.
    std::optional<ExitStatus> wait(std::chrono::milliseconds timeout);
    bool exited() const { return status_.has_value(); }
    void signal(int signo) const;        // to the process
    void signal_group(int signo) const;  // to its process group (== pid: own session)
    std::string stdout_text() const;
    std::string stderr_text() const;

  private:
    pid_t pid_ = -1;
    int pidfd_ = -1;
    std::optional<ExitStatus> status_;
    std::filesystem::path stdout_file_;
    std::filesystem::path stderr_file_;
};

// Waits until process `pid` (any process, not only a child) is gone.
bool wait_process_gone(pid_t pid, std::chrono::milliseconds timeout);
// True while `pid` exists and is not a zombie.
bool process_alive(pid_t pid);
// Pids whose initial environment contains the exact entry `entry` ("K=V").
std::vector<pid_t> pids_with_env_entry(const std::string& entry);
// Pids whose argv (/proc/<pid>/cmdline) has an argument containing `text`:
// what any local user can see with ps.
std::vector<pid_t> pids_with_argv_containing(const std::string& text);
// Session id and process group id of `pid` from /proc/<pid>/stat.
std::optional<std::pair<pid_t, pid_t>> session_and_group(pid_t pid);

// A port that was free a moment ago (bind :0, read it, close).
int pick_free_port();

// A temp directory removed recursively on destruction.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

std::string random_hex(std::size_t bytes);
std::string read_text(const std::filesystem::path& path);

// The launch environment of one fake match, with MATCH_DIR (0700) and the
// token files (0600) inside it, as the platform sets them up.
struct FakeMatch {
    explicit FakeMatch(std::vector<std::string> players, int report_port,
                       std::string heartbeat_interval_sec = "5");

    std::map<std::string, std::string> server_env(int port) const;
    std::map<std::string, std::string> client_env(const std::string& player, int port) const;

    TempDir dir;
    std::filesystem::path match_dir;
    std::int64_t room_id = 42;
    std::string match_id;
    std::string report_token;
    std::string client_token;
    std::vector<std::string> players;
    int report_port = 0;
    std::string heartbeat_interval_sec;
};

}  // namespace gamestore::sdk_test
