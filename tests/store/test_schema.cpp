#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "tests/store/store_fixture.hpp"

using namespace gamestore::store;
using namespace gamestore::store::test;

namespace {

// Runs one statement on the raw file, outside the store.
void raw_exec(const std::filesystem::path& path, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    INFO((error != nullptr ? error : ""));
    sqlite3_free(error);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
}

std::string raw_query_text(const std::filesystem::path& path, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    std::string out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

}  // namespace

TEST_CASE_METHOD(StoreFixture, "everything survives closing and reopening the database",
                 "[store][schema]") {
    const auto dev = developer("dev");
    const auto alice = player("alice");
    const auto published = publish(dev.id, "Durable", "1.0.0");
    const auto session = must(store->create_session(alice.id, kT0));
    must(store->record_play(alice.id, published.game.id, published.version.id, kT0));
    must(store->upsert_review(alice.id, published.game.id, 5, "kept", kT0));
    must(store->create_match(
        NewMatch{"open-match", 3, published.game.id, published.version.id, {alice.id}, kT0, {}}));

    reopen();
    CHECK(must(store->schema_version()) == (testing_postgres()
                                                ? PostgresStore::latest_schema_version()
                                                : SqliteStore::latest_schema_version()));
    CHECK(must(store->verify_login(Role::Player, "alice", "password-alice")).id == alice.id);
    CHECK(must(store->resume_session(session.token, kT0 + 1)).account.id == alice.id);
    const auto games = must(store->list_games());
    REQUIRE(games.size() == 1);
    CHECK(games[0].game.live_version == std::optional<std::string>("1.0.0"));
    CHECK(games[0].rating.count == 1);
    CHECK(must(store->get_review(alice.id, published.game.id)).text == "kept");
    CHECK(must(store->list_open_matches()).size() == 1);
}

TEST_CASE_METHOD(StoreFixture, "reopening does not re-apply migrations",
                 "[store][schema][sqlite]") {
    player("alice");
    for (int i = 0; i < 3; ++i)
        reopen();
    CHECK(must(store->schema_version()) == SqliteStore::latest_schema_version());
    CHECK(must(store->find_account(Role::Player, "alice")).name == "alice");
    store.reset();
    CHECK(raw_query_text(db_path(), "PRAGMA journal_mode") == "wal");
    CHECK(raw_query_text(db_path(), "PRAGMA application_id") == "1196639298");  // "GSDB"
}

TEST_CASE_METHOD(StoreFixture, "a database from a newer gamestore is refused",
                 "[store][schema][sqlite]") {
    player("alice");
    store.reset();
    const int future = SqliteStore::latest_schema_version() + 1;
    raw_exec(db_path(), "PRAGMA user_version = " + std::to_string(future));
    auto opened = SqliteStore::open(db_path(), fast_options());
    const auto e = must_fail(std::move(opened), StoreError::Code::Invalid);
    CHECK(e.message.find("schema version " + std::to_string(future)) != std::string::npos);
    CHECK(e.message.find("up to " + std::to_string(future - 1)) != std::string::npos);
    // The file was left as it was.
    CHECK(raw_query_text(db_path(), "PRAGMA user_version") == std::to_string(future));
}

TEST_CASE("files that are not gamestore databases are refused", "[store][schema][sqlite]") {
    spdlog::set_level(spdlog::level::err);
    TempDir dir;
    SECTION("another application's SQLite file") {
        const auto path = dir.path() / "other.db";
        raw_exec(path, "CREATE TABLE notes (body TEXT)");
        const auto e =
            must_fail(SqliteStore::open(path, fast_options()), StoreError::Code::Invalid);
        CHECK(e.message.find("not a gamestore database") != std::string::npos);
        CHECK(raw_query_text(path, "PRAGMA journal_mode") == "delete");  // untouched
    }
    SECTION("a foreign application_id") {
        const auto path = dir.path() / "tagged.db";
        raw_exec(path, "PRAGMA application_id = 12345");
        must_fail(SqliteStore::open(path, fast_options()), StoreError::Code::Invalid);
    }
    SECTION("not SQLite at all") {
        const auto path = dir.path() / "garbage.db";
        std::ofstream(path) << std::string(4096, 'x');
        const auto e =
            must_fail(SqliteStore::open(path, fast_options()), StoreError::Code::Invalid);
        CHECK(e.message.find("is not a SQLite database") != std::string::npos);
    }
    SECTION("a directory that does not exist") {
        const auto path = dir.path() / "missing" / "gamestore.db";
        const auto e =
            must_fail(SqliteStore::open(path, fast_options()), StoreError::Code::Internal);
        CHECK(e.message.find(path.string()) != std::string::npos);
    }
}

TEST_CASE("an acknowledged write survives the process being killed", "[store][schema][sqlite]") {
    spdlog::set_level(spdlog::level::err);
    TempDir dir;
    const auto path = dir.path() / "gamestore.db";
    int ack[2];
    REQUIRE(pipe(ack) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // Child: write, acknowledge, then die without closing anything.
        close(ack[0]);
        auto opened = SqliteStore::open(path, fast_options());
        if (!opened)
            _exit(2);
        auto& store = *opened.value();
        if (!store.create_account(Role::Player, "survivor", "password1", kT0))
            _exit(3);
        const char byte = 'k';
        if (write(ack[1], &byte, 1) != 1)
            _exit(4);
        raise(SIGKILL);
        _exit(5);
    }
    close(ack[1]);
    char byte = 0;
    const auto got = read(ack[0], &byte, 1);
    close(ack[0]);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(got == 1);
    CHECK(WIFSIGNALED(status));

    auto store = must(SqliteStore::open(path, fast_options()));
    CHECK(must(store->verify_login(Role::Player, "survivor", "password1")).name == "survivor");
}
