// Moving a populated SQLite store into PostgreSQL (gamestore-server
// migrate-store): the same store afterwards, and migrated players play on.
#include "platform/store/migrate_store.hpp"
#include "tests/store/store_fixture.hpp"

using namespace gamestore::store;
using namespace gamestore::store::test;
using gamestore::testing::PgCluster;

TEST_CASE("a populated SQLite store moves to PostgreSQL and works there", "[store][postgres]") {
    spdlog::set_level(spdlog::level::err);
    TempDir dir;
    const auto path = dir.path() / "gamestore.db";
    SqliteStore::Options options = fast_options();

    Account dev, alice, bob;
    PublishResult first, second, dice;
    std::string alice_token;
    std::vector<GameSummary> listed_before;
    {
        auto sqlite = must(SqliteStore::open(path, options));
        dev = must(sqlite->create_account(Role::Developer, "dev", "password-dev", kT0));
        alice = must(sqlite->create_account(Role::Player, "alice", "password-alice", kT0));
        bob = must(sqlite->create_account(Role::Player, "bob", "password-bob", kT0));
        first = must(sqlite->publish_version(StoreFixture::request(dev.id, "Cards", "1.0.0")));
        second = must(
            sqlite->publish_version(StoreFixture::request(dev.id, "Cards", "1.1.0-rc.1", true)));
        dice = must(sqlite->publish_version(StoreFixture::request(dev.id, "Dice", "0.1.0")));
        alice_token = must(sqlite->create_session(alice.id, kT0)).token;
        must(sqlite->create_match(
            NewMatch{"m-1", 1, first.game.id, first.version.id, {alice.id, bob.id}, kT0, {}}));
        must(sqlite->finish_match(
            "m-1",
            MatchFinish{MatchStatus::End,
                        R"([{"player":"alice","outcome":"WIN"},{"player":"bob","outcome":"LOSE"}])",
                        kT0 + 10, "", kT0 + 1}));
        must(sqlite->create_match(
            NewMatch{"m-open", 2, first.game.id, first.version.id, {bob.id}, kT0, {}}));
        must(sqlite->upsert_review(alice.id, first.game.id, 4, "good", kT0 + 20));
        listed_before = must(sqlite->list_games());
    }

    const auto uri = PgCluster::shared().create_schema();
    const auto copied = must(copy_sqlite_to_postgres(path, uri, ""));
    REQUIRE(copied.size() == 10);
    CHECK(copied[0].table == "accounts");
    CHECK(copied[0].rows == 3);

    PostgresStore::Options pg_options;
    static_cast<SqlStore::Options&>(pg_options) = options;
    auto pg = must(PostgresStore::open(uri, pg_options));
    const auto listed = must(pg->list_games());
    REQUIRE(listed.size() == listed_before.size());
    for (std::size_t i = 0; i < listed.size(); ++i) {
        CHECK(listed[i].game.id == listed_before[i].game.id);
        CHECK(listed[i].game.name == listed_before[i].game.name);
        CHECK(listed[i].game.live_version == listed_before[i].game.live_version);
        CHECK(listed[i].rating.count == listed_before[i].rating.count);
    }
    CHECK(must(pg->list_versions(first.game.id, true)).size() == 2);
    CHECK(must(pg->list_versions(first.game.id, false)).size() == 1);
    CHECK(must(pg->verify_login(Role::Player, "alice", "password-alice")).id == alice.id);
    CHECK(must(pg->resume_session(alice_token, kT0 + 30)).account.id == alice.id);
    CHECK(must(pg->play_history(alice.id, 10)).at(0).result == std::optional<std::string>("WIN"));
    CHECK(must(pg->list_open_matches()).size() == 1);
    std::string bytes;
    must(pg->read_package(kSha, [&](std::string_view chunk) { bytes += chunk; }));
    CHECK(bytes == kPackageBytes);

    // Migrated players play and review; new rows get ids after the copied ones.
    const auto carol = must(pg->create_account(Role::Player, "carol", "password-carol", kT0));
    CHECK(carol.id > bob.id);
    must(pg->create_match(
        NewMatch{"m-2", 3, first.game.id, first.version.id, {bob.id, carol.id}, kT0, {}}));
    must(pg->finish_match("m-2", MatchFinish{MatchStatus::End, "", kT0 + 40, "", kT0 + 35}));
    must(pg->upsert_review(bob.id, first.game.id, 2, "meh", kT0 + 50));
    must(pg->upsert_review(alice.id, first.game.id, 5, "better", kT0 + 60));
    CHECK(must(pg->rating_summary(first.game.id)).count == 2);
    must_fail(pg->upsert_review(carol.id, dice.game.id, 5, "never played", kT0),
              StoreError::Code::Forbidden);

    // A second copy into the now populated database is refused.
    const auto again =
        must_fail(copy_sqlite_to_postgres(path, uri, ""), StoreError::Code::Conflict);
    CHECK(again.message.find("already holds accounts or games") != std::string::npos);
}
