// Running under a service manager (docs/OPERATIONS.md "Installing"): the
// sd_notify messages on a fake NOTIFY_SOCKET, --log-format json on the real
// binary, and systemd-analyze's verdict on the shipped unit.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/http_get.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"
#include "tests/support/server_fixture.hpp"

using namespace std::chrono_literals;
using gamestore::testing::ServerFixture;
using gamestore::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A datagram socket standing in for systemd's notification socket.
class FakeNotifySocket {
  public:
    explicit FakeNotifySocket(const fs::path& path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        REQUIRE(path.string().size() < sizeof(address.sun_path));
        std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
        REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
    }
    ~FakeNotifySocket() { ::close(fd_); }
    FakeNotifySocket(const FakeNotifySocket&) = delete;
    FakeNotifySocket& operator=(const FakeNotifySocket&) = delete;

    // The next datagram, or "" at the deadline.
    std::string receive(std::chrono::milliseconds timeout) {
        pollfd ready{fd_, POLLIN, 0};
        if (::poll(&ready, 1, static_cast<int>(timeout.count())) != 1) {
            return {};
        }
        char buffer[4096];
        const auto got = ::recv(fd_, buffer, sizeof(buffer), 0);
        return got > 0 ? std::string(buffer, static_cast<std::size_t>(got)) : std::string();
    }

  private:
    int fd_ = -1;
};

}  // namespace

TEST_CASE("READY=1 comes once every port listens, STOPPING=1 on SIGTERM; json logs parse",
          "[service][integration]") {
    TempDir temp("notify");
    const auto socket_path = temp.path() / "notify.sock";
    FakeNotifySocket notify(socket_path);
    ::setenv("NOTIFY_SOCKET", socket_path.c_str(), 1);
    ServerFixture server({"--fast-password-hash", "--log-format", "json"});
    ::unsetenv("NOTIFY_SOCKET");

    const auto ready = notify.receive(30s);
    INFO(ready);
    CHECK(ready.rfind("READY=1\n", 0) == 0);
    CHECK(ready.find("MAINPID=" + std::to_string(server.process().pid())) != std::string::npos);
    // Told ready, every port answers.
    const auto& at = server.endpoints();
    CHECK(gamestore::testing::http_get(at.http_host, at.http_port, "/readyz").status == 200);
    gamestore::testing::RawConnection lobby(at.lobby_host, at.lobby_port);
    REQUIRE(lobby.send(R"({"id":1,"op":"ping"})"
                       "\n"));
    const auto pong = lobby.read_line(10s);
    REQUIRE(pong);
    CHECK(pong->find("pong") != std::string::npos);

    REQUIRE(server.stop() == 0);
    const auto stopping = notify.receive(10s);
    CHECK(stopping.rfind("STOPPING=1", 0) == 0);

    std::istringstream log(server.log());
    int lines = 0;
    for (std::string line; std::getline(log, line);) {
        if (line.empty()) {
            continue;
        }
        INFO(line);
        const auto parsed = json::parse(line);
        CHECK(parsed.contains("time"));
        CHECK(parsed.contains("level"));
        CHECK(parsed.contains("message"));
        ++lines;
    }
    CHECK(lines > 0);
}

TEST_CASE("systemd-analyze verify accepts the shipped unit", "[service][integration]") {
    const fs::path analyze = "/usr/bin/systemd-analyze";
    if (!fs::exists(analyze)) {
        WARN("systemd-analyze is not installed; the unit is not verified");
        return;
    }
    TempDir temp("unit");
    // The unit names the installed path; verify checks that it exists, so
    // the copy points at this build's binary.
    std::ifstream in(gamestore::testing::source_dir() / "dist" / "systemd" /
                     "gamestore-server.service");
    std::stringstream text;
    text << in.rdbuf();
    std::string unit = text.str();
    const std::string installed = "/usr/local/bin/gamestore-server";
    const auto at = unit.find(installed);
    REQUIRE(at != std::string::npos);
    unit.replace(at, installed.size(), gamestore::testing::binary("gamestore-server").string());
    const auto copy = temp.path() / "gamestore-server.service";
    std::ofstream(copy) << unit;

    gamestore::testing::SpawnOptions options;
    options.argv = {analyze.string(), "verify", copy.string()};
    options.stdout_file = temp.path() / "verify.log";
    options.stderr_file = temp.path() / "verify.log";
    gamestore::testing::ChildProcess verify(options);
    CHECK(verify.wait_exit_code(60s) == 0);
    // Unknown or misspelled settings are only warnings: none are allowed.
    CHECK(gamestore::testing::read_file(temp.path() / "verify.log") == "");
}
