#include "tests/support/server_fixture.hpp"

#include <signal.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include "tests/support/pg_cluster.hpp"

namespace gamestore::testing {

namespace {
void split_host_port(const std::string& text, std::string& host, unsigned short& port) {
    const auto colon = text.rfind(':');
    host = text.substr(0, colon);
    if (!host.empty() && host.front() == '[') {
        host = host.substr(1, host.size() - 2);
    }
    port = static_cast<unsigned short>(std::stoi(text.substr(colon + 1)));
}
}  // namespace

namespace {

std::mutex databases_mutex;
std::map<std::filesystem::path, std::string> databases;  // by canonical data dir

}  // namespace

std::string test_database_for(const std::filesystem::path& data_dir) {
    std::lock_guard lock(databases_mutex);
    const auto key = std::filesystem::weakly_canonical(data_dir);
    if (auto it = databases.find(key); it != databases.end())
        return it->second;
    const char* chosen = std::getenv("GAMESTORE_TEST_STORE");
    if (chosen == nullptr || std::string_view(chosen) != "postgresql")
        return {};
    return databases.emplace(key, PgCluster::shared().create_schema()).first->second;
}

void use_test_database(const std::filesystem::path& data_dir, const std::string& database) {
    std::lock_guard lock(databases_mutex);
    databases[std::filesystem::weakly_canonical(data_dir)] = database;
}

ServerFixture::ServerFixture(std::vector<std::string> extra_args, const std::filesystem::path& data_dir)
    : temp_("gamestore-server") {
    // A relative data_dir is passed as is, with the server running in the
    // fixture's temp dir (like an admin running it from its own directory).
    const bool relative = !data_dir.empty() && data_dir.is_relative();
    data_dir_ = data_dir.empty() ? temp_.path() / "var" : (relative ? temp_.path() / data_dir : data_dir);
    log_file_ = temp_.path() / "server.log";
    const auto ready = temp_.path() / "ready.json";
    std::vector<std::string> argv = {binary("gamestore-server").string(),
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--report-listen",
                                     "127.0.0.1:0",
                                     "--http-listen",
                                     "127.0.0.1:0",
                                     "--data-dir",
                                     relative ? data_dir.string() : data_dir_.string(),
                                     "--ready-file",
                                     ready.string(),
                                     "--log-level",
                                     "debug"};
    if (const auto database = test_database_for(data_dir_); !database.empty()) {
        argv.push_back("--database");
        argv.push_back(database);
    }
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    // Debugging aid: GAMESTORE_TEST_SERVER_WRAPPER=/usr/bin/valgrind runs the
    // server under that program.
    if (const char* wrapper = std::getenv("GAMESTORE_TEST_SERVER_WRAPPER")) {
        argv.insert(argv.begin(), wrapper);
    }
    SpawnOptions options;
    options.argv = argv;
    if (relative) {
        options.cwd = temp_.path();
    }
    options.stdout_file = log_file_;
    options.stderr_file = log_file_;
    process_.emplace(options);
    if (!wait_for_file(ready, std::chrono::seconds(30))) {
        throw std::runtime_error("gamestore-server did not become ready; log:\n" + log());
    }
    const auto content = nlohmann::json::parse(read_file(ready));
    split_host_port(content.at("lobby").get<std::string>(), endpoints_.lobby_host, endpoints_.lobby_port);
    split_host_port(content.at("report").get<std::string>(), endpoints_.report_host, endpoints_.report_port);
    split_host_port(content.at("http").get<std::string>(), endpoints_.http_host,
                    endpoints_.http_port);
}

ServerFixture::~ServerFixture() {
    // Debugging aid: GAMESTORE_KEEP_TEST_LOGS=DIR keeps every server log.
    if (const char* keep = std::getenv("GAMESTORE_KEEP_TEST_LOGS")) {
        std::error_code ec;
        std::filesystem::copy_file(log_file_, std::filesystem::path(keep) / ("server-" + std::to_string(process_->pid()) + ".log"),
                                   std::filesystem::copy_options::overwrite_existing, ec);
    }
    if (process_ && process_->running()) {
        process_->signal(SIGTERM);
        if (!process_->wait(std::chrono::seconds(15))) {
            process_->signal(SIGKILL);
            process_->wait(std::chrono::seconds(5));
        }
    }
}

std::string ServerFixture::lobby_address() const {
    return endpoints_.lobby_host + ":" + std::to_string(endpoints_.lobby_port);
}

void ServerFixture::kill_hard() {
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(10));
}

std::optional<int> ServerFixture::stop(std::chrono::milliseconds timeout) {
    process_->signal(SIGTERM);
    return process_->wait_exit_code(timeout);
}

}  // namespace gamestore::testing
