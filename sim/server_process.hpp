#pragma once
// The gamestore-server a scenario runs against: started on loopback with
// ephemeral lobby/report ports and a temp data dir, killed with SIGKILL and
// restarted on the same data dir (I7), stopped with SIGTERM at the end. The
// server's stdout/stderr go to <work>/server-<generation>.log (I9 scans them).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gamestore::sim {

struct ServerEndpoints {
    std::string lobby_host;
    std::uint16_t lobby_port = 0;
    std::string report_host;
    std::uint16_t report_port = 0;
};

class ServerProcess {
public:
    // `binary`: gamestore-server; `args`: flags beyond the ones this class
    // owns (--listen, --report-listen, --data-dir, --ready-file).
    ServerProcess(std::filesystem::path binary, std::filesystem::path work_dir, std::vector<std::string> args);
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    // Starts a new generation and waits (bounded) for its ready file.
    // Throws std::runtime_error naming the log to read.
    void start(std::chrono::milliseconds ready_timeout = std::chrono::seconds(30));
    // SIGKILL, then reap. The data dir is left exactly as the crash left it.
    void kill9();
    // SIGTERM, bounded wait, SIGKILL if it hangs. Returns false if it had to be killed.
    bool stop(std::chrono::milliseconds grace = std::chrono::seconds(15));
    // Reaps the server if it exited by itself; true while it runs.
    bool running();

    const ServerEndpoints& endpoints() const { return endpoints_; }
    const std::filesystem::path& data_dir() const { return data_dir_; }
    pid_t pid() const { return pid_; }
    int generation() const { return generation_; }
    std::vector<std::filesystem::path> log_files() const;

private:
    std::filesystem::path binary_;
    std::filesystem::path work_dir_;
    std::filesystem::path data_dir_;
    std::vector<std::string> args_;
    ServerEndpoints endpoints_;
    pid_t pid_ = -1;
    int generation_ = 0;
};

}  // namespace gamestore::sim
