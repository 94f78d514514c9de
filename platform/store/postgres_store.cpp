#include "platform/store/postgres_store.hpp"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <utility>
#include <vector>

#include "platform/store/pg_db.hpp"
#include "platform/store/pg_schema.hpp"
#include "platform/store/session_token.hpp"

namespace gamestore::store {

namespace {

using pg::Connection;
using pg::SqlError;
using pg::Transaction;
using Code = StoreError::Code;

StoreError error(Code code, std::string message) {
    return StoreError{code, std::move(message)};
}

const std::string kTakeWriteLock =
    fmt::format("SELECT pg_advisory_xact_lock({})", pg_schema::kWriteLock);

class PgBackend final : public SqlStore::Backend {
  public:
    PgBackend(std::string uri, std::string password, int max_idle_readers,
              std::unique_ptr<Connection> writer)
        : uri_(std::move(uri)),
          password_(std::move(password)),
          max_idle_readers_(max_idle_readers),
          writer_(std::move(writer)) {}

    void write(const std::function<void(sql::Connection&)>& body) override {
        std::lock_guard lock(write_mutex_);
        if (!writer_ || !writer_->usable())
            writer_ = Connection::open(uri_, password_);
        Connection& db = *writer_;
        db.begin(Connection::TxKind::Write);
        try {
            db.exec(kTakeWriteLock.c_str());
            body(db);
        } catch (...) {
            db.rollback();
            throw;
        }
        db.end_write();
    }

    void read(const std::function<void(sql::Connection&)>& body) override {
        std::unique_ptr<Connection> connection;
        {
            std::lock_guard lock(pool_mutex_);
            while (!connection && !idle_readers_.empty()) {
                connection = std::move(idle_readers_.back());
                idle_readers_.pop_back();
                if (!connection->usable())
                    connection.reset();
            }
        }
        if (!connection)
            connection = Connection::open(uri_, password_);
        struct GiveBack {
            PgBackend& owner;
            std::unique_ptr<Connection>& connection;
            ~GiveBack() {
                std::lock_guard lock(owner.pool_mutex_);
                if (connection->usable() &&
                    static_cast<int>(owner.idle_readers_.size()) < owner.max_idle_readers_) {
                    owner.idle_readers_.push_back(std::move(connection));
                }
            }
        } give_back{*this, connection};
        body(*connection);
    }

  private:
    std::string uri_;
    std::string password_;
    int max_idle_readers_;

    std::mutex write_mutex_;
    std::unique_ptr<Connection> writer_;

    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<Connection>> idle_readers_;
};

std::int64_t query_int(Connection& db, const char* sql) {
    auto s = db.prepare(sql);
    if (!s.step())
        return 0;
    return s.int64(0);
}

}  // namespace

std::string redact_database_uri(std::string_view uri) {
    std::string out(uri);
    // userinfo: scheme://user:password@host...
    if (const auto scheme = out.find("://"); scheme != std::string::npos) {
        const auto start = scheme + 3;
        const auto slash = out.find_first_of("/?", start);
        const auto at = out.rfind('@', slash == std::string::npos ? out.size() : slash);
        if (at != std::string::npos && at > start) {
            const auto colon = out.find(':', start);
            if (colon != std::string::npos && colon < at)
                out.replace(colon + 1, at - colon - 1, "***");
        }
    }
    // password=... as a URI parameter or a key=value pair.
    for (std::size_t pos = out.find("password="); pos != std::string::npos;
         pos = out.find("password=", pos + 1)) {
        if (pos > 0 && out[pos - 1] != '?' && out[pos - 1] != '&' && out[pos - 1] != ' ')
            continue;
        const auto value = pos + 9;
        const auto end = out.find_first_of("& ", value);
        out.replace(value, (end == std::string::npos ? out.size() : end) - value, "***");
    }
    return out;
}

int PostgresStore::latest_schema_version() {
    return static_cast<int>(pg_schema::migrations().size());
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const std::string& uri,
                                                           Options options) {
    using R = Result<std::unique_ptr<PostgresStore>>;
    if (!ensure_sodium()) {
        return error(Code::Internal, "libsodium failed to initialise (no entropy source?)");
    }
    const std::string shown = redact_database_uri(uri);
    try {
        auto writer = Connection::open(uri, options.password);
        Connection& db = *writer;
        const int latest = latest_schema_version();
        const auto migrations = pg_schema::migrations();
        // Each step in its own transaction under the writers' lock, reading
        // the state inside it, so servers starting together migrate once.
        for (;;) {
            Transaction tx(db, Transaction::Kind::Write);
            db.exec(kTakeWriteLock.c_str());
            if (query_int(db,
                          "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                          "AND tablename = 'gamestore_schema'") == 0 &&
                query_int(db,
                          "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()") !=
                    0) {
                return R(error(Code::Invalid,
                               fmt::format("{} is not a gamestore database (it already holds other "
                                           "tables); choose another --database",
                                           shown)));
            }
            db.exec(pg_schema::kBookkeeping);
            {
                auto s = db.prepare("SELECT application FROM gamestore_schema");
                s.step();
                if (s.text(0) != "gamestore") {
                    return R(error(Code::Invalid,
                                   fmt::format("{} is not a gamestore database (it belongs to "
                                               "another application); choose another --database",
                                               shown)));
                }
            }
            const auto found = query_int(db, "SELECT version FROM gamestore_schema");
            if (found > latest) {
                return R(error(
                    Code::Invalid,
                    fmt::format("the database {} has schema version {}, but this gamestore only "
                                "understands versions up to {}; run the newer gamestore that "
                                "wrote it, or restore a backup",
                                shown, found, latest)));
            }
            if (found >= latest) {
                tx.commit();
                break;
            }
            const int target = static_cast<int>(found) + 1;
            db.exec(migrations[static_cast<std::size_t>(target - 1)]);
            db.exec(fmt::format("UPDATE gamestore_schema SET version = {}", target).c_str());
            tx.commit();
            spdlog::info("store: migrated {} to schema version {}", shown, target);
        }
        auto backend = std::make_unique<PgBackend>(uri, options.password, options.max_idle_readers,
                                                   std::move(writer));
        return R(std::unique_ptr<PostgresStore>(
            new PostgresStore(std::move(backend), std::move(options))));
    } catch (const std::exception& e) {
        return R(error(Code::Internal, fmt::format("cannot open the database {}: {}", shown,
                                                   redact_database_uri(e.what()))));
    }
}

Result<int> PostgresStore::schema_version() {
    return run_read("reading the schema version", [](sql::Connection& db) -> Result<int> {
        auto s = db.prepare("SELECT version FROM gamestore_schema");
        if (!s.step())
            return 0;
        return s.int32(0);
    });
}

Result<void> PostgresStore::check_writable() {
    return run_write("checking that the database is writable",
                     [](sql::Connection& db) -> Result<void> {
                         db.exec("UPDATE gamestore_schema SET version = version");
                         return {};
                     });
}

}  // namespace gamestore::store
