// Shared helpers for the store tests: a temporary data directory, a store
// opened with the fast password hasher, and result unwrapping that prints the
// store's sentence when a call unexpectedly fails.
//
// One suite, two backends: the fixture opens a SqliteStore, or a
// PostgresStore on a fresh schema of the binary's private cluster when
// GAMESTORE_TEST_STORE=postgresql (ctest runs the binary both ways; cases
// tagged [sqlite] or [postgres] test one backend's own behaviour).
#pragma once

#include <libpq-fe.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "platform/store/postgres_store.hpp"
#include "platform/store/sqlite_store.hpp"
#include "tests/support/pg_cluster.hpp"

namespace gamestore::store::test {

class TempDir {
  public:
    TempDir() {
        std::random_device rd;
        const auto base = std::filesystem::temp_directory_path();
        for (int attempt = 0; attempt < 100; ++attempt) {
            auto candidate =
                base / ("gamestore-store-test-" + std::to_string(rd()) + std::to_string(rd()));
            if (std::filesystem::create_directory(candidate)) {
                path_ = candidate;
                return;
            }
        }
        FAIL("could not create a temporary directory");
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

template <class T>
T must(Result<T> result) {
    if (!result.ok())
        FAIL("unexpected store error: " << result.error().message);
    return std::move(result).value();
}

inline void must(Result<void> result) {
    if (!result.ok())
        FAIL("unexpected store error: " << result.error().message);
}

template <class T>
StoreError must_fail(Result<T> result, StoreError::Code expected) {
    if (result.ok())
        FAIL("the call succeeded but should have failed");
    INFO("message: " << result.error().message);
    CHECK(to_string(result.error().code) == to_string(expected));
    return result.error();
}

inline SqliteStore::Options fast_options() {
    SqliteStore::Options options;
    options.hasher = PasswordHasher::fast_for_tests();
    return options;
}

inline bool testing_postgres() {
    const char* chosen = std::getenv("GAMESTORE_TEST_STORE");
    return chosen != nullptr && std::string_view(chosen) == "postgresql";
}

inline constexpr UnixMs kT0 = 1'700'000'000'000;  // a fixed "now" for deterministic tests
// The package every test version publishes: 1234 bytes of 'p' and their SHA-256.
inline const std::string kPackageBytes = std::string(1234, 'p');
inline const std::string kSha = "9e1d3529f6e53571ae8f20d5d835548f05b63252e8e1bae35df929675e908605";

// kPackageBytes in a file that lives as long as the test binary.
inline const std::filesystem::path& package_file() {
    static TempDir dir;
    static const std::filesystem::path file = [] {
        auto path = dir.path() / "package.zip";
        std::ofstream(path, std::ios::binary) << kPackageBytes;
        return path;
    }();
    return file;
}

struct StoreFixture {
    TempDir dir;
    std::string pg_uri;  // the test's own schema when testing PostgreSQL
    std::unique_ptr<SqlStore> store;

    StoreFixture() {
        // The fast-hasher warning is expected in every test; keep output readable.
        spdlog::set_level(spdlog::level::err);
        if (testing_postgres())
            pg_uri = gamestore::testing::PgCluster::shared().create_schema();
        reopen();
    }

    std::filesystem::path db_path() const { return dir.path() / "gamestore.db"; }

    void reopen(const SqlStore::Options& options = fast_options()) {
        store.reset();
        if (testing_postgres()) {
            PostgresStore::Options pg;
            static_cast<SqlStore::Options&>(pg) = options;
            store = must(PostgresStore::open(pg_uri, std::move(pg)));
        } else {
            SqliteStore::Options sqlite;
            static_cast<SqlStore::Options&>(sqlite) = options;
            store = must(SqliteStore::open(db_path(), std::move(sqlite)));
        }
    }

    // The raw bytes of the first column of the first row `sql` returns,
    // read behind the store's back.
    std::string query_bytes(const std::string& sql) const {
        std::string out;
        if (testing_postgres()) {
            std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(pg_uri.c_str()),
                                                              &PQfinish);
            REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
            std::unique_ptr<PGresult, decltype(&PQclear)> result(
                PQexecParams(conn.get(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1),
                &PQclear);
            REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
            REQUIRE(PQntuples(result.get()) >= 1);
            out.assign(PQgetvalue(result.get(), 0, 0),
                       static_cast<std::size_t>(PQgetlength(result.get(), 0, 0)));
            return out;
        }
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(db_path().c_str(), &db) == SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
        REQUIRE(sqlite3_step(st) == SQLITE_ROW);
        out.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                   static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
        sqlite3_finalize(st);
        sqlite3_close(db);
        return out;
    }

    Account player(const std::string& name) {
        return must(store->create_account(Role::Player, name, "password-" + name, kT0));
    }
    Account developer(const std::string& name) {
        return must(store->create_account(Role::Developer, name, "password-" + name, kT0));
    }

    static PublishRequest request(AccountId dev, const std::string& game,
                                  const std::string& version, bool hidden = false) {
        PublishRequest r;
        r.developer_id = dev;
        r.game = NewGame{game, GameType::Cli, "The game " + game, 2, 4};
        r.version = version;
        r.notes = "notes for " + version;
        r.size_bytes = 1234;
        r.sha256 = kSha;
        r.package_path = "packages/" + kSha + ".zip";
        r.extracted_path = "games/x/" + version;
        r.package_file = package_file();
        r.manifest_json = R"({"game_name":")" + game + R"(","version":")" + version + R"("})";
        r.hidden = hidden;
        r.now = kT0;
        return r;
    }

    PublishResult publish(AccountId dev, const std::string& game, const std::string& version,
                          bool hidden = false) {
        return must(store->publish_version(request(dev, game, version, hidden)));
    }
};

}  // namespace gamestore::store::test
