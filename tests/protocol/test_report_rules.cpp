#include <catch2/catch.hpp>

#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "platform/protocol/report_rules.hpp"

using namespace gamestore::protocol;

namespace {

const std::string kMatch = "m-0123456789abcdef01234567";

MatchFacts live_match() {
    MatchFacts facts;
    facts.room_id = 3;
    facts.match_id = kMatch;
    facts.players = {"alice", "bob"};
    facts.port = 40001;
    facts.started = true;
    return facts;
}

Report report(ReportStatus status) {
    Report r;
    r.room_id = 3;
    r.report_token = "3f9a1c0e5b7d42a8a1b2c3d4e5f60718";
    r.match_id = kMatch;
    r.status = status;
    if (status == ReportStatus::Started) {
        r.port = 40001;
    }
    if (status == ReportStatus::Error) {
        r.err_msg = "boom";
    }
    return r;
}

PlayerResult result(std::string player, Outcome outcome) {
    PlayerResult r;
    r.player = std::move(player);
    r.outcome = outcome;
    return r;
}

Report end_with(std::vector<PlayerResult> results) {
    Report r = report(ReportStatus::End);
    r.results = std::move(results);
    return r;
}

// The refusal's sentence, or "" when the report is accepted.
std::string sentence(const std::optional<Refusal>& refusal) {
    return refusal ? refusal_sentence(*refusal) : std::string();
}

}  // namespace

TEST_CASE("report refusals: every value has a stable snake_case name", "[report_rules]") {
    const std::vector<std::pair<ReportRefusal, std::string>> table{
        {ReportRefusal::StaleMatch, "stale_match"},
        {ReportRefusal::WrongToken, "wrong_token"},
        {ReportRefusal::MatchEnded, "match_ended"},
        {ReportRefusal::AlreadyStarted, "already_started"},
        {ReportRefusal::ServerExited, "server_exited"},
        {ReportRefusal::WrongPort, "wrong_port"},
        {ReportRefusal::NotAPlayer, "not_a_player"},
        {ReportRefusal::NamedTwice, "named_twice"},
        {ReportRefusal::WinnerIsLoser, "winner_is_loser"},
    };
    REQUIRE(table.size() == kReportRefusalCount);
    std::set<std::string> names;
    for (std::size_t i = 0; i < table.size(); ++i) {
        const auto& [reason, name] = table[i];
        CHECK(kReportRefusals[i] == reason);
        CHECK(index_of(reason) == i);
        CHECK(to_string(reason) == name);
        CHECK(report_refusal_from_string(name) == reason);
        names.insert(name);
    }
    CHECK(names.size() == kReportRefusalCount);
    CHECK_FALSE(report_refusal_from_string("STALE_MATCH"));
    CHECK_FALSE(report_refusal_from_string(""));
}

TEST_CASE("report rules: the current match, its token, its end", "[report_rules]") {
    const MatchFacts match = live_match();

    SECTION("every status is accepted for the live match with its token") {
        for (auto status : {ReportStatus::Heartbeat, ReportStatus::End, ReportStatus::Error}) {
            CHECK_FALSE(check_report(report(status), match, true));
        }
        MatchFacts starting = match;
        starting.started = false;
        CHECK_FALSE(check_report(report(ReportStatus::Started), starting, true));
    }

    SECTION("another match id is stale, whatever the token") {
        Report late = report(ReportStatus::End);
        late.match_id = "m-old";
        for (bool token : {true, false}) {
            const auto refusal = check_report(late, match, token);
            REQUIRE(refusal);
            CHECK(refusal->reason == ReportRefusal::StaleMatch);
            CHECK(sentence(refusal) == "match m-old is not the current match of room 3");
        }
    }

    SECTION("another room is stale, and the sentence names the report's room") {
        Report elsewhere = report(ReportStatus::Heartbeat);
        elsewhere.room_id = 4;
        const auto refusal = check_report(elsewhere, match, true);
        REQUIRE(refusal);
        CHECK(refusal->reason == ReportRefusal::StaleMatch);
        CHECK(sentence(refusal) == "match " + kMatch + " is not the current match of room 4");
    }

    SECTION("a room without a match makes every report stale") {
        MatchFacts none;
        none.room_id = 3;
        const auto refusal = check_report(report(ReportStatus::Started), none, true);
        REQUIRE(refusal);
        CHECK(refusal->reason == ReportRefusal::StaleMatch);
    }

    SECTION("a stale match id is made printable in the sentence") {
        Report odd = report(ReportStatus::Heartbeat);
        odd.match_id = "m-\n\x01";
        CHECK(sentence(check_report(odd, match, true)) ==
              "match m-?? is not the current match of room 3");
    }

    SECTION("the right match with a wrong token is forged") {
        const auto refusal = check_report(report(ReportStatus::End), match, false);
        REQUIRE(refusal);
        CHECK(refusal->reason == ReportRefusal::WrongToken);
        CHECK(sentence(refusal) == "wrong report_token for match " + kMatch);
    }

    SECTION("the token is checked before the end: a forgery after the end is still forged") {
        MatchFacts ended = match;
        ended.ended = true;
        CHECK(check_report(report(ReportStatus::End), ended, false)->reason ==
              ReportRefusal::WrongToken);
    }

    SECTION("after the end, every status is refused") {
        MatchFacts ended = match;
        ended.ended = true;
        for (auto status : {ReportStatus::Started, ReportStatus::Heartbeat, ReportStatus::End,
                            ReportStatus::Error}) {
            const auto refusal = check_report(report(status), ended, true);
            REQUIRE(refusal);
            CHECK(refusal->reason == ReportRefusal::MatchEnded);
            CHECK(sentence(refusal) == "match " + kMatch + " has already ended");
        }
    }

    SECTION("HEARTBEAT, END and ERROR are accepted after the server exited (the report grace)") {
        MatchFacts exited = match;
        exited.server_exited = true;
        for (auto status : {ReportStatus::Heartbeat, ReportStatus::End, ReportStatus::Error}) {
            CHECK_FALSE(check_report(report(status), exited, true));
        }
    }
}

TEST_CASE("report rules: STARTED", "[report_rules]") {
    MatchFacts starting = live_match();
    starting.started = false;

    SECTION("a second STARTED") {
        const auto refusal = check_started(report(ReportStatus::Started), live_match());
        REQUIRE(refusal);
        CHECK(refusal->reason == ReportRefusal::AlreadyStarted);
        CHECK(sentence(refusal) == "STARTED was already accepted for match " + kMatch);
    }

    SECTION("STARTED after the game server exited") {
        starting.server_exited = true;
        const auto refusal = check_report(report(ReportStatus::Started), starting, true);
        REQUIRE(refusal);
        CHECK(refusal->reason == ReportRefusal::ServerExited);
        CHECK(sentence(refusal) == "the game server of match " + kMatch + " has already exited");
    }

    SECTION("a duplicate is named before an exit or a wrong port") {
        MatchFacts both = live_match();
        both.server_exited = true;
        Report wrong_port = report(ReportStatus::Started);
        wrong_port.port = 1;
        CHECK(check_started(wrong_port, both)->reason == ReportRefusal::AlreadyStarted);
    }

    SECTION("another port, or none") {
        Report wrong_port = report(ReportStatus::Started);
        wrong_port.port = 40002;
        const auto refusal = check_started(wrong_port, starting);
        REQUIRE(refusal);
        CHECK(refusal->reason == ReportRefusal::WrongPort);
        CHECK(refusal->port == 40001);
        CHECK(sentence(refusal) == "STARTED must echo the assigned port 40001");
        wrong_port.port.reset();
        CHECK(check_started(wrong_port, starting)->reason == ReportRefusal::WrongPort);
    }

    SECTION("the echoed port is accepted") {
        CHECK_FALSE(check_started(report(ReportStatus::Started), starting));
    }
}

TEST_CASE("report rules: END names players only, once each", "[report_rules]") {
    const std::vector<std::string> players{"alice", "bob"};

    SECTION("accepted: no names, results of players, winner and loser of players") {
        CHECK_FALSE(check_end(report(ReportStatus::End), players));
        CHECK_FALSE(check_end(end_with({}), players));
        CHECK_FALSE(check_end(end_with({result("alice", Outcome::Win)}), players));
        CHECK_FALSE(check_end(
            end_with({result("bob", Outcome::Lose), result("alice", Outcome::Win)}), players));
        Report named = end_with({result("alice", Outcome::Draw), result("bob", Outcome::Draw)});
        named.winner = "alice";
        named.loser = "bob";
        CHECK_FALSE(check_end(named, players));
        Report winner_only = report(ReportStatus::End);
        winner_only.winner = "bob";
        CHECK_FALSE(check_end(winner_only, players));
    }

    SECTION("accepted: a draw written with empty winner and loser, parsed by the codec") {
        const std::string line =
            R"({"room_id":3,"report_token":"t","match_id":"m","status":"END","winner":"","loser":null,)"
            R"("results":[{"player":"alice","outcome":"DRAW"},{"player":"bob","outcome":"DRAW"}]})";
        const auto parsed = parse_report(line);
        REQUIRE(std::holds_alternative<Report>(parsed));
        CHECK_FALSE(check_end(std::get<Report>(parsed), players));
    }

    SECTION("accepted: results that leave a player out; unnamed_players says who") {
        const Report r = end_with({result("bob", Outcome::Win)});
        CHECK_FALSE(check_end(r, players));
        CHECK(unnamed_players(r, players) == std::vector<std::string>{"alice"});
        CHECK(unnamed_players(
                  end_with({result("alice", Outcome::Win), result("bob", Outcome::Lose)}), players)
                  .empty());
        Report winner_only = report(ReportStatus::End);
        winner_only.winner = "alice";
        winner_only.loser = "bob";
        CHECK(unnamed_players(winner_only, players).empty());
        CHECK(unnamed_players(report(ReportStatus::End), players) == players);
    }

    SECTION("a winner or loser who is not a player") {
        Report r = report(ReportStatus::End);
        r.winner = "mallory";
        auto refusal = check_end(r, players);
        REQUIRE(refusal);
        CHECK(refusal->reason == ReportRefusal::NotAPlayer);
        CHECK(refusal->field == "winner");
        CHECK(refusal->player == "mallory");
        CHECK(sentence(refusal) == "winner 'mallory' is not a player of this match");

        r.winner = "alice";
        r.loser = "mallory";
        refusal = check_end(r, players);
        REQUIRE(refusal);
        CHECK(refusal->field == "loser");
        CHECK(sentence(refusal) == "loser 'mallory' is not a player of this match");
    }

    SECTION("names are exact: case and spacing matter") {
        Report r = report(ReportStatus::End);
        r.winner = "Alice";
        CHECK(check_end(r, players)->reason == ReportRefusal::NotAPlayer);
        CHECK(check_end(end_with({result("alice ", Outcome::Win)}), players)->reason ==
              ReportRefusal::NotAPlayer);
    }

    SECTION("winner and loser are the same player") {
        Report r = report(ReportStatus::End);
        r.winner = "alice";
        r.loser = "alice";
        const auto refusal = check_end(r, players);
        REQUIRE(refusal);
        CHECK(refusal->reason == ReportRefusal::WinnerIsLoser);
        CHECK(sentence(refusal) == "winner and loser are the same player 'alice'");
    }

    SECTION("a result for someone who is not a player") {
        const auto refusal = check_end(
            end_with({result("alice", Outcome::Win), result("mallory", Outcome::Lose)}), players);
        REQUIRE(refusal);
        CHECK(refusal->reason == ReportRefusal::NotAPlayer);
        CHECK(refusal->field == "results[1].player");
        CHECK(sentence(refusal) == "results[1].player 'mallory' is not a player of this match");
    }

    SECTION("a player named twice in results") {
        const auto refusal =
            check_end(end_with({result("bob", Outcome::Win), result("alice", Outcome::Lose),
                                result("bob", Outcome::Lose)}),
                      players);
        REQUIRE(refusal);
        CHECK(refusal->reason == ReportRefusal::NamedTwice);
        CHECK(sentence(refusal) == "results[2].player 'bob' is named twice");
    }

    SECTION("the first broken rule is the one named: winner/loser before results") {
        Report r = end_with({result("mallory", Outcome::Win)});
        r.winner = "alice";
        r.loser = "alice";
        CHECK(check_end(r, players)->reason == ReportRefusal::WinnerIsLoser);
        r.loser = "eve";
        CHECK(sentence(check_end(r, players)) == "loser 'eve' is not a player of this match");
    }

    SECTION("a stranger is refused as such even when named twice") {
        const auto refusal = check_end(
            end_with({result("mallory", Outcome::Win), result("mallory", Outcome::Lose)}), players);
        REQUIRE(refusal);
        CHECK(refusal->reason == ReportRefusal::NotAPlayer);
        CHECK(refusal->field == "results[0].player");
    }

    SECTION("names in sentences are made printable") {
        const auto refusal = check_end(end_with({result("mal\nlory", Outcome::Win)}), players);
        CHECK(sentence(refusal) == "results[0].player 'mal?lory' is not a player of this match");
    }

    SECTION("a match without players accepts no names at all") {
        CHECK(check_end(end_with({result("alice", Outcome::Win)}), {})->reason ==
              ReportRefusal::NotAPlayer);
        CHECK_FALSE(check_end(report(ReportStatus::End), {}));
    }

    SECTION("check_report applies the END rules to the live match") {
        Report r = report(ReportStatus::End);
        r.winner = "mallory";
        CHECK(sentence(check_report(r, live_match(), true)) ==
              "winner 'mallory' is not a player of this match");
    }

    SECTION("the END rules do not apply to other statuses") {
        Report r = report(ReportStatus::Heartbeat);
        r.winner = "mallory";
        r.results = std::vector<PlayerResult>{result("eve", Outcome::Win)};
        CHECK_FALSE(check_report(r, live_match(), true));
    }
}
