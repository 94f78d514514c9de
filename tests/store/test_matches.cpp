#include <atomic>
#include <thread>
#include <vector>

#include "tests/store/store_fixture.hpp"

using namespace gamestore::store;
using namespace gamestore::store::test;

namespace {

struct MatchFixture : StoreFixture {
    Account dev = developer("dev");
    Account alice = player("alice");
    Account bob = player("Bob");
    Account carol = player("carol");
    PublishResult published = publish(dev.id, "Cards", "1.0.0");

    NewMatch new_match(const std::string& id, std::vector<AccountId> players) const {
        return NewMatch{id,  1, published.game.id, published.version.id, std::move(players),
                        kT0, {}};
    }
};

}  // namespace

TEST_CASE_METHOD(MatchFixture, "matches are created open and listed for reconciliation",
                 "[store][matches]") {
    const auto match = must(store->create_match(new_match("m-1", {bob.id, alice.id})));
    CHECK(match.status == MatchStatus::Open);
    REQUIRE(match.players.size() == 2);
    CHECK(match.players[0].name == "Bob");  // seat order is kept
    CHECK(match.players[1].name == "alice");
    CHECK_FALSE(match.process.has_value());

    must(store->record_match_process("m-1", ProcessInfo{4242, 4242, 987654}));
    must(store->create_match(new_match("m-2", {carol.id})));
    must(store->finish_match("m-2", MatchFinish{MatchStatus::Crashed, "", kT0 + 1, "exit 1", {}}));

    const auto open = must(store->list_open_matches());
    REQUIRE(open.size() == 1);
    CHECK(open[0].match_id == "m-1");
    REQUIRE(open[0].process.has_value());
    CHECK(open[0].process->pid == 4242);
    CHECK(open[0].process->pgid == 4242);
    CHECK(open[0].process->start_time == 987654);
    CHECK(open[0].players.size() == 2);

    must_fail(store->record_match_process("m-2", ProcessInfo{1, 1, 1}), StoreError::Code::Conflict);
    must_fail(store->record_match_process("m-404", ProcessInfo{1, 1, 1}),
              StoreError::Code::NotFound);
}

TEST_CASE_METHOD(MatchFixture, "create_match checks its input", "[store][matches]") {
    must(store->create_match(new_match("dup", {alice.id})));
    must_fail(store->create_match(new_match("dup", {bob.id})), StoreError::Code::Conflict);
    must_fail(store->create_match(new_match("", {bob.id})), StoreError::Code::Invalid);
    must_fail(store->create_match(new_match("has space", {bob.id})), StoreError::Code::Invalid);
    must_fail(store->create_match(new_match("empty", {})), StoreError::Code::Invalid);
    must_fail(store->create_match(new_match("twice", {bob.id, bob.id})), StoreError::Code::Invalid);
    must_fail(store->create_match(new_match("dev", {dev.id})), StoreError::Code::Forbidden);
    must_fail(store->create_match(new_match("ghost", {alice.id + 1000})),
              StoreError::Code::NotFound);
    const auto other = publish(dev.id, "Other", "1.0.0");
    auto mismatched = new_match("mismatch", {alice.id});
    mismatched.version_id = other.version.id;  // a version of another game
    must_fail(store->create_match(mismatched), StoreError::Code::NotFound);
    // Nothing half-created: a failed create leaves no match behind.
    must_fail(store->get_match("twice"), StoreError::Code::NotFound);
    CHECK(must(store->list_open_matches()).size() == 1);
}

TEST_CASE_METHOD(MatchFixture, "a match finishes exactly once and records every player",
                 "[store][matches]") {
    must(store->create_match(new_match("m-end", {alice.id, bob.id, carol.id})));
    const std::string results = R"([{"player":"alice","outcome":"WIN","rank":1,"score":10},)"
                                R"({"player":"bob","outcome":"LOSE","rank":2,"score":3}])";
    const auto finished = must(store->finish_match(
        "m-end", MatchFinish{MatchStatus::End, results, kT0 + 100, "done", kT0 + 5}));
    CHECK(finished.in_game_at == std::optional<UnixMs>(kT0 + 5));
    CHECK(finished.status == MatchStatus::End);
    CHECK(finished.ended_at == std::optional<UnixMs>(kT0 + 100));
    CHECK(finished.results_json == results);
    CHECK(finished.reason == "done");

    for (const auto& who : {alice, bob, carol}) {
        INFO(who.name);
        CHECK(must(store->has_played(who.id, published.game.id)));
        const auto history = must(store->play_history(who.id, 10));
        REQUIRE(history.size() == 1);
        CHECK(history[0].match_id == std::optional<std::string>("m-end"));
        CHECK(history[0].match_status == MatchStatus::End);
        CHECK(history[0].version == "1.0.0");
        CHECK(history[0].game_name == "Cards");
        CHECK(history[0].played_at == kT0 + 100);
    }
    // Results name players ignoring case ("bob" is "Bob"); carol is not named.
    CHECK(must(store->play_history(alice.id, 10))[0].result == std::optional<std::string>("WIN"));
    CHECK(must(store->play_history(bob.id, 10))[0].result == std::optional<std::string>("LOSE"));
    CHECK_FALSE(must(store->play_history(carol.id, 10))[0].result.has_value());

    // A second finish (any status) is refused and changes nothing.
    const auto e = must_fail(
        store->finish_match("m-end", MatchFinish{MatchStatus::Aborted, "", kT0 + 200, "restart", {}}),
        StoreError::Code::Conflict);
    CHECK(e.message == "match m-end already ended as END");
    const auto again = must(store->get_match("m-end"));
    CHECK(again.status == MatchStatus::End);
    CHECK(again.ended_at == std::optional<UnixMs>(kT0 + 100));
    CHECK(again.reason == "done");
    CHECK(must(store->play_history(alice.id, 10)).size() == 1);
    CHECK(must(store->list_open_matches()).empty());
}

TEST_CASE_METHOD(MatchFixture, "any ending after IN_GAME writes play history",
                 "[store][matches]") {
    int n = 0;
    for (const auto status : {MatchStatus::Error, MatchStatus::Aborted, MatchStatus::Timeout,
                              MatchStatus::Crashed}) {
        const std::string id = "m-" + std::string(to_string(status));
        must(store->create_match(new_match(id, {alice.id})));
        // Either the platform recorded IN_GAME (what a restart relies on) or
        // it says so when finishing (its record may still be on the way).
        std::optional<UnixMs> in_game;
        if (++n % 2 == 0) {
            must(store->record_match_in_game(id, kT0 + 1));
            must(store->record_match_in_game(id, kT0 + 9));  // the first time is kept
        } else {
            in_game = kT0 + 1;
        }
        // Results only count for END; a stray list is stored but not applied.
        const auto finished = must(store->finish_match(
            id, MatchFinish{status, R"([{"player":"alice","outcome":"WIN"}])", kT0 + 2, "why", in_game}));
        CHECK(finished.in_game_at == std::optional<UnixMs>(kT0 + 1));
    }
    const auto history = must(store->play_history(alice.id, 10));
    REQUIRE(history.size() == 4);
    for (const auto& record : history) {
        CHECK_FALSE(record.result.has_value());
        CHECK(record.match_status != MatchStatus::End);
    }
    CHECK(
        must(store->upsert_review(alice.id, published.game.id, 3, "it crashed", kT0 + 3)).rating ==
        3);
}

TEST_CASE_METHOD(MatchFixture, "a match that never reached IN_GAME writes no play history",
                 "[store][matches]") {
    for (const auto status : {MatchStatus::LaunchFailed, MatchStatus::Timeout,
                              MatchStatus::Aborted, MatchStatus::Crashed, MatchStatus::Error}) {
        const std::string id = "never-" + std::string(to_string(status));
        must(store->create_match(new_match(id, {alice.id, bob.id})));
        must(store->record_match_process(id, ProcessInfo{4242, 4242, 1}));
        const auto finished =
            must(store->finish_match(id, MatchFinish{status, "", kT0 + 1, "never started", {}}));
        CHECK(finished.status == status);
        CHECK_FALSE(finished.in_game_at.has_value());
    }
    for (const auto& who : {alice, bob}) {
        INFO(who.name);
        CHECK(must(store->play_history(who.id, 10)).empty());
        CHECK_FALSE(must(store->has_played(who.id, published.game.id)));
    }
    must_fail(store->upsert_review(alice.id, published.game.id, 1, "never ran", kT0 + 2),
              StoreError::Code::Forbidden);
    // After the end, IN_GAME can no longer be recorded.
    must_fail(store->record_match_in_game("never-TIMEOUT", kT0 + 3), StoreError::Code::Conflict);
    must_fail(store->record_match_in_game("nope", kT0 + 3), StoreError::Code::NotFound);
}

TEST_CASE_METHOD(MatchFixture, "finish_match rejects bad input and leaves the match open",
                 "[store][matches]") {
    must(store->create_match(new_match("m-1", {alice.id})));
    must_fail(store->finish_match("m-1", MatchFinish{MatchStatus::Open, "", kT0, "", kT0}),
              StoreError::Code::Invalid);
    must_fail(store->finish_match("m-1", MatchFinish{MatchStatus::End, "[{", kT0, "", kT0}),
              StoreError::Code::Invalid);
    must_fail(store->finish_match("nope", MatchFinish{MatchStatus::End, "", kT0, "", kT0}),
              StoreError::Code::NotFound);
    CHECK(must(store->get_match("m-1")).status == MatchStatus::Open);
    CHECK_FALSE(must(store->has_played(alice.id, published.game.id)));

    // An oversized reason (a game's err_msg) is cut, never refused.
    const std::string reason(5000, 'r');
    const auto finished =
        must(store->finish_match("m-1", MatchFinish{MatchStatus::Error, "", kT0, reason, {}}));
    CHECK(finished.reason.size() == 1024);

    // A NUL in it (a JSON \u0000) is stored as a space on every backend.
    must(store->create_match(new_match("m-2", {alice.id})));
    const auto nul = must(store->finish_match(
        "m-2", MatchFinish{MatchStatus::Error, "", kT0, std::string("bad\0byte", 8), {}}));
    CHECK(nul.reason == "bad byte");
}

TEST_CASE_METHOD(MatchFixture, "concurrent finishes of one match: exactly one wins",
                 "[store][matches][threads]") {
    must(store->create_match(new_match("race", {alice.id, bob.id})));
    constexpr int kThreads = 4;
    std::atomic<int> ok{0};
    std::atomic<int> conflict{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            const auto r = store->finish_match(
                "race",
                MatchFinish{i % 2 == 0 ? MatchStatus::End : MatchStatus::Aborted, "", kT0 + i, "",
                            kT0});
            if (r.ok()) {
                ++ok;
            } else if (r.error().code == StoreError::Code::Conflict) {
                ++conflict;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    CHECK(ok == 1);
    CHECK(conflict == kThreads - 1);
    CHECK(must(store->play_history(alice.id, 10)).size() == 1);
    CHECK(must(store->play_history(bob.id, 10)).size() == 1);
}
