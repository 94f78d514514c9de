// The game sandbox with real bubblewrap: what a game inside can and cannot
// reach, its limits, and the same script unconfined (--sandbox none) to show
// the checks can fail. Run as root (the sandbox then drops to `nobody`) and,
// by ci/test, as an unprivileged user.

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "platform/launch/sandbox.hpp"
#include "tests/support/process.hpp"

namespace fs = std::filesystem;
using gamestore::launch::MatchFile;
using gamestore::launch::ProcessSpec;
using gamestore::launch::Sandbox;
using gamestore::launch::SandboxedLaunch;
using gamestore::launch::SandboxLimits;
using gamestore::launch::SandboxMode;
using gamestore::launch::SandboxRequest;
using gamestore::launch::SandboxSettings;
using gamestore::testing::TempDir;

namespace {

SandboxSettings settings(SandboxMode mode, SandboxLimits limits = {}) {
    SandboxSettings s;
    s.mode = mode;
    s.limits = limits;
    s.init_program = gamestore::testing::binary("gamestore-sandbox-init");
    return s;
}

// A package directory the sandbox user can read, like the store's copy.
fs::path make_package(const fs::path& parent) {
    const auto root = parent / "package";
    fs::create_directories(root / "data");
    gamestore::testing::write_file(root / "game.txt", "original\n");
    gamestore::testing::write_file(root / "data" / "level.txt", "level 1\n");
    for (const auto& path : {root, root / "data"}) {
        ::chmod(path.c_str(), 0755);
    }
    for (const auto& path : {root / "game.txt", root / "data" / "level.txt"}) {
        ::chmod(path.c_str(), 0644);
    }
    return root;
}

struct Ran {
    int status = -1;
    std::string output;
    std::map<std::string, std::string> facts;  // "key=value" lines of the output
};

// Runs `script` with sh as the game, inside `sandbox`; waits (bounded) for it.
Ran run_game(const Sandbox& sandbox, const fs::path& package, const fs::path& work,
             const std::string& script,
             std::vector<std::pair<std::string, std::string>> extra_env = {}) {
    ProcessSpec game;
    game.argv = {"sh", "-c", script};
    game.env = sandbox.base_environment();
    for (auto& entry : extra_env) {
        game.env.push_back(std::move(entry));
    }
    game.output_file = work / "output.txt";
    fs::remove(game.output_file);
    SandboxRequest request;
    request.package_root = package;
    request.package_bytes = gamestore::launch::package_view_bytes(package);
    request.files = {MatchFile{"report_token", "secret-report-token"},
                     MatchFile{"players.json", "[\"a\",\"b\"]"}};
    auto wrapped = sandbox.wrap(std::move(game), request);
    REQUIRE(std::holds_alternative<SandboxedLaunch>(wrapped));
    auto& launch = std::get<SandboxedLaunch>(wrapped);
    auto spawned = gamestore::launch::spawn_process(launch.process);
    launch.descriptors.clear();
    REQUIRE(std::holds_alternative<gamestore::launch::SpawnedProcess>(spawned));
    const pid_t pid = std::get<gamestore::launch::SpawnedProcess>(spawned).pid;

    Ran ran;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    REQUIRE(pidfd >= 0);
    pollfd exited{pidfd, POLLIN, 0};
    if (::poll(&exited, 1, 60'000) != 1) {
        ::kill(-pid, SIGKILL);
    }
    ::close(pidfd);
    REQUIRE(::waitpid(pid, &ran.status, 0) == pid);
    ran.output = gamestore::testing::read_file(work / "output.txt");
    std::istringstream lines(ran.output);
    for (std::string line; std::getline(lines, line);) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) {
            ran.facts[line.substr(0, eq)] = line.substr(eq + 1);
        }
    }
    return ran;
}

// What a curious game tries; each line is key=value.
const char* const kLookAround = R"(
[ -e "$SECRET" ] && echo secret=visible || echo secret=hidden
echo token=$(cat /sandbox/match/report_token)
echo players=$(cat /sandbox/match/players.json)
echo token_write=$( (echo x > /sandbox/match/report_token) 2>/dev/null && echo yes || echo no)
mkdir -p logs && echo hello > logs/server.log && echo beside=ok || echo beside=fail
echo changed > game.txt && echo overwrite=ok || echo overwrite=fail
echo scratch=$( (echo x > /sandbox/match/scratch) 2>/dev/null && echo yes || echo no)
echo usr_write=$( (touch /usr/gamestore-probe) 2>/dev/null && echo yes || echo no)
echo tmp_write=$( (echo x > /tmp/x) 2>/dev/null && echo yes || echo no)
echo signal=$(kill -0 "$TEST_PID" 2>/dev/null && echo yes || echo no)
set -- /proc/[0-9]*; echo processes=$#
echo cwd=$(pwd)
echo level=$(cat data/level.txt)
echo home=$HOME
)";

}  // namespace

TEST_CASE("a sandboxed game sees its package, its match files and nothing else of the machine",
          "[sandbox]") {
    TempDir temp("gamestore-sandbox");
    const auto package = make_package(temp.path());
    const auto secret = temp.path() / "gamestore.db";
    gamestore::testing::write_file(secret, "password hashes");
    const Sandbox sandbox(settings(SandboxMode::Bwrap));

    const auto ran =
        run_game(sandbox, package, temp.path(), kLookAround,
                 {{"SECRET", secret.string()}, {"TEST_PID", std::to_string(::getpid())}});
    INFO(ran.output);
    CHECK(WIFEXITED(ran.status));
    CHECK(ran.facts.at("secret") == "hidden");
    CHECK(ran.facts.at("token") == "secret-report-token");
    CHECK(ran.facts.at("players") == "[\"a\",\"b\"]");
    CHECK(ran.facts.at("token_write") == "no");
    CHECK(ran.facts.at("scratch") == "yes");
    CHECK(ran.facts.at("beside") == "ok");
    CHECK(ran.facts.at("overwrite") == "ok");
    CHECK(ran.facts.at("usr_write") == "no");
    CHECK(ran.facts.at("tmp_write") == "yes");
    CHECK(ran.facts.at("signal") == "no");
    // bwrap's own init and the shell (the glob is a builtin).
    CHECK(std::stoi(ran.facts.at("processes")) <= 2);
    CHECK(ran.facts.at("cwd") == "/sandbox/game");
    CHECK(ran.facts.at("level") == "level 1");
    CHECK(ran.facts.at("home") == "/sandbox/home");

    // Nothing it wrote reached the package it was copied from.
    CHECK(gamestore::testing::read_file(package / "game.txt") == "original\n");
    CHECK_FALSE(fs::exists(package / "logs"));
}

TEST_CASE("without the sandbox the same game reaches the machine (the checks above can fail)",
          "[sandbox]") {
    TempDir temp("gamestore-sandbox");
    const auto package = make_package(temp.path());
    const auto secret = temp.path() / "gamestore.db";
    gamestore::testing::write_file(secret, "password hashes");
    const Sandbox sandbox(settings(SandboxMode::None));

    const auto ran =
        run_game(sandbox, package, temp.path(),
                 "echo secret=$([ -e \"$SECRET\" ] && echo visible)\n"
                 "echo signal=$(kill -0 \"$TEST_PID\" && echo yes)\n"
                 "set -- /proc/[0-9]*; echo processes=$#\n",
                 {{"SECRET", secret.string()}, {"TEST_PID", std::to_string(::getpid())}});
    INFO(ran.output);
    CHECK(ran.facts.at("secret") == "visible");
    CHECK(ran.facts.at("signal") == "yes");
    CHECK(std::stoi(ran.facts.at("processes")) > 4);
}

TEST_CASE("the sandbox's limits hold: writable view, processes, file size", "[sandbox]") {
    TempDir temp("gamestore-sandbox");
    const auto package = make_package(temp.path());
    SandboxLimits limits;
    limits.writable_bytes = 8 << 20;
    limits.processes = 8;
    limits.file_size_bytes = 4 << 20;
    const Sandbox sandbox(settings(SandboxMode::Bwrap, limits));

    SECTION("the writable view is full at its size") {
        // Files under the file size limit, more of them than the view holds.
        const auto ran = run_game(
            sandbox, package, temp.path(),
            "full=no; for i in 1 2 3 4 5 6; do head -c 3000000 /dev/zero > f$i 2>/dev/null "
            "|| full=yes; done; echo full=$full\n"
            "rm -f f*; echo small=$( (echo x > small) && echo ok)\n");
        INFO(ran.output);
        CHECK(ran.facts.at("full") == "yes");
        CHECK(ran.facts.at("small") == "ok");
    }
    SECTION("the match cannot start more processes than its limit") {
        // dash gives up at the first failed fork: the loop runs in a
        // subshell, and only builtins come after it (a fork would fail).
        const auto ran =
            run_game(sandbox, package, temp.path(),
                     "(i=0; while [ $i -lt 20 ]; do i=$((i+1)); sleep 30 & done) 2>/dev/null\n"
                     "set -- /proc/[0-9]*; echo running=$#\n"
                     "for p in /proc/[0-9]*; do p=${p#/proc/}; [ $p -gt 1 ] && [ $p -ne $$ ] && "
                     "kill -9 $p; done; true\n");
        INFO(ran.output);
        CHECK(std::stoi(ran.facts.at("running")) <= 8);
        CHECK(std::stoi(ran.facts.at("running")) >= 3);
    }
    SECTION("the game runs below the lobby's CPU priority, and so does its session") {
        const auto ran = run_game(sandbox, package, temp.path(),
                                  "echo nice=$(nice)\n"
                                  "read -r group < /proc/self/autogroup; echo autogroup=$group\n");
        INFO(ran.output);
        CHECK(ran.facts.at("nice") == std::to_string(limits.nice));
        // Each game is a session of its own, and with autogroups on the CPU
        // is shared between sessions first: the session's niceness is what
        // keeps 2,000 games from outweighing the lobby (process_launcher).
        if (gamestore::testing::read_file("/proc/sys/kernel/sched_autogroup_enabled") == "1\n") {
            const auto expected = "nice " + std::to_string(limits.nice);
            if (::geteuid() == 0) {
                CHECK(ran.facts.at("autogroup").find(expected) != std::string::npos);
            } else if (ran.facts.at("autogroup").find(expected) == std::string::npos) {
                // Unprivileged, the kernel takes at most ten such changes a
                // second machine-wide; another launch may have had this one.
                WARN("the game's autogroup kept its niceness: " << ran.facts.at("autogroup"));
            }
        }
    }
    SECTION("a game writing past the file size limit is killed, and its end says why") {
        const auto ran =
            run_game(sandbox, package, temp.path(), "exec head -c 6000000 /dev/zero > big\n");
        INFO(ran.output);
        const auto described =
            gamestore::launch::describe_game_exit(ran.status, SandboxMode::Bwrap);
        CHECK(described.find("SIGXFSZ") != std::string::npos);
        CHECK(described.find("file size limit") != std::string::npos);
    }
}

TEST_CASE("a sandbox that cannot work refuses to be created and says how to fix it", "[sandbox]") {
    auto broken = settings(SandboxMode::Bwrap);
    broken.bwrap = "/nonexistent/bwrap";
    try {
        const Sandbox sandbox(broken);
        FAIL("the sandbox was created without bubblewrap");
    } catch (const std::runtime_error& e) {
        const std::string message = e.what();
        CHECK(message.find("apt-get install bubblewrap") != std::string::npos);
        CHECK(message.find("--sandbox none") != std::string::npos);
    }
    auto no_init = settings(SandboxMode::Bwrap);
    no_init.init_program = "/nonexistent/gamestore-sandbox-init";
    CHECK_THROWS_WITH(Sandbox(no_init), Catch::Contains("--sandbox-init"));
}

TEST_CASE("bwrap's command line carries no secret and numbers the descriptors it is handed",
          "[sandbox]") {
    gamestore::launch::BwrapPlan plan;
    plan.bwrap = "/usr/bin/bwrap";
    plan.game_argv = {"python3", "server.py", "--port", "17000"};
    plan.file_names = {"client_token", "report_token", "players.json"};
    plan.tmpfs_bytes = 8 << 20;
    plan.cwd_in_package = "server";
    const auto args = gamestore::launch::bwrap_arguments(plan);
    const auto has = [&](const std::vector<std::string>& run) {
        return std::search(args.begin(), args.end(), run.begin(), run.end()) != args.end();
    };
    CHECK(has({"--unshare-user", "--unshare-pid"}));
    CHECK(has({"--size", std::to_string(8 << 20), "--tmpfs", "/sandbox"}));
    CHECK(has({"--perms", "0444", "--ro-bind-data", "5", "/sandbox/match/client_token"}));
    CHECK(has({"--perms", "0444", "--ro-bind-data", "7", "/sandbox/match/players.json"}));
    CHECK(has({"--ro-bind-data", "4", "/run/gamestore-init"}));
    CHECK(has({"--package-fd", "3"}));
    CHECK(has({"--chdir", "server"}));
    CHECK(has({"--", "python3", "server.py", "--port", "17000"}));
    CHECK(args.back() == "17000");
    CHECK(std::find(args.begin(), args.end(), "--share-net") == args.end());
    CHECK(std::find(args.begin(), args.end(), "--unshare-net") == args.end());
}

TEST_CASE("a sandboxed game's end is described with the signal bwrap reports as 128+N",
          "[sandbox]") {
    using gamestore::launch::describe_game_exit;
    CHECK(describe_game_exit(W_EXITCODE(128 + SIGXCPU, 0), SandboxMode::Bwrap)
              .find("CPU time limit") != std::string::npos);
    CHECK(describe_game_exit(W_EXITCODE(3, 0), SandboxMode::Bwrap) == "exit code 3");
    CHECK(describe_game_exit(W_EXITCODE(137, 0), SandboxMode::None) == "exit code 137");
    CHECK(describe_game_exit(SIGSEGV, SandboxMode::None).find("SIGSEGV") != std::string::npos);
}
