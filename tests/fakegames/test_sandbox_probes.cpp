// fakegame's sandbox probes, run without a sandbox: every escape it is
// pointed at works and every exhaustion completes, unless a resource limit
// set for the server alone (prlimit) stops it. That is the baseline a
// sandbox must turn around; --fork-loop is left to the sandbox's own tests,
// since without one (and as root, where RLIMIT_NPROC does not apply) it would
// fork up to its safety cap on a shared machine.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/fakegames/fakegame_run.hpp"

using namespace gamestore::fakegame_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uintmax_t kMiB = 1024 * 1024;

// The lines of `text` that start with `prefix`, without it.
std::vector<std::string> lines_with_prefix(const std::string& text, const std::string& prefix) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(prefix, 0) == 0) {
            out.push_back(line.substr(prefix.size()));
        }
    }
    return out;
}

void write_file(const fs::path& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
}

bool is_own_end(const FakegameRun& run, const gamestore::sdk_test::ReceivedLine& l) {
    return l.report && l.report->status == Status::End && l.report->match_id == run.match.match_id;
}

// alice plays; the server reports its own END and exits 0.
void finish_match(FakegameRun& run) {
    auto alice = run.client("alice", {"--move", "4"});
    const auto status = alice->wait(30s);
    REQUIRE_LOGGED(run, status.has_value());
    INFO("client stderr: " << alice->stderr_text());
    CHECK(status->code == 0);
    REQUIRE_LOGGED(run, run.endpoint.wait_until(
                            [&](const ReportEndpoint::Lines& lines) {
                                return std::any_of(lines.begin(), lines.end(), [&](const auto& l) {
                                    return is_own_end(run, l);
                                });
                            },
                            15s));
    const auto exit = run.server->wait(15s);
    REQUIRE_LOGGED(run, exit.has_value());
    CHECK(exit->exited);
    CHECK(exit->code == 0);
}

json attack_result(const FakegameRun& run) {
    const auto lines = lines_with_prefix(run.server->stdout_text(), "ATTACK ");
    INFO("stdout: " << run.server->stdout_text() << "\nstderr: " << run.server_log());
    REQUIRE(lines.size() == 1);
    const auto parsed = json::parse(lines[0], nullptr, false);
    REQUIRE(parsed.is_object());
    for (const char* key : {"db", "store", "tokens", "environ", "processes", "signal", "forge"}) {
        INFO(key);
        REQUIRE(parsed.contains(key));
        CHECK(parsed[key]["ok"].is_boolean());
        CHECK(parsed[key]["detail"].is_string());
    }
    CHECK(parsed.size() == 7);
    CHECK(parsed["processes"]["count"].is_number_unsigned());
    return parsed;
}

}  // namespace

TEST_CASE("fakegame --attack without a sandbox: every escape it is pointed at works",
          "[fakegame][integration][sandbox]") {
    gamestore::sdk_test::TempDir targets;
    const auto db = targets.path() / "gamestore.db";
    write_file(db, std::string("SQLite format 3\0", 16) + "and the rest of the database");
    const auto store = targets.path() / "store";
    fs::create_directory(store);
    // A data directory's matches/ with another match's private directory.
    const auto matches = targets.path() / "matches";
    const auto foreign = matches / "m-foreign";
    fs::create_directories(foreign);
    write_file(foreign / "report_token", "foreign-report-secret\n");
    write_file(foreign / "client_token", "foreign-client-secret\n");
    write_file(foreign / "players.json", R"(["mallory","trent"])");

    FakegameRun run({"alice"}, {"--attack", "--attack-db", db.string(), "--attack-store",
                                store.string(), "--attack-matches", matches.string(),
                                "--attack-signal", std::to_string(::getpid())});
    const auto forged = [](const gamestore::sdk_test::ReceivedLine& l) {
        const auto j = json::parse(l.line, nullptr, false);
        return j.is_object() && j.value("match_id", "") == "m-foreign";
    };
    // "forge" is the last attempt; the ATTACK line follows it, then the match.
    REQUIRE_LOGGED(run, run.endpoint.wait_until(
                            [&](const ReportEndpoint::Lines& lines) {
                                return std::any_of(lines.begin(), lines.end(), forged);
                            },
                            15s));
    finish_match(run);

    const auto attack = attack_result(run);
    INFO(attack.dump(2));
    CHECK(attack["db"]["ok"] == true);
    CHECK_THAT(attack["db"]["detail"].get<std::string>(), Catch::Contains("SQLite format 3"));
    CHECK(attack["store"]["ok"] == true);
    CHECK(fs::is_empty(store));  // it removed what it created
    CHECK(attack["tokens"]["ok"] == true);
    CHECK_THAT(attack["tokens"]["detail"].get<std::string>(), Catch::Contains("m-foreign"));
    CHECK(attack["signal"]["ok"] == true);
    // At least the test itself, its runner and the server are visible.
    CHECK(attack["processes"]["ok"] == true);
    CHECK(attack["processes"]["count"].get<int>() >= 3);
    CHECK(attack["forge"]["ok"] == true);
    CHECK_THAT(attack["forge"]["detail"].get<std::string>(), Catch::Contains("m-foreign"));
    // The secrets it read are used, never printed.
    for (const auto& text : {run.server->stdout_text(), run.server_log()}) {
        CHECK(text.find("foreign-report-secret") == std::string::npos);
        CHECK(text.find("foreign-client-secret") == std::string::npos);
    }

    // The forged END: fakegame's END shape, with the stolen identity, on a
    // connection of its own.
    const auto lines = run.endpoint.lines();
    std::vector<json> forgeries;
    int forged_connection = 0;
    for (const auto& l : lines) {
        if (forged(l)) {
            forgeries.push_back(json::parse(l.line));
            forged_connection = l.connection;
        }
    }
    REQUIRE(forgeries.size() == 1);
    const auto& end = forgeries[0];
    CHECK(end["type"] == "GAME.REPORT");
    CHECK(end["status"] == "END");
    CHECK(end["report_token"] == "foreign-report-secret");
    CHECK(end["room_id"] == 0);
    CHECK(end["winner"] == "mallory");
    REQUIRE(end["results"].size() == 2);
    CHECK(end["results"][0]["player"] == "mallory");
    CHECK(end["results"][0]["outcome"] == "WIN");
    CHECK(end["results"][1]["player"] == "trent");
    const auto started = run.endpoint.reports_with(Status::Started);
    REQUIRE(started.size() == 1);
    CHECK(started[0].connection != forged_connection);
}

TEST_CASE("fakegame --attack without targets only looks around /proc",
          "[fakegame][integration][sandbox]") {
    FakegameRun run({"alice"}, {"--attack"});
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
    finish_match(run);
    const auto attack = attack_result(run);
    INFO(attack.dump(2));
    for (const char* key : {"db", "store", "tokens", "signal"}) {
        INFO(key);
        CHECK(attack[key] == json{{"ok", false}, {"detail", "not asked"}});
    }
    CHECK(attack["processes"]["ok"] == true);
}

TEST_CASE("fakegame attack targets need --attack", "[fakegame][integration][sandbox]") {
    gamestore::sdk_test::TempDir dir;
    ChildProcess server({kFakegame, "server", "--attack-db", "/etc/hostname"},
                        {{"PATH", "/usr/bin:/bin"}}, dir.path() / "out", dir.path() / "err");
    const auto exit = server.wait(10s);
    REQUIRE(exit);
    CHECK(exit->code == 2);
    CHECK_THAT(server.stderr_text(), Catch::Contains("--attack"));
}

TEST_CASE("fakegame --write-beside keeps DIR/server.log next to the server",
          "[fakegame][integration][sandbox]") {
    SECTION("a writable current directory") {
        FakegameRun run({"alice"}, {"--write-beside", "logs"});
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
        finish_match(run);
        CHECK(gamestore::sdk_test::read_text(run.game_dir() / "logs" / "server.log") ==
              "started match " + run.match.match_id +
                  "\nplayer alice connected (seat 0)\nmatch ended with 1 results\n");
    }
    SECTION("a directory it cannot create: exit 1 before binding") {
        FakegameRun run({"alice"}, {"--write-beside", "/dev/null/logs"});
        const auto exit = run.server->wait(15s);
        REQUIRE_LOGGED(run, exit.has_value());
        CHECK(exit->exited);
        CHECK(exit->code == 1);
        CHECK(run.server->stdout_text() ==
              "WRITE_BESIDE: cannot write /dev/null/logs/server.log: Not a directory\n");
        CHECK(run.endpoint.lines().empty());
    }
}

TEST_CASE("fakegame --write-file-mb writes big.bin, unless a file-size limit kills it",
          "[fakegame][integration][sandbox]") {
    SECTION("no limit") {
        FakegameRun run({"alice"}, {"--write-file-mb", "2"});
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
        finish_match(run);
        CHECK(lines_with_prefix(run.server->stdout_text(), "WRITE_FILE: ") ==
              std::vector<std::string>{"wrote 2 MiB"});
        CHECK(fs::file_size(run.game_dir() / "big.bin") == 2 * kMiB);
    }
    SECTION("RLIMIT_FSIZE of 1 MiB: SIGXFSZ, not a write error") {
        FakegameRun run({"alice"}, {"--write-file-mb", "2"}, "5", {},
                        {"/usr/bin/prlimit", "--fsize=1048576", "--core=0", "--"});
        const auto exit = run.server->wait(15s);
        REQUIRE_LOGGED(run, exit.has_value());
        CHECK(exit->signal == SIGXFSZ);
        CHECK(fs::file_size(run.game_dir() / "big.bin") == kMiB);
        CHECK(lines_with_prefix(run.server->stdout_text(), "WRITE_FILE: ").empty());
    }
}

TEST_CASE("fakegame --allocate-mb holds the memory, or aborts when it runs out",
          "[fakegame][integration][sandbox]") {
    SECTION("no limit") {
        FakegameRun run({"alice"}, {"--allocate-mb", "32"});
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
        finish_match(run);
        CHECK(lines_with_prefix(run.server->stdout_text(), "ALLOCATE: ") ==
              std::vector<std::string>{"holding 32 MiB"});
    }
    SECTION("RLIMIT_AS of 512 MiB: out of memory, then abort()") {
        FakegameRun run({"alice"}, {"--allocate-mb", "1024"}, "5", {},
                        {"/usr/bin/prlimit", "--as=536870912", "--core=0", "--"});
        const auto exit = run.server->wait(15s);
        REQUIRE_LOGGED(run, exit.has_value());
        CHECK(exit->signal == SIGABRT);
        const auto lines = lines_with_prefix(run.server->stdout_text(), "ALLOCATE: ");
        REQUIRE(lines.size() == 1);
        CHECK_THAT(lines[0], Catch::StartsWith("out of memory after "));
    }
}
