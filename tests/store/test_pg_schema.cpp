// What only the PostgreSQL store does: its schema bookkeeping, the URI
// redaction, the parameter rewriting of its connection layer, and choosing
// a backend from --database.
#include <libpq-fe.h>

#include <fstream>
#include <thread>
#include <vector>

#include "platform/store/open_store.hpp"
#include "platform/store/pg_db.hpp"
#include "tests/store/store_fixture.hpp"

using namespace gamestore::store;
using namespace gamestore::store::test;
using gamestore::testing::PgCluster;

namespace {

void raw_exec(const std::string& uri, const std::string& sql) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(uri.c_str()), &PQfinish);
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
    INFO(PQerrorMessage(conn.get()));
    REQUIRE((PQresultStatus(result.get()) == PGRES_COMMAND_OK ||
             PQresultStatus(result.get()) == PGRES_TUPLES_OK));
}

PostgresStore::Options fast_pg_options() {
    PostgresStore::Options options;
    options.hasher = PasswordHasher::fast_for_tests();
    return options;
}

}  // namespace

TEST_CASE("?N parameters become $N outside quotes", "[store][postgres]") {
    int max_index = 0;
    CHECK(pg::to_dollar_parameters("SELECT a FROM t WHERE b = ?1 AND c = ?12", max_index) ==
          "SELECT a FROM t WHERE b = $1 AND c = $12");
    CHECK(max_index == 12);
    CHECK(pg::to_dollar_parameters("SELECT '?1', \"x?2\" WHERE y = ?3 AND z = 'it''s ?4'",
                                   max_index) ==
          "SELECT '?1', \"x?2\" WHERE y = $3 AND z = 'it''s ?4'");
    CHECK(max_index == 3);
    CHECK(pg::to_dollar_parameters("SELECT 1", max_index) == "SELECT 1");
    CHECK(max_index == 0);
}

TEST_CASE("database URIs are redacted for logs", "[store][postgres]") {
    CHECK(redact_database_uri("postgresql://gs:s3cret@db.example:5432/gamestore") ==
          "postgresql://gs:***@db.example:5432/gamestore");
    CHECK(redact_database_uri("postgresql://gs@db/gamestore?password=s3cret&sslmode=require") ==
          "postgresql://gs@db/gamestore?password=***&sslmode=require");
    CHECK(redact_database_uri("postgresql:///gamestore?host=/run/pg") ==
          "postgresql:///gamestore?host=/run/pg");
    CHECK(redact_database_uri("host=db password=s3cret dbname=gs") ==
          "host=db password=*** dbname=gs");
}

TEST_CASE("a PostgreSQL database is migrated once and refused when newer or foreign",
          "[store][postgres]") {
    spdlog::set_level(spdlog::level::err);
    auto& cluster = PgCluster::shared();

    SECTION("servers opening a new database together migrate it once") {
        const auto uri = cluster.create_schema();
        std::vector<std::optional<Result<std::unique_ptr<PostgresStore>>>> opened(3);
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < opened.size(); ++i)
            threads.emplace_back(
                [&, i] { opened[i] = PostgresStore::open(uri, fast_pg_options()); });
        for (auto& t : threads)
            t.join();
        for (auto& result : opened) {
            auto store = must(std::move(*result));
            CHECK(must(store->schema_version()) == PostgresStore::latest_schema_version());
        }
    }
    SECTION("a newer schema is refused and left alone") {
        const auto uri = cluster.create_schema();
        must(PostgresStore::open(uri, fast_pg_options()));
        const int future = PostgresStore::latest_schema_version() + 1;
        raw_exec(uri, "UPDATE gamestore_schema SET version = " + std::to_string(future));
        const auto e =
            must_fail(PostgresStore::open(uri, fast_pg_options()), StoreError::Code::Invalid);
        CHECK(e.message.find("has schema version " + std::to_string(future)) != std::string::npos);
    }
    SECTION("a database holding other tables is refused") {
        const auto uri = cluster.create_schema();
        raw_exec(uri, "CREATE TABLE someone_elses (x integer)");
        const auto e =
            must_fail(PostgresStore::open(uri, fast_pg_options()), StoreError::Code::Invalid);
        CHECK(e.message.find("is not a gamestore database") != std::string::npos);
    }
    SECTION("an unreachable server is a sentence without the password") {
        const auto e =
            must_fail(PostgresStore::open("postgresql://gs:s3cret@/nowhere?host=" +
                                              (cluster.socket_dir() / "missing").string(),
                                          fast_pg_options()),
                      StoreError::Code::Internal);
        CHECK(e.message.find("cannot open the database postgresql://gs:***@") == 0);
        CHECK(e.message.find("s3cret") == std::string::npos);
    }
}

TEST_CASE("a restarted PostgreSQL server: the store reconnects", "[store][postgres]") {
    spdlog::set_level(spdlog::level::err);
    // A cluster of its own: restarting the shared one would disturb other cases.
    PgCluster cluster;
    const auto uri = cluster.create_schema();
    auto store = must(PostgresStore::open(uri, fast_pg_options()));
    must(store->create_account(Role::Player, "before", "password1", kT0));
    must(store->find_account(Role::Player, "before"));
    cluster.restart();
    // The first use of each pooled connection may fail: it finds the server gone.
    (void)store->find_account(Role::Player, "before");
    (void)store->check_writable();
    must(store->create_account(Role::Player, "after", "password1", kT0));
    CHECK(must(store->find_account(Role::Player, "before")).name == "before");
}

TEST_CASE("--database chooses the backend", "[store][postgres]") {
    const std::filesystem::path fallback = "var/gamestore.db";
    const auto location = [&](std::string_view spec) {
        auto parsed = parse_database(spec, fallback);
        REQUIRE(std::holds_alternative<DatabaseLocation>(parsed));
        return std::get<DatabaseLocation>(parsed);
    };
    const auto refusal = [&](std::string_view spec) {
        auto parsed = parse_database(spec, fallback);
        REQUIRE(std::holds_alternative<std::string>(parsed));
        return std::get<std::string>(parsed);
    };
    CHECK(std::get<SqliteLocation>(location("")).path == fallback);
    CHECK(std::get<SqliteLocation>(location("/srv/gs.db")).path == "/srv/gs.db");
    CHECK(std::get<SqliteLocation>(location("sqlite:rel/gs.db")).path == "rel/gs.db");
    CHECK(std::get<PostgresLocation>(location("postgresql://gs@db/gamestore")).uri ==
          "postgresql://gs@db/gamestore");
    CHECK(std::get<PostgresLocation>(location("postgres:///gs?host=/run/pg")).uri ==
          "postgres:///gs?host=/run/pg");
    CHECK(refusal("postgresql://gs:s3cret@db/gamestore").find("must not carry the password") !=
          std::string::npos);
    CHECK(refusal("postgresql://gs@db/gs?password=x").find("must not carry the password") !=
          std::string::npos);
    CHECK(refusal("sqlite:").find("needs a file path") != std::string::npos);
    CHECK(refusal("mysql://u:pw@db/x").find("mysql://u:***@db/x") != std::string::npos);
}

TEST_CASE("a database password file must be private and not empty", "[store][postgres]") {
    TempDir dir;
    const auto file = dir.path() / "password";
    {
        std::ofstream out(file);
        out << "s3cret\n";
    }
    std::filesystem::permissions(
        file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
        std::filesystem::perm_options::replace);
    CHECK(std::get<std::string>(read_password_file(file)) == "s3cret");
    std::filesystem::permissions(file, std::filesystem::perms::others_read,
                                 std::filesystem::perm_options::add);
    CHECK(std::get<StoreError>(read_password_file(file)).message.find("chmod 600") !=
          std::string::npos);
    CHECK(std::holds_alternative<StoreError>(read_password_file(dir.path() / "missing")));
}
