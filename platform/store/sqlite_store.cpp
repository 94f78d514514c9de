#include "platform/store/sqlite_store.hpp"

#include <sqlite3.h>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "platform/store/schema.hpp"
#include "platform/store/session_token.hpp"
#include "platform/store/sqlite_db.hpp"

namespace gamestore::store {

namespace {

using sqlite::Connection;
using sqlite::SqlError;
using sqlite::Transaction;
using Code = StoreError::Code;

StoreError error(Code code, std::string message) {
    return StoreError{code, std::move(message)};
}

// One writer connection under a mutex, and a pool of read connections.
class SqliteBackend final : public SqlStore::Backend {
  public:
    SqliteBackend(std::filesystem::path path, int busy_timeout_ms, int max_idle_readers,
                  std::unique_ptr<Connection> writer)
        : path_(std::move(path)),
          busy_timeout_ms_(busy_timeout_ms),
          max_idle_readers_(max_idle_readers),
          writer_(std::move(writer)) {}

    void write(const std::function<void(sql::Connection&)>& body) override {
        std::lock_guard lock(write_mutex_);
        body(*writer_);
    }

    // Reads borrow a pooled connection; a new one is opened when all are busy.
    void read(const std::function<void(sql::Connection&)>& body) override {
        std::unique_ptr<Connection> connection;
        {
            std::lock_guard lock(pool_mutex_);
            if (!idle_readers_.empty()) {
                connection = std::move(idle_readers_.back());
                idle_readers_.pop_back();
            }
        }
        if (!connection)
            connection = Connection::open(path_, Connection::Mode::ReadOnly, busy_timeout_ms_);
        struct GiveBack {
            SqliteBackend& owner;
            std::unique_ptr<Connection>& connection;
            ~GiveBack() {
                std::lock_guard lock(owner.pool_mutex_);
                if (static_cast<int>(owner.idle_readers_.size()) < owner.max_idle_readers_)
                    owner.idle_readers_.push_back(std::move(connection));
            }
        } give_back{*this, connection};
        body(*connection);
    }

  private:
    std::filesystem::path path_;
    int busy_timeout_ms_;
    int max_idle_readers_;

    std::mutex write_mutex_;
    std::unique_ptr<Connection> writer_;

    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace

int SqliteStore::latest_schema_version() {
    return static_cast<int>(schema::migrations().size());
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& db_path) {
    return open(db_path, Options{});
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& db_path,
                                                       Options options) {
    using R = Result<std::unique_ptr<SqliteStore>>;
    if (!ensure_sodium()) {
        return error(Code::Internal, "libsodium failed to initialise (no entropy source?)");
    }
    const std::string shown = db_path.string();
    try {
        auto writer =
            Connection::open(db_path, Connection::Mode::ReadWrite, options.busy_timeout_ms);
        Connection& db = *writer;
        const auto pragma_int = [&db](const char* sql) {
            auto s = db.prepare(sql);
            s.step();
            return s.int64(0);
        };

        // Look before touching: never convert or migrate someone else's file.
        const auto application_id = pragma_int("PRAGMA application_id");
        const auto found_version = pragma_int("PRAGMA user_version");
        const int latest = latest_schema_version();
        if (application_id != 0 && application_id != schema::kApplicationId) {
            return R(error(Code::Invalid,
                           fmt::format("{} is not a gamestore database (it belongs to another "
                                       "application); choose another --data-dir",
                                       shown)));
        }
        if (found_version > latest) {
            return R(error(
                Code::Invalid,
                fmt::format("the database {} has schema version {}, but this gamestore only "
                            "understands versions up to {}; run the newer gamestore that wrote "
                            "it, or restore a backup",
                            shown, found_version, latest)));
        }
        if (found_version == 0 && application_id == 0 &&
            pragma_int("SELECT count(*) FROM sqlite_schema") != 0) {
            return R(error(Code::Invalid,
                           fmt::format("{} is not a gamestore database (it already holds other "
                                       "tables); choose another --data-dir",
                                       shown)));
        }

        {
            auto s = db.prepare("PRAGMA journal_mode = WAL");
            s.step();
            const std::string mode = s.text(0);
            if (mode != "wal") {
                return R(error(Code::Internal,
                               fmt::format("the database {} cannot use write-ahead logging "
                                           "(journal_mode stayed {}); put the data directory on "
                                           "a local filesystem",
                                           shown, mode)));
            }
        }

        // Each migration in its own transaction, re-reading the version inside
        // it so two processes opening a new file at once cannot both apply it.
        const auto migrations = schema::migrations();
        for (int target = static_cast<int>(found_version) + 1; target <= latest; ++target) {
            Transaction tx(db, Transaction::Kind::Write);
            if (pragma_int("PRAGMA user_version") >= target)
                continue;
            db.exec(migrations[static_cast<std::size_t>(target - 1)]);
            db.exec(fmt::format("PRAGMA user_version = {}; PRAGMA application_id = {};", target,
                                schema::kApplicationId)
                        .c_str());
            tx.commit();
            spdlog::info("store: migrated {} to schema version {}", shown, target);
        }
        auto backend = std::make_unique<SqliteBackend>(db_path, options.busy_timeout_ms,
                                                       options.max_idle_readers, std::move(writer));
        return R(
            std::unique_ptr<SqliteStore>(new SqliteStore(std::move(backend), std::move(options))));
    } catch (const SqlError& e) {
        if ((e.code() & 0xff) == SQLITE_NOTADB) {
            return R(error(Code::Invalid, fmt::format("{} is not a SQLite database; choose another "
                                                      "--data-dir",
                                                      shown)));
        }
        return R(
            error(Code::Internal, fmt::format("cannot open the database {}: {}", shown, e.what())));
    } catch (const std::exception& e) {
        return R(
            error(Code::Internal, fmt::format("cannot open the database {}: {}", shown, e.what())));
    }
}

Result<int> SqliteStore::schema_version() {
    return run_read("reading the schema version", [](sql::Connection& db) -> Result<int> {
        auto s = db.prepare("PRAGMA user_version");
        s.step();
        return s.int32(0);
    });
}

Result<void> SqliteStore::check_writable() {
    return run_write("checking that the database is writable",
                     [](sql::Connection& db) -> Result<void> {
                         Transaction tx(db, Transaction::Kind::Write);
                         int version = 0;
                         {
                             auto s = db.prepare("PRAGMA user_version");
                             s.step();
                             version = s.int32(0);
                         }
                         db.exec(fmt::format("PRAGMA user_version = {}", version).c_str());
                         tx.commit();
                         return {};
                     });
}

}  // namespace gamestore::store
