#include "sim/server_process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <stdexcept>
#include <variant>

#include <nlohmann/json.hpp>

#include "platform/launch/process_launcher.hpp"

namespace gamestore::sim {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

void split_host_port(const std::string& text, std::string& host, std::uint16_t& port) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) {
        throw std::runtime_error("the ready file names '" + text + "', not HOST:PORT");
    }
    host = text.substr(0, colon);
    port = static_cast<std::uint16_t>(std::stoul(text.substr(colon + 1)));
}

// Polls for the child's exit until `deadline`; true once reaped.
bool reap_until(pid_t pid, Clock::time_point deadline) {
    for (;;) {
        int status = 0;
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid || (done < 0 && errno == ECHILD)) {
            return true;
        }
        if (Clock::now() >= deadline) {
            return false;
        }
        ::poll(nullptr, 0, 10);
    }
}

}  // namespace

ServerProcess::ServerProcess(fs::path binary, fs::path work_dir, std::vector<std::string> args)
    : binary_(std::move(binary)), work_dir_(std::move(work_dir)), data_dir_(work_dir_ / "var"), args_(std::move(args)) {}

ServerProcess::~ServerProcess() {
    if (pid_ > 0) {
        stop(std::chrono::seconds(5));
    }
}

void ServerProcess::start(std::chrono::milliseconds ready_timeout) {
    if (pid_ > 0) {
        throw std::logic_error("the server is already running");
    }
    ++generation_;
    const auto ready = work_dir_ / ("ready-" + std::to_string(generation_) + ".json");
    const auto log = work_dir_ / ("server-" + std::to_string(generation_) + ".log");
    fs::remove(ready);
    launch::ProcessSpec spec;
    spec.argv = {binary_.string(),   "--listen",      "127.0.0.1:0", "--report-listen",
                 "127.0.0.1:0",      "--http-listen", "127.0.0.1:0", "--data-dir",
                 data_dir_.string(), "--ready-file",  ready.string()};
    spec.argv.insert(spec.argv.end(), args_.begin(), args_.end());
    spec.env = launch::base_environment();
    spec.cwd = work_dir_;
    // Our process group: Ctrl-C on the sim reaches the server too.
    spec.new_session = false;
    spec.output_file = log;
    auto spawned = launch::spawn_process(spec);
    if (auto* error = std::get_if<std::string>(&spawned)) {
        throw std::runtime_error("cannot start " + binary_.string() + ": " + *error);
    }
    pid_ = std::get<launch::SpawnedProcess>(spawned).pid;

    const auto deadline = Clock::now() + ready_timeout;
    while (!fs::exists(ready)) {
        if (!running()) {
            throw std::runtime_error("gamestore-server exited before it was ready; see " + log.string());
        }
        if (Clock::now() >= deadline) {
            kill9();
            throw std::runtime_error("gamestore-server was not ready within " +
                                     std::to_string(ready_timeout.count()) + " ms; see " + log.string());
        }
        ::poll(nullptr, 0, 10);
    }
    // The server writes the ready file atomically (rename), so it is complete.
    std::ifstream in(ready);
    const auto content = nlohmann::json::parse(in);
    split_host_port(content.at("lobby").get<std::string>(), endpoints_.lobby_host, endpoints_.lobby_port);
    split_host_port(content.at("report").get<std::string>(), endpoints_.report_host, endpoints_.report_port);
}

void ServerProcess::kill9() {
    if (pid_ <= 0) {
        return;
    }
    ::kill(pid_, SIGKILL);
    reap_until(pid_, Clock::now() + std::chrono::seconds(10));
    pid_ = -1;
}

bool ServerProcess::stop(std::chrono::milliseconds grace) {
    if (pid_ <= 0) {
        return true;
    }
    ::kill(pid_, SIGTERM);
    if (reap_until(pid_, Clock::now() + grace)) {
        pid_ = -1;
        return true;
    }
    kill9();
    return false;
}

bool ServerProcess::running() {
    if (pid_ <= 0) {
        return false;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

std::vector<fs::path> ServerProcess::log_files() const {
    std::vector<fs::path> logs;
    for (int g = 1; g <= generation_; ++g) {
        logs.push_back(work_dir_ / ("server-" + std::to_string(g) + ".log"));
    }
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(data_dir_ / "logs", ec)) {
        if (entry.is_regular_file()) {
            logs.push_back(entry.path());
        }
    }
    return logs;
}

}  // namespace gamestore::sim
