#include "platform/store/sqlite_db.hpp"

#include <sqlite3.h>

#include <fmt/core.h>

#include <utility>

namespace gamestore::store::sqlite {

namespace {

SqlError make_error(int code, const std::string& message) {
    using Kind = SqlError::Kind;
    Kind kind = Kind::Other;
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
        kind = Kind::UniqueViolation;
    else if ((code & 0xff) == SQLITE_CONSTRAINT)
        kind = Kind::Constraint;
    return SqlError(kind, code, message);
}

// A statement from the connection's cache (or owned, when the cached one is
// already in use by an enclosing loop). Reset and unbound on destruction so
// the cache can hand it out again.
class SqliteCursor final : public sql::Cursor {
  public:
    SqliteCursor(Connection& connection, sqlite3_stmt* stmt, bool* in_use)
        : connection_(connection), stmt_(stmt), in_use_(in_use) {}
    ~SqliteCursor() override {
        if (in_use_ != nullptr) {
            // Back to the cache: a reset statement holds no read snapshot open.
            sqlite3_reset(stmt_);
            sqlite3_clear_bindings(stmt_);
            *in_use_ = false;
        } else {
            sqlite3_finalize(stmt_);
        }
    }
    SqliteCursor(const SqliteCursor&) = delete;
    SqliteCursor& operator=(const SqliteCursor&) = delete;

    void bind_int64(int index, std::int64_t value) override {
        check_bind(sqlite3_bind_int64(stmt_, index, value), index);
    }
    void bind_double(int index, double value) override {
        check_bind(sqlite3_bind_double(stmt_, index, value), index);
    }
    void bind_text(int index, std::string_view value) override {
        // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer may go away.
        check_bind(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                       SQLITE_UTF8),
                   index);
    }
    void bind_blob(int index, const void* data, std::size_t size) override {
        check_bind(sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_TRANSIENT), index);
    }
    void bind_null(int index) override { check_bind(sqlite3_bind_null(stmt_, index), index); }

    bool step() override {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW)
            return true;
        if (rc == SQLITE_DONE)
            return false;
        connection_.fail(rc, sqlite3_sql(stmt_));
    }
    bool is_null(int column) const override {
        return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
    }
    std::int64_t int64(int column) const override { return sqlite3_column_int64(stmt_, column); }
    double real(int column) const override { return sqlite3_column_double(stmt_, column); }
    std::string text(int column) const override {
        const auto* data = sqlite3_column_text(stmt_, column);
        const int size = sqlite3_column_bytes(stmt_, column);
        if (data == nullptr)
            return {};
        return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
    }
    std::string blob(int column) const override {
        const auto* data = sqlite3_column_blob(stmt_, column);
        const int size = sqlite3_column_bytes(stmt_, column);
        if (data == nullptr)
            return {};
        return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
    }

  private:
    void check_bind(int rc, int index) {
        if (rc != SQLITE_OK)
            connection_.fail(rc, fmt::format("binding parameter {}", index));
    }

    Connection& connection_;
    sqlite3_stmt* stmt_;
    bool* in_use_;  // the cache slot's flag; nullptr when this statement is owned
};

}  // namespace

// ---- Connection --------------------------------------------------------------

std::unique_ptr<Connection> Connection::open(const std::filesystem::path& path, Mode mode,
                                             int busy_timeout_ms) {
    sqlite3* db = nullptr;
    // Read connections still open read-write: a read-only connection cannot
    // create the WAL index it needs after an unclean shutdown. query_only
    // below keeps them from writing.
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                      (mode == Mode::ReadWrite ? SQLITE_OPEN_CREATE : 0);
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        throw make_error(rc,
                         fmt::format("cannot open the database {}: {}", path.string(), message));
    }
    std::unique_ptr<Connection> connection(new Connection(db));
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, busy_timeout_ms);
    // Per-connection settings: foreign keys are off by default in SQLite, and
    // FULL makes every commit fsync the WAL, so an acknowledged write survives
    // kill -9 and power loss.
    connection->exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;");
    if (mode == Mode::ReadOnly)
        connection->exec("PRAGMA query_only = ON;");
    return connection;
}

Connection::~Connection() {
    for (auto& [sql, cached] : cache_)
        sqlite3_finalize(cached.stmt);
    sqlite3_close_v2(db_);
}

void Connection::fail(int rc, std::string_view context) const {
    throw make_error(rc, fmt::format("{} ({})", sqlite3_errmsg(db_), context));
}

void Connection::exec(const char* sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        std::string message = error != nullptr ? error : sqlite3_errstr(rc);
        sqlite3_free(error);
        throw make_error(sqlite3_extended_errcode(db_), message);
    }
}

Statement Connection::prepare(std::string_view sql) {
    auto [it, inserted] = cache_.try_emplace(std::string(sql));
    Cached& cached = it->second;
    if (cached.stmt != nullptr && !cached.in_use) {
        cached.in_use = true;
        return Statement(std::make_unique<SqliteCursor>(*this, cached.stmt, &cached.in_use));
    }
    sqlite3_stmt* stmt = nullptr;
    const unsigned flags = cached.stmt == nullptr ? SQLITE_PREPARE_PERSISTENT : 0;
    const int rc =
        sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), flags, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        if (inserted)
            cache_.erase(it);
        fail(rc, sql);
    }
    if (cached.stmt == nullptr) {
        cached.stmt = stmt;
        cached.in_use = true;
        return Statement(std::make_unique<SqliteCursor>(*this, stmt, &cached.in_use));
    }
    // The cached copy is busy in an enclosing loop: use a private one.
    return Statement(std::make_unique<SqliteCursor>(*this, stmt, nullptr));
}

std::int64_t Connection::last_insert_rowid() {
    return sqlite3_last_insert_rowid(db_);
}

int Connection::changes() {
    return sqlite3_changes(db_);
}

std::string Connection::error_message() const {
    return sqlite3_errmsg(db_);
}

void Connection::begin(TxKind kind) {
    exec(kind == TxKind::Write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

void Connection::commit() {
    exec("COMMIT");
}

void Connection::rollback() noexcept {
    // Should ROLLBACK itself fail, the next BEGIN on this connection fails
    // loudly instead of nesting.
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace gamestore::store::sqlite
