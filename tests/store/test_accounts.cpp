#include <vector>

#include "platform/store/password.hpp"
#include "platform/store/rules.hpp"
#include "tests/store/store_fixture.hpp"

using namespace gamestore::store;
using namespace gamestore::store::test;

TEST_CASE_METHOD(StoreFixture, "register, log in and look up an account", "[store][accounts]") {
    const auto alice = must(store->create_account(Role::Player, "Alice", "correct horse", kT0));
    CHECK(alice.id > 0);
    CHECK(alice.role == Role::Player);
    CHECK(alice.name == "Alice");
    CHECK(alice.created_at == kT0);

    const auto logged_in = must(store->verify_login(Role::Player, "Alice", "correct horse"));
    CHECK(logged_in.id == alice.id);

    // Lookups ignore ASCII case; the name keeps the case it was registered with.
    const auto upper = must(store->verify_login(Role::Player, "ALICE", "correct horse"));
    CHECK(upper.id == alice.id);
    CHECK(upper.name == "Alice");
    CHECK(must(store->find_account(Role::Player, "alice")).id == alice.id);
    CHECK(must(store->get_account(alice.id)).name == "Alice");

    must_fail(store->get_account(alice.id + 100), StoreError::Code::NotFound);
    must_fail(store->find_account(Role::Developer, "alice"), StoreError::Code::NotFound);
}

TEST_CASE_METHOD(StoreFixture, "a wrong password and an unknown user get the same sentence",
                 "[store][accounts]") {
    player("bob");
    const auto wrong = must_fail(store->verify_login(Role::Player, "bob", "not-the-password"),
                                 StoreError::Code::Unauthenticated);
    const auto unknown = must_fail(store->verify_login(Role::Player, "nobody", "password-bob"),
                                   StoreError::Code::Unauthenticated);
    const auto bad_name = must_fail(store->verify_login(Role::Player, "x", "password-bob"),
                                    StoreError::Code::Unauthenticated);
    const auto huge = must_fail(store->verify_login(Role::Player, "bob", std::string(500, 'p')),
                                StoreError::Code::Unauthenticated);
    CHECK(wrong.message == "wrong user name or password");
    CHECK(unknown.message == wrong.message);
    CHECK(bad_name.message == wrong.message);
    CHECK(huge.message == wrong.message);
}

TEST_CASE_METHOD(StoreFixture, "account name rules", "[store][accounts]") {
    const auto create = [&](const std::string& name) {
        return store->create_account(Role::Player, name, "long enough", kT0);
    };
    SECTION("accepted names") {
        for (const std::string& name :
             std::vector<std::string>{"abc", "a.b-c_9", "9lives", "Zed", std::string(32, 'n')}) {
            INFO(name);
            CHECK(create(name).ok());
        }
    }
    SECTION("rejected names, each with a sentence") {
        const std::string too_long(33, 'n');
        for (const std::string& name :
             std::vector<std::string>{"", "ab", too_long, "bad name", "tab\tname", "caf\xc3\xa9",
                                      "_lead", "-lead", ".lead", "semi;colon", "slash/name"}) {
            INFO(name);
            const auto e = must_fail(create(name), StoreError::Code::Invalid);
            CHECK(e.message.find("user name") != std::string::npos);
        }
    }
}

TEST_CASE_METHOD(StoreFixture, "password length rules", "[store][accounts]") {
    const auto create = [&](const std::string& name, const std::string& password) {
        return store->create_account(Role::Player, name, password, kT0);
    };
    must_fail(create("short", std::string(7, 'p')), StoreError::Code::Invalid);
    CHECK(create("eight", std::string(8, 'p')).ok());
    CHECK(create("maxlen", std::string(128, 'p')).ok());
    const auto e = must_fail(create("toolong", std::string(129, 'p')), StoreError::Code::Invalid);
    CHECK(e.message.find("128") != std::string::npos);
    CHECK(must(store->verify_login(Role::Player, "maxlen", std::string(128, 'p'))).name ==
          "maxlen");
}

TEST_CASE_METHOD(StoreFixture, "players and developers are separate namespaces",
                 "[store][accounts]") {
    const auto as_player = must(store->create_account(Role::Player, "carol", "player-pass", kT0));
    const auto as_dev =
        must(store->create_account(Role::Developer, "Carol", "developer-pass", kT0));
    CHECK(as_player.id != as_dev.id);
    CHECK(must(store->verify_login(Role::Player, "carol", "player-pass")).id == as_player.id);
    CHECK(must(store->verify_login(Role::Developer, "carol", "developer-pass")).id == as_dev.id);
    // Each password opens only its own account.
    must_fail(store->verify_login(Role::Player, "carol", "developer-pass"),
              StoreError::Code::Unauthenticated);
    must_fail(store->verify_login(Role::Developer, "carol", "player-pass"),
              StoreError::Code::Unauthenticated);
}

TEST_CASE_METHOD(StoreFixture, "names conflict ignoring case within a role", "[store][accounts]") {
    player("Dave");
    const auto e = must_fail(store->create_account(Role::Player, "dAVE", "whatever123", kT0),
                             StoreError::Code::Conflict);
    CHECK(e.message == "the player name dAVE is already taken; choose another");
    // The original account is untouched.
    CHECK(must(store->verify_login(Role::Player, "dave", "password-Dave")).name == "Dave");
}

TEST_CASE_METHOD(StoreFixture, "an old hash is upgraded at login when the cost changes",
                 "[store][accounts][password]") {
    player("erin");
    store.reset();
    const auto read_hash = [&] {
        return query_bytes("SELECT password_hash FROM accounts WHERE name = 'erin'");
    };
    const auto fast = PasswordHasher::fast_for_tests();
    const auto interactive = PasswordHasher::interactive();
    const auto before = read_hash();
    CHECK_FALSE(fast.needs_rehash(before));
    CHECK(interactive.needs_rehash(before));

    SqlStore::Options production;  // the default: interactive
    reopen(production);
    must(store->verify_login(Role::Player, "erin", "password-erin"));
    store.reset();
    const auto after = read_hash();
    CHECK(after != before);
    CHECK_FALSE(interactive.needs_rehash(after));
    CHECK(interactive.verify(after, "password-erin"));
}
