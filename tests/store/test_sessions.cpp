#include "platform/store/session_token.hpp"
#include "tests/store/store_fixture.hpp"

using namespace gamestore::store;
using namespace gamestore::store::test;

namespace {
constexpr std::int64_t kDay = 24LL * 60 * 60 * 1000;
}

TEST_CASE_METHOD(StoreFixture, "a session token resumes its account", "[store][sessions]") {
    const auto alice = player("alice");
    const auto session = must(store->create_session(alice.id, kT0));
    CHECK(is_well_formed_session_token(session.token));
    CHECK(session.revoked_session_ids.empty());

    const auto resumed = must(store->resume_session(session.token, kT0 + 1000));
    CHECK(resumed.id == session.id);
    CHECK(resumed.account.id == alice.id);
    CHECK(resumed.account.name == "alice");

    must_fail(store->resume_session("not-a-token", kT0), StoreError::Code::Unauthenticated);
    must_fail(store->resume_session(std::string(64, 'f'), kT0), StoreError::Code::Unauthenticated);
    must_fail(store->create_session(alice.id + 99, kT0), StoreError::Code::NotFound);
}

TEST_CASE_METHOD(StoreFixture, "only a hash of the token is stored", "[store][sessions]") {
    const auto alice = player("alice");
    const auto session = must(store->create_session(alice.id, kT0));
    store.reset();
    const std::string stored = query_bytes("SELECT token_hash FROM sessions");
    const auto expected = hash_session_token(session.token);
    CHECK(stored.size() == 32);
    CHECK(stored == std::string(expected.begin(), expected.end()));
    CHECK(stored.find(session.token.substr(0, 16)) == std::string::npos);
}

TEST_CASE_METHOD(StoreFixture, "a new login revokes the previous session", "[store][sessions]") {
    const auto alice = player("alice");
    const auto bob = player("bob");
    const auto first = must(store->create_session(alice.id, kT0));
    const auto bobs = must(store->create_session(bob.id, kT0));
    const auto second = must(store->create_session(alice.id, kT0 + 10));
    REQUIRE(second.revoked_session_ids.size() == 1);
    CHECK(second.revoked_session_ids[0] == first.id);
    CHECK(second.token != first.token);

    const auto e =
        must_fail(store->resume_session(first.token, kT0 + 20), StoreError::Code::Unauthenticated);
    CHECK(e.message.find("logged in elsewhere") != std::string::npos);
    CHECK(must(store->resume_session(second.token, kT0 + 20)).account.id == alice.id);
    // Another account's session is not affected.
    CHECK(must(store->resume_session(bobs.token, kT0 + 20)).account.id == bob.id);

    // A third login revokes the second; the first is forgotten by now.
    const auto third = must(store->create_session(alice.id, kT0 + 30));
    REQUIRE(third.revoked_session_ids.size() == 1);
    CHECK(third.revoked_session_ids[0] == second.id);
    const auto gone =
        must_fail(store->resume_session(first.token, kT0 + 40), StoreError::Code::Unauthenticated);
    CHECK(gone.message == "this session is unknown or has expired; log in again");
}

TEST_CASE_METHOD(StoreFixture, "sessions expire when idle, and use keeps them alive",
                 "[store][sessions]") {
    const auto alice = player("alice");
    const auto session = must(store->create_session(alice.id, kT0));
    must(store->resume_session(session.token, kT0 + 6 * kDay));
    // Idle for exactly the timeout is still fine (touched at day 6).
    must(store->resume_session(session.token, kT0 + 13 * kDay));
    const auto e = must_fail(store->resume_session(session.token, kT0 + 20 * kDay + 1),
                             StoreError::Code::Unauthenticated);
    CHECK(e.message == "this session expired after 7 days without use; log in again");
}

TEST_CASE_METHOD(StoreFixture, "a clock stepping back does not shorten a session",
                 "[store][sessions]") {
    const auto alice = player("alice");
    const auto session = must(store->create_session(alice.id, kT0));
    must(store->resume_session(session.token, kT0 + 5 * kDay));
    must(store->resume_session(session.token, kT0 + 1 * kDay));  // clock went back
    CHECK(store->resume_session(session.token, kT0 + 11 * kDay).ok());
}

TEST_CASE_METHOD(StoreFixture, "the idle timeout is configurable", "[store][sessions]") {
    auto options = fast_options();
    options.session_idle_timeout_ms = 60 * 60 * 1000;
    reopen(options);
    const auto alice = player("alice");
    const auto session = must(store->create_session(alice.id, kT0));
    const auto e = must_fail(store->resume_session(session.token, kT0 + 60 * 60 * 1000 + 1),
                             StoreError::Code::Unauthenticated);
    CHECK(e.message == "this session expired after 1 hour without use; log in again");
}

TEST_CASE_METHOD(StoreFixture, "logout revokes a session", "[store][sessions]") {
    const auto alice = player("alice");
    const auto session = must(store->create_session(alice.id, kT0));
    must(store->revoke_session(session.id, kT0 + 1));
    const auto e =
        must_fail(store->resume_session(session.token, kT0 + 2), StoreError::Code::Unauthenticated);
    CHECK(e.message == "this session was logged out; log in again");
    must(store->revoke_session(session.id, kT0 + 3));  // idempotent
    must_fail(store->revoke_session(session.id + 50, kT0), StoreError::Code::NotFound);
    // A logged-out session is not reported as revoked by the next login.
    CHECK(must(store->create_session(alice.id, kT0 + 4)).revoked_session_ids.empty());
}
