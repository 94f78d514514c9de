#include "tests/cli/cli_harness.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>

#include "platform/packages/sha256.hpp"
#include "platform/packages/zip.hpp"

namespace gamestore::cli_test {

using nlohmann::json;

CliHarness::CliHarness(const testing::ServerFixture& server)
    : scratch_("gamestore-cli"), home_(scratch_.path() / "home"), work_(scratch_.path() / "work"),
      server_(server.lobby_address()) {
    fs::create_directories(work_);
}

CliResult CliHarness::dev(const std::vector<std::string>& args, const std::string& input,
                          const std::map<std::string, std::string>& env) {
    return run(testing::binary("gamestore-dev"), args, input, env);
}

CliResult CliHarness::player(const std::vector<std::string>& args, const std::string& input,
                             const std::map<std::string, std::string>& env) {
    return run(testing::binary("gamestore-player"), args, input, env);
}

testing::SpawnOptions CliHarness::spawn_options(const fs::path& binary, const std::vector<std::string>& args,
                                                const std::string& input,
                                                const std::map<std::string, std::string>& env, fs::path& out,
                                                fs::path& err) {
    const int n = ++runs_;
    const fs::path io = scratch_.path() / "runs";
    fs::create_directories(io);
    const fs::path in = io / (std::to_string(n) + ".in");
    out = io / (std::to_string(n) + ".out");
    err = io / (std::to_string(n) + ".err");
    testing::write_file(in, input);

    testing::SpawnOptions options;
    options.argv.push_back(binary.string());
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    // Everything the tools read from the environment is pinned, so the
    // developer's own GAMESTORE_* settings never leak into a test.
    options.env = {{"GAMESTORE_SERVER", server_},
                   {"GAMESTORE_HOME", home_.string()},
                   {"GAMESTORE_USER", ""},
                   {"GAMESTORE_PASSWORD", kPassword},
                   {"XDG_DATA_HOME", (scratch_.path() / "xdg").string()}};
    for (const auto& [key, value] : env) {
        options.env[key] = value;
    }
    options.stdin_file = in;
    options.stdout_file = out;
    options.stderr_file = err;
    options.cwd = work_;
    return options;
}

CliResult CliHarness::run(const fs::path& binary, const std::vector<std::string>& args, const std::string& input,
                          const std::map<std::string, std::string>& env) {
    fs::path out;
    fs::path err;
    testing::ChildProcess child(spawn_options(binary, args, input, env, out, err));
    CliResult result;
    result.code = child.wait_exit_code(std::chrono::seconds(120)).value_or(-1000);
    result.out = testing::read_file(out);
    result.err = testing::read_file(err);
    return result;
}

RunningCli CliHarness::start_player(const std::vector<std::string>& args,
                                    const std::map<std::string, std::string>& env, const fs::path& stdin_path,
                                    bool own_session) {
    RunningCli running;
    auto options = spawn_options(testing::binary("gamestore-player"), args, "", env,
                                 running.out_file, running.err_file);
    if (!stdin_path.empty()) {
        options.stdin_file = stdin_path;
    }
    options.new_session = own_session;
    running.process = std::make_unique<testing::ChildProcess>(options);
    return running;
}

std::pair<CliResult, CliResult> finish_match_ok(RunningCli& host, RunningCli& guest) {
    auto host_result = host.finish(std::chrono::seconds(150));
    auto guest_result = guest.finish(std::chrono::seconds(150));
    INFO("host: " << host_result.text());
    INFO("guest: " << guest_result.text());
    REQUIRE(host_result.code == 0);
    REQUIRE(guest_result.code == 0);
    return {std::move(host_result), std::move(guest_result)};
}

CliResult RunningCli::finish(std::chrono::milliseconds timeout) {
    CliResult result;
    result.code = process->wait_exit_code(timeout).value_or(-1000);
    result.out = testing::read_file(out_file);
    result.err = testing::read_file(err_file);
    return result;
}

std::string manifest_text(const std::string& game, const std::string& version, const std::string& server_command) {
    return json{{"game_name", game},
                {"version", version},
                {"type", "CLI"},
                {"min_players", 2},
                {"max_players", 2},
                {"description", "A test game."},
                {"server", {{"command", server_command}}},
                {"client", {{"command", "python3 client.py"}}}}
               .dump(2);
}

fs::path make_package_dir(const fs::path& parent, const std::string& game, const std::string& version,
                          const std::string& payload) {
    const fs::path dir = parent / (game + "-" + version);
    fs::create_directories(dir);
    testing::write_file(dir / "manifest.json", manifest_text(game, version));
    testing::write_file(dir / "server.py", "print('server of " + game + " " + version + "')\n");
    testing::write_file(dir / "client.py", "print('client of " + game + " " + version + "')\n");
    if (!payload.empty()) {
        testing::write_file(dir / "data" / "payload.bin", payload);
    }
    return dir;
}

fs::path make_package_zip(const fs::path& parent, const std::string& game, const std::string& version,
                          const std::string& payload) {
    const fs::path dir = make_package_dir(parent / "src", game, version, payload);
    const fs::path zip = parent / (game + "-" + version + ".zip");
    packages::create_zip(dir, zip);
    return zip;
}

std::string noise(std::size_t size, unsigned seed) {
    std::mt19937 engine(seed);
    std::string bytes(size, '\0');
    for (auto& byte : bytes) {
        byte = static_cast<char>(engine() & 0xff);
    }
    return bytes;
}

std::unique_ptr<client::SyncLobbyClient> sign_in(const testing::ServerFixture& server, const std::string& role,
                                                 const std::string& name, bool register_first) {
    auto client = std::make_unique<client::SyncLobbyClient>();
    client->connect(server.endpoints().lobby_host, server.endpoints().lobby_port);
    const json credentials = {{"role", role}, {"name", name}, {"password", kPassword}};
    if (register_first) {
        const auto registered = client->call("auth.register", credentials);
        if (!registered.ok) {
            throw std::runtime_error("auth.register failed: " + registered.message);
        }
    }
    const auto login = client->call("auth.login", credentials);
    if (!login.ok) {
        throw std::runtime_error("auth.login failed: " + login.message);
    }
    return client;
}

protocol::Response publish(client::SyncLobbyClient& client, const fs::path& zip, std::string sha256) {
    if (sha256.empty()) {
        sha256 = packages::sha256_file(zip);
    }
    client::CallOptions options;
    options.timeout = std::chrono::seconds(60);
    options.upload = client::Upload{zip, 0, static_cast<std::uint64_t>(fs::file_size(zip))};
    return client.call("dev.publish", {{"sha256", sha256}}, options);
}

std::set<std::string> stored_files(const fs::path& data_dir) {
    std::set<std::string> files;
    for (const char* sub : {"tmp", "packages", "games"}) {
        std::error_code ec;
        for (fs::recursive_directory_iterator it(data_dir / sub, ec), end; !ec && it != end; it.increment(ec)) {
            files.insert(fs::relative(it->path(), data_dir).string());
        }
    }
    return files;
}

std::vector<std::string> temp_files(const fs::path& data_dir) {
    std::vector<std::string> files;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(data_dir / "tmp", ec), end; !ec && it != end; it.increment(ec)) {
        files.push_back(it->path().string());
    }
    return files;
}

std::string file_text(const fs::path& path) {
    return testing::read_file(path);
}

}  // namespace gamestore::cli_test
