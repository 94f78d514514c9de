// The private PostgreSQL cluster the store and persistence tests run on.
#include <libpq-fe.h>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "tests/support/pg_cluster.hpp"

namespace {

std::string query_one(const std::string& uri, const char* sql) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(uri.c_str()), &PQfinish);
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql), &PQclear);
    REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
    REQUIRE(PQntuples(result.get()) == 1);
    return PQgetvalue(result.get(), 0, 0);
}

}  // namespace

TEST_CASE("the test cluster hands out separate databases on its own socket", "[postgres]") {
    auto& cluster = gamestore::testing::PgCluster::shared();
    const std::string first = cluster.create_database();
    const std::string second = cluster.create_database();
    CHECK(first != second);
    CHECK(first.find(cluster.socket_dir().string()) != std::string::npos);
    CHECK(query_one(first, "SELECT current_database()") !=
          query_one(second, "SELECT current_database()"));
    // Nothing listens on TCP: the socket directory is the only way in.
    CHECK(query_one(first, "SHOW listen_addresses").empty());
}
