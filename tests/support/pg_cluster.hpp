#pragma once
// Test support: a private PostgreSQL cluster (Debian's postgresql-15 binaries)
// in a temp dir, listening only on a Unix socket in that dir, stopped and
// removed when the object dies. Nothing here touches a system-wide service.
//
// One cluster per test binary (PgCluster::shared(), started on first use)
// and a fresh schema per test case (create_schema()), because initdb costs
// a second, CREATE DATABASE a few hundred milliseconds and CREATE SCHEMA
// next to nothing.
//
// As root, the cluster runs as an unprivileged user (PostgreSQL refuses
// root): $GAMESTORE_PG_USER, else `gamestore-ci` when it exists (ci creates
// it), else `nobody`.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/process.hpp"

namespace gamestore::testing {

class PgCluster {
  public:
    // Runs initdb and starts postgres; throws with the server log when either fails.
    PgCluster();
    // Fast shutdown (SIGINT), waits for the exit, removes the directory.
    ~PgCluster();
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    // The cluster of this test binary, started on first use and stopped at exit.
    static PgCluster& shared();
    // False when the PostgreSQL server binaries are not installed.
    static bool available();

    // Creates an empty database with a fresh name and returns its URI,
    // postgresql:///NAME?host=SOCKET_DIR&user=gamestore (no password: the
    // cluster trusts its own socket, which only its directory can reach).
    std::string create_database();
    // Creates an empty schema with a fresh name in the database `tests` and
    // returns a URI whose connections use it (search_path): to the store it
    // is an empty database of its own.
    std::string create_schema();
    // Runs SQL on the `postgres` maintenance database, or on the database
    // of `database_uri` (one create_database returned); throws on error.
    void admin(const std::string& sql, const std::string& database_uri = {});
    // The first column of the first row `sql` returns on the database of
    // `database_uri` ("" when no row); throws on error.
    std::string query(const std::string& sql, const std::string& database_uri);
    // Stops the server with SIGKILL-free fast shutdown and starts it again on
    // the same data directory (for tests of a restarted database).
    void restart();

    const std::filesystem::path& socket_dir() const { return dir_.path(); }
    std::string uri(const std::string& database) const;

  private:
    void start();
    void stop();

    TempDir dir_;
    uid_t uid_ = 0;
    gid_t gid_ = 0;
    bool drop_privileges_ = false;
    std::unique_ptr<ChildProcess> server_;
    int next_database_ = 0;
    int next_schema_ = 0;
};

}  // namespace gamestore::testing
