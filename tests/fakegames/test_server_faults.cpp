// fakegame server, well behaved and with each fault, observed from outside:
// what reaches the control plane, what the port does, how the process ends.
#include <catch2/catch.hpp>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <set>

#include "gamestore/sdk/handshake.hpp"
#include "gamestore/sdk/net.hpp"
#include "tests/fakegames/fakegame_run.hpp"

using namespace gamestore::fakegame_test;
using namespace std::chrono_literals;
namespace sdk = gamestore::sdk;

namespace {

bool can_connect(int port) {
    try {
        sdk::connect_tcp("127.0.0.1", port, 2s);
        return true;
    } catch (const sdk::NetError&) {
        return false;
    }
}

std::size_t count_status(const FakegameRun& run, Status status) {
    return run.endpoint.reports_with(status).size();
}

// Plays one client to the end and checks it finished.
void play_one(FakegameRun& run, const std::string& player, std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--move", "4"});
    auto c = run.client(player, args);
    const auto status = c->wait(30s);
    REQUIRE_LOGGED(run, status.has_value());
    INFO("client stderr: " << c->stderr_text());
    CHECK(status->code == 0);
    CHECK(client_result(*c)["result"] == "finished");
}

}  // namespace

TEST_CASE("fakegame plays a well-behaved 3-player match to END", "[fakegame][integration]") {
    FakegameRun run({"alice", "bob", "carol"}, {}, "0.2");
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
    const auto started = run.endpoint.reports_with(Status::Started);
    CHECK(started[0].report->port == run.port);
    CHECK(started[0].report->match_id == run.match.match_id);
    CHECK(started[0].report->report_token == run.match.report_token);
    CHECK(started[0].report->room_id == run.match.room_id);
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Heartbeat, 1, 10s));

    auto alice = run.client("alice", {"--move", "5"});
    auto bob = run.client("bob", {"--move", "9"});
    auto carol = run.client("carol", {"--move", "1"});
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 30s));
    const auto exit = run.server->wait(15s);
    REQUIRE_LOGGED(run, exit.has_value());
    CHECK(exit->exited);
    CHECK(exit->code == 0);

    const auto end = run.endpoint.reports_with(Status::End);
    REQUIRE(end.size() == 1);
    REQUIRE(end[0].report->results);
    const auto& results = *end[0].report->results;
    REQUIRE(results.size() == 3);
    CHECK(results[0].player == "alice");
    CHECK(results[0].outcome == gamestore::protocol::Outcome::Lose);
    CHECK(results[0].rank == 2);
    CHECK(results[0].score == 5.0);
    CHECK(results[1].player == "bob");
    CHECK(results[1].outcome == gamestore::protocol::Outcome::Win);
    CHECK(results[1].rank == 1);
    CHECK(results[2].player == "carol");
    CHECK(results[2].rank == 3);
    CHECK(end[0].report->winner == "bob");

    for (auto* c : {alice.get(), bob.get(), carol.get()}) {
        const auto status = c->wait(15s);
        REQUIRE(status);
        INFO("client stderr: " << c->stderr_text());
        CHECK(status->code == 0);
        const auto result = client_result(*c);
        CHECK(result["result"] == "finished");
        CHECK(result["scoreboard"].size() == 3);
    }
    CHECK(client_result(*bob)["outcome"] == "WIN");
    CHECK(client_result(*carol)["outcome"] == "LOSE");
    // Nothing follows END on the control plane.
    CHECK(run.statuses().back() == Status::End);
}

TEST_CASE("fakegame --delay-bind-ms refuses connections until it binds, then reports STARTED",
          "[fakegame][integration]") {
    const auto spawned = std::chrono::steady_clock::now();
    FakegameRun run({"alice"}, {"--delay-bind-ms", "1500"});
    CHECK_FALSE(can_connect(run.port));
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
    // STARTED can only come after the deliberate delay.
    CHECK(run.endpoint.reports_with(Status::Started)[0].at - spawned >= 1500ms);
    CHECK(can_connect(run.port));
}

TEST_CASE("fakegame --exit-before-started exits with the code and reports nothing",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--exit-before-started=7"});
    const auto exit = run.server->wait(15s);
    REQUIRE_LOGGED(run, exit.has_value());
    CHECK(exit->code == 7);
    CHECK(run.endpoint.lines().empty());
}

TEST_CASE("fakegame --exit-after-started-ms dies N ms after STARTED, without END",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--exit-after-started-ms", "1000"}, "0.2");
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
    const auto started_at = run.endpoint.reports_with(Status::Started)[0].at;
    // wait() returns as soon as the process is gone (a pidfd event), so a
    // server that died right after STARTED would be seen well before 1 s.
    const auto exit = run.server->wait(15s);
    const auto exit_seen_at = std::chrono::steady_clock::now();
    REQUIRE_LOGGED(run, exit.has_value());
    CHECK(exit->exited);
    CHECK(exit->code == 1);
    CHECK(exit_seen_at - started_at >= 1000ms);
    // It was a live server in between: heartbeats (every 0.2 s) came.
    CHECK(count_status(run, Status::Heartbeat) >= 1);
    CHECK(count_status(run, Status::End) == 0);
    CHECK(count_status(run, Status::Error) == 0);
}

TEST_CASE("fakegame --never-started serves players but never reports STARTED",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--never-started"}, "0.2");
    play_one(run, "alice");
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 15s));
    CHECK(count_status(run, Status::Started) == 0);
    CHECK(count_status(run, Status::Heartbeat) == 0);
}

TEST_CASE("fakegame --stop-heartbeats-after sends that many heartbeats, then none",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--stop-heartbeats-after", "2"}, "0.2");
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Heartbeat, 2, 15s));
    // Seven intervals of silence: waiting for a third heartbeat must time out.
    CHECK_FALSE(run.endpoint.wait_for_status(Status::Heartbeat, 3, 1400ms));
    run.server->signal_group(SIGTERM);
    const auto exit = run.server->wait(10s);
    REQUIRE(exit);
    CHECK(exit->code == 0);
}

TEST_CASE("fakegame --heartbeat-interval-ms overrides the declared cadence",
          "[fakegame][integration]") {
    // Declared 5 s; the fault makes it 300 ms.
    FakegameRun run({"alice"}, {"--heartbeat-interval-ms", "300"}, "5");
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Heartbeat, 5, 15s));
    const auto beats = run.endpoint.reports_with(Status::Heartbeat);
    // The mean of four gaps, with a loose band around 300 ms: this shows the
    // configured cadence (not the declared 5 s, not a burst), not the
    // scheduler's precision.
    const auto mean =
        std::chrono::duration_cast<std::chrono::milliseconds>(beats[4].at - beats[0].at) / 4;
    INFO("mean heartbeat gap " << mean.count() << " ms");
    CHECK(mean >= 150ms);
    CHECK(mean <= 900ms);
}

namespace {

std::set<Status> statuses_of(const std::vector<gamestore::sdk_test::ReceivedLine>& reports) {
    std::set<Status> out;
    for (const auto& r : reports) {
        out.insert(r.report->status);
    }
    return out;
}

}  // namespace

TEST_CASE("fakegame --stale-match-id and --wrong-report-token show in every report",
          "[fakegame][integration]") {
    // A whole match (STARTED, heartbeats every 0.2 s, END): the faulty field
    // must be in every report, not only in the first one.
    SECTION("stale match id") {
        FakegameRun run({"alice"}, {"--stale-match-id"}, "0.2");
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Heartbeat, 1, 15s));
        play_one(run, "alice");
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 15s));
        REQUIRE(run.server->wait(15s));
        const auto reports = run.endpoint.reports();
        CHECK(statuses_of(reports) ==
              std::set<Status>{Status::Started, Status::Heartbeat, Status::End});
        for (const auto& r : reports) {
            INFO(r.line);
            CHECK(r.report->match_id == run.match.match_id + "-stale");
            CHECK(r.report->report_token == run.match.report_token);
        }
    }
    SECTION("wrong report token") {
        FakegameRun run({"alice"}, {"--wrong-report-token"}, "0.2");
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Heartbeat, 1, 15s));
        play_one(run, "alice");
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 15s));
        REQUIRE(run.server->wait(15s));
        const auto reports = run.endpoint.reports();
        CHECK(statuses_of(reports) ==
              std::set<Status>{Status::Started, Status::Heartbeat, Status::End});
        for (const auto& r : reports) {
            INFO(r.line);
            CHECK(r.report->report_token == "fakegame-wrong-report-token");
            CHECK(r.report->match_id == run.match.match_id);
        }
    }
}

TEST_CASE("Two fakegame faults combine: --stale-match-id with --end-then-error",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--stale-match-id", "--end-then-error"}, "0.2");
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Heartbeat, 1, 15s));
    play_one(run, "alice");
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Error, 1, 15s));
    const auto exit = run.server->wait(15s);
    REQUIRE_LOGGED(run, exit.has_value());
    CHECK(exit->code == 0);
    // The lifecycle fault shapes the sequence...
    const auto s = run.statuses();
    REQUIRE(s.size() >= 3);
    CHECK(s.front() == Status::Started);
    CHECK(std::vector<Status>(s.end() - 2, s.end()) ==
          std::vector<Status>{Status::End, Status::Error});
    // ...and the identity fault is in every report of it, the last two included.
    for (const auto& r : run.endpoint.reports()) {
        INFO(r.line);
        CHECK(r.report->match_id == run.match.match_id + "-stale");
    }
}

TEST_CASE("fakegame lifecycle faults produce the report sequences they name",
          "[fakegame][integration]") {
    SECTION("--duplicate-started") {
        FakegameRun run({"alice"}, {"--duplicate-started"});
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 2, 15s));
        play_one(run, "alice");
    }
    SECTION("--end-twice") {
        FakegameRun run({"alice"}, {"--end-twice"});
        play_one(run, "alice");
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 2, 15s));
        REQUIRE(run.server->wait(15s));
        const auto s = run.statuses();
        CHECK(std::vector<Status>(s.end() - 2, s.end()) ==
              std::vector<Status>{Status::End, Status::End});
    }
    SECTION("--end-then-error") {
        FakegameRun run({"alice"}, {"--end-then-error"});
        play_one(run, "alice");
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Error, 1, 15s));
        REQUIRE(run.server->wait(15s));
        const auto s = run.statuses();
        CHECK(std::vector<Status>(s.end() - 2, s.end()) ==
              std::vector<Status>{Status::End, Status::Error});
    }
    SECTION("--result-non-member") {
        FakegameRun run({"alice"}, {"--result-non-member", "mallory"});
        play_one(run, "alice");
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 15s));
        const auto results = *run.endpoint.reports_with(Status::End)[0].report->results;
        REQUIRE(results.size() == 2);
        CHECK(results[0].player == "alice");
        CHECK(results[1].player == "mallory");
    }
    SECTION("--started-wrong-port") {
        FakegameRun run({"alice"}, {"--started-wrong-port"});
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
        CHECK(run.endpoint.reports_with(Status::Started)[0].report->port == run.port + 1);
        // It still listens on its real port.
        play_one(run, "alice");
    }
}

TEST_CASE("fakegame --flood-rate sends the announced number of lines at that rate",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--flood-rate", "500", "--flood-seconds", "1"});
    const auto is_flood = [](const auto& l) {
        return l.line.find("\"flood_seq\"") != std::string::npos;
    };
    REQUIRE_LOGGED(run, run.endpoint.wait_until(
                            [&](const ReportEndpoint::Lines& lines) {
                                return std::count_if(lines.begin(), lines.end(), is_flood) >= 500;
                            },
                            20s));
    const auto lines = run.endpoint.lines();
    std::vector<gamestore::sdk_test::ReceivedLine> flood;
    std::copy_if(lines.begin(), lines.end(), std::back_inserter(flood), is_flood);
    CHECK(flood.size() == 500);
    // 500 lines at 500 msg/s take about 1 s. A loose band: at least half of
    // that (not a burst, so a rate limiter has something to measure) and at
    // most several times it (the pacing does not stall).
    const auto span =
        std::chrono::duration_cast<std::chrono::milliseconds>(flood.back().at - flood.front().at);
    INFO("500 flood lines arrived over " << span.count() << " ms");
    CHECK(span >= 500ms);
    CHECK(span <= 5000ms);
    // The flood has its own connection; the game's reports keep theirs.
    const auto started = run.endpoint.reports_with(Status::Started);
    REQUIRE(started.size() == 1);
    for (std::size_t i = 0; i < flood.size(); ++i) {
        CHECK(flood[i].connection != started[0].connection);
        REQUIRE(flood[i].report);
        CHECK(flood[i].report->status == Status::Heartbeat);
        // In order, none lost or repeated.
        CHECK(nlohmann::json::parse(flood[i].line)["flood_seq"] == i);
    }
}

TEST_CASE("fakegame --oversized-line sends one line of exactly that many bytes",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--oversized-line", "100000"});
    REQUIRE_LOGGED(run, run.endpoint.wait_until(
                            [](const auto& lines) {
                                return std::any_of(lines.begin(), lines.end(), [](const auto& l) {
                                    return l.line.size() == 100000;
                                });
                            },
                            15s));
    for (const auto& l : run.endpoint.lines()) {
        // No secret rides in the oversized line.
        CHECK(l.line.size() <= 100000);
        if (l.line.size() == 100000) {
            CHECK(l.line.find(run.match.report_token) == std::string::npos);
        }
    }
}

TEST_CASE("fakegame --malformed-json sends N bad lines, then a valid report on the same connection",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--malformed-json", "4"});
    REQUIRE_LOGGED(run,
                   run.endpoint.wait_until(
                       [](const auto& lines) {
                           const auto bad = std::count_if(lines.begin(), lines.end(),
                                                          [](const auto& l) { return !l.report; });
                           return bad >= 4 && lines.size() >= 6;  // + STARTED + the valid heartbeat
                       },
                       15s));
    const auto lines = run.endpoint.lines();
    int bad_connection = 0;
    int bad = 0;
    for (const auto& l : lines) {
        if (!l.report) {
            CHECK(!l.parse_error.empty());
            bad_connection = l.connection;
            ++bad;
        }
    }
    CHECK(bad == 4);
    const auto after = std::find_if(lines.begin(), lines.end(), [&](const auto& l) {
        return l.connection == bad_connection && l.report;
    });
    REQUIRE(after != lines.end());
    CHECK(after->report->status == Status::Heartbeat);
}

TEST_CASE("fakegame --slowloris-bytes holds a connection with a partial line",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--slowloris-bytes", "20", "--slowloris-interval-ms", "10"});
    REQUIRE_LOGGED(run, run.endpoint.wait_for_partial(20, 15s));
    const auto partial = run.endpoint.partial_bytes();
    const auto slow =
        std::find_if(partial.begin(), partial.end(), [](const auto& p) { return p.second == 20; });
    REQUIRE(slow != partial.end());
    for (const auto& l : run.endpoint.lines()) {
        CHECK(l.connection != slow->first);  // not a single complete line from it
    }
    run.server->signal_group(SIGTERM);
    const auto exit = run.server->wait(10s);
    REQUIRE_LOGGED(run, exit.has_value());
    CHECK(exit->code == 0);
}

TEST_CASE("fakegame stops on SIGTERM, unless --ignore-sigterm, which only SIGKILL ends",
          "[fakegame][integration]") {
    SECTION("well behaved") {
        FakegameRun run({"alice"}, {});
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
        run.server->signal_group(SIGTERM);
        run.server->signal_group(SIGCONT);
        const auto exit = run.server->wait(10s);
        REQUIRE_LOGGED(run, exit.has_value());
        CHECK(exit->exited);
        CHECK(exit->code == 0);
    }
    SECTION("--ignore-sigterm") {
        FakegameRun run({"alice"}, {"--ignore-sigterm"});
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
        run.server->signal_group(SIGTERM);
        CHECK_FALSE(run.server->wait(1s).has_value());  // still alive after a grace second
        CHECK(gamestore::sdk_test::process_alive(run.server->pid()));
        run.server->signal_group(SIGKILL);
        const auto exit = run.server->wait(10s);
        REQUIRE(exit);
        CHECK(exit->signal == SIGKILL);
    }
}

TEST_CASE(
    "fakegame --grandchild leaves a setsid() process that survives killing the server's group",
    "[fakegame][integration]") {
    // As a child subreaper the test inherits the orphaned grandchild and can
    // reap it itself, instead of leaving a zombie for init to collect.
    struct SubreaperScope {
        SubreaperScope() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
        ~SubreaperScope() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
    } subreaper;
    FakegameRun run({"alice"}, {"--grandchild"});
    const std::string marker = "FAKEGAME_GRANDCHILD_OF=" + run.match.match_id;
    // Never leave it behind, whatever fails below.
    struct Reaper {
        std::string marker;
        ~Reaper() {
            for (const pid_t pid : gamestore::sdk_test::pids_with_env_entry(marker)) {
                ::kill(pid, SIGKILL);
                gamestore::sdk_test::wait_process_gone(pid, 10s);
                ::waitpid(pid, nullptr, WNOHANG);
            }
        }
    } reaper{marker};

    // The server spawns it before STARTED and waits until it has exec'ed.
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
    const auto found = gamestore::sdk_test::pids_with_env_entry(marker);
    REQUIRE_LOGGED(run, found.size() == 1);
    const pid_t grandchild = found[0];
    const auto ids = gamestore::sdk_test::session_and_group(grandchild);
    REQUIRE(ids);
    CHECK(ids->first == grandchild);   // its own session...
    CHECK(ids->second == grandchild);  // ...and process group
    CHECK(ids->first != run.server->pid());
    // It carries no secret of the match.
    const auto environ_text =
        gamestore::sdk_test::read_text("/proc/" + std::to_string(grandchild) + "/environ");
    CHECK(environ_text.find(run.match.report_token) == std::string::npos);
    CHECK(environ_text.find(run.match.client_token) == std::string::npos);

    run.server->signal_group(SIGTERM);
    run.server->signal_group(SIGKILL);
    REQUIRE(run.server->wait(10s));
    CHECK(gamestore::sdk_test::process_alive(grandchild));

    ::kill(grandchild, SIGKILL);
    CHECK(gamestore::sdk_test::wait_process_gone(grandchild, 10s));
    int wstatus = 0;
    CHECK(::waitpid(grandchild, &wstatus, 0) == grandchild);
    CHECK(WIFSIGNALED(wstatus));
}

TEST_CASE("fakegame --token-in-argv runs a child whose argv carries REPORT_TOKEN",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--token-in-argv"}, "0.2");
    // The child has exec'ed before the server reports STARTED.
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
    // What ps shows any local user: exactly one process with the token.
    const auto leaking = gamestore::sdk_test::pids_with_argv_containing(run.match.report_token);
    REQUIRE_LOGGED(run, leaking.size() == 1);
    const pid_t child = leaking[0];
    CHECK(child != run.server->pid());
    // It stays in the server's process group (the server leads its own), so
    // the platform's stop reaches it; only the argv is wrong.
    const auto ids = gamestore::sdk_test::session_and_group(child);
    REQUIRE(ids);
    CHECK(ids->second == run.server->pid());
    CHECK(gamestore::sdk_test::pids_with_argv_containing(run.match.client_token).empty());

    // Otherwise a working game; the child dies with the server.
    play_one(run, "alice");
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 15s));
    const auto exit = run.server->wait(15s);
    REQUIRE_LOGGED(run, exit.has_value());
    CHECK(exit->code == 0);
    CHECK(gamestore::sdk_test::wait_process_gone(child, 10s));
}

TEST_CASE("fakegame --accept-stale-match-id seats a client of another match",
          "[fakegame][integration]") {
    FakegameRun run({"alice", "bob"}, {"--accept-stale-match-id"});
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
    sdk::HandshakeRequest stale;
    stale.room_id = run.match.room_id;
    stale.match_id = "an-older-match";
    stale.player_name = "bob";
    stale.client_token = run.match.client_token;
    auto intruder = sdk::connect_and_handshake("127.0.0.1", run.port, stale, 5s);
    CHECK(intruder.response.ok);
    CHECK(intruder.response.assigned_player_index == 1);
    // Only the match_id check is gone: a wrong token is still refused.
    sdk::HandshakeRequest forged = stale;
    forged.match_id = run.match.match_id;
    forged.player_name = "alice";
    forged.client_token = "not-the-client-token";
    CHECK_FALSE(sdk::connect_and_handshake("127.0.0.1", run.port, forged, 5s).response.ok);

    // The stale client plays bob's part to the end.
    intruder.connection.send_line(R"({"move":9})");
    play_one(run, "alice");
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 15s));
    const auto results = *run.endpoint.reports_with(Status::End)[0].report->results;
    REQUIRE(results.size() == 2);
    CHECK(results[1].player == "bob");
    CHECK(results[1].score == 9.0);
}

TEST_CASE("fakegame --started-before-bind-ms reports STARTED while its port refuses connections",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--started-before-bind-ms", "3000"});
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
    // STARTED names the port...
    CHECK(run.endpoint.reports_with(Status::Started)[0].report->port == run.port);
    // ...which is not open yet: a client acting on STARTED is refused.
    CHECK_FALSE(can_connect(run.port));
    // The bind comes later; a client that keeps retrying gets in and plays.
    play_one(run, "alice", {"--connect-timeout-ms", "20000"});
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 15s));
}

TEST_CASE("fakegame --started-before-accept-ms listens at STARTED but answers no handshake yet",
          "[fakegame][integration]") {
    FakegameRun run({"alice"}, {"--started-before-accept-ms", "3000"});
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::Started, 1, 15s));
    CHECK(can_connect(run.port));  // the port is open...
    // ...but a handshake sent right after STARTED gets no answer. A wrong
    // token, so that when the server gets to it, it takes no seat.
    sdk::HandshakeRequest probe;
    probe.room_id = run.match.room_id;
    probe.match_id = run.match.match_id;
    probe.player_name = "alice";
    probe.client_token = "not-the-client-token";
    CHECK_THROWS_WITH(sdk::connect_and_handshake("127.0.0.1", run.port, probe, 500ms),
                      Catch::Contains("no handshake reply"));
    // Later it answers: a patient client plays to END.
    play_one(run, "alice", {"--connect-timeout-ms", "20000"});
    REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 15s));
}

TEST_CASE("fakegame --result-missing-player and --result-duplicate-player break END's results",
          "[fakegame][integration]") {
    SECTION("missing: the last player has no result") {
        FakegameRun run({"alice", "bob"}, {"--result-missing-player"});
        auto alice = run.client("alice", {"--move", "3"});
        auto bob = run.client("bob", {"--move", "5"});
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 30s));
        const auto results = *run.endpoint.reports_with(Status::End)[0].report->results;
        REQUIRE(results.size() == 1);
        CHECK(results[0].player == "alice");
        // The players themselves still got the full scoreboard.
        REQUIRE(bob->wait(15s));
        CHECK(client_result(*bob)["outcome"] == "WIN");
    }
    SECTION("duplicate: the first player is named twice") {
        FakegameRun run({"alice"}, {"--result-duplicate-player"});
        play_one(run, "alice");
        REQUIRE_LOGGED(run, run.endpoint.wait_for_status(Status::End, 1, 15s));
        const auto results = *run.endpoint.reports_with(Status::End)[0].report->results;
        REQUIRE(results.size() == 2);
        CHECK(results[0].player == "alice");
        CHECK(results[1].player == "alice");
        CHECK(results[1].outcome == results[0].outcome);
    }
}

TEST_CASE("fakegame server without a launch environment names what is missing",
          "[fakegame][integration]") {
    gamestore::sdk_test::TempDir dir;
    ChildProcess server({kFakegame, "server"}, {{"PATH", "/usr/bin:/bin"}}, dir.path() / "out",
                        dir.path() / "err");
    const auto exit = server.wait(10s);
    REQUIRE(exit);
    CHECK(exit->code == 2);
    CHECK_THAT(server.stderr_text(),
               Catch::Contains("missing ROOM_ID, MATCH_ID, PORT, REPORT_PORT") &&
                   Catch::Contains("validate_game_package"));
}
