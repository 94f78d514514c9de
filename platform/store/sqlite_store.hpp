// The embedded Store: one SQLite file in WAL mode.
//
// Threading: all writes go through ONE connection guarded by a mutex (SQLite
// allows one writer at a time anyway, and BEGIN IMMEDIATE under the mutex
// never waits on ourselves). Reads use a small pool of separate connections,
// one per calling thread at a time, so listings and logins run concurrently
// with a write (WAL readers see the last committed state and never block the
// writer). Password hashing and verification run outside every lock.
//
// Durability: journal_mode=WAL with synchronous=FULL, so every committed call
// is on disk before it returns; kill -9 or power loss loses nothing acknowledged.
//
// Schema: migrations are applied at open() by PRAGMA user_version, each in its
// own transaction. A database written by a newer gamestore is refused.
#pragma once

#include <filesystem>
#include <memory>

#include "platform/store/sql_store.hpp"

namespace gamestore::store {

class SqliteStore final : public SqlStore {
  public:
    struct Options : SqlStore::Options {
        // How long a statement waits for a lock held by another process.
        int busy_timeout_ms = 5000;
        // Idle read connections kept open; more are opened under load and closed after.
        int max_idle_readers = 4;
    };

    // Opens or creates the database file (its directory must exist) and
    // migrates it. Fails with a sentence when the file is not a gamestore
    // database, is newer than this build, or cannot be opened. Logs a warning
    // when options.hasher is the fast test setting.
    static Result<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& db_path,
                                                     Options options);
    static Result<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& db_path);

    // The schema version this build creates and understands.
    static int latest_schema_version();
    // The database's PRAGMA user_version (== latest_schema_version() once open).
    Result<int> schema_version() override;
    // Rewrites the schema version in a transaction of its own.
    Result<void> check_writable() override;
    std::string_view backend_name() const override { return "sqlite"; }

  private:
    using SqlStore::SqlStore;
};

}  // namespace gamestore::store
