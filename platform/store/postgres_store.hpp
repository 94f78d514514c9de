// The shared Store: PostgreSQL, for installations where several servers use
// one database (docs/DATA.md). Chosen by --database postgresql://...
//
// Threading: writes go through one connection per server under a mutex, and
// each write is one transaction that first takes a transaction-scoped
// advisory lock, so writers from every server run one at a time, exactly
// like SQLite's single writer: an operation's checks and its changes see no
// other write in between. Reads use a small pool of connections and never
// wait for a writer (MVCC); a read that needs one snapshot runs REPEATABLE
// READ. A connection the server dropped is replaced at its next use.
//
// Durability: synchronous_commit is forced on for every connection, so a call
// returns ok only after its COMMIT is flushed on the PostgreSQL server.
//
// Schema: migrations are applied at open(), each in its own transaction under
// the same advisory lock, and recorded in gamestore_schema. A database written
// by a newer gamestore, or one holding other tables, is refused.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "platform/store/sql_store.hpp"

namespace gamestore::store {

class PostgresStore final : public SqlStore {
  public:
    struct Options : SqlStore::Options {
        // Sent beside the URI instead of inside it (from a file the admin
        // names), so it never shows in argv or logs. Empty: libpq's own
        // PGPASSWORD, PGPASSFILE or ~/.pgpass, or the URI.
        std::string password;
        // Idle read connections kept open; more are opened under load and closed after.
        int max_idle_readers = 4;
    };

    // Connects to `uri` (postgresql://...) and migrates the database. Fails
    // with a sentence when it cannot connect, the database is not a
    // gamestore database or is newer than this build.
    static Result<std::unique_ptr<PostgresStore>> open(const std::string& uri, Options options);

    static int latest_schema_version();
    Result<int> schema_version() override;
    // Rewrites the schema version in a transaction of its own.
    Result<void> check_writable() override;
    std::string_view backend_name() const override { return "postgresql"; }

  private:
    using SqlStore::SqlStore;
};

// The URI with any password replaced by ***, for logs and error sentences:
// postgresql://user:secret@host/db -> postgresql://user:***@host/db, and a
// password=... parameter likewise.
std::string redact_database_uri(std::string_view uri);

}  // namespace gamestore::store
