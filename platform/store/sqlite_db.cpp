#include "platform/store/sqlite_db.hpp"

#include <sqlite3.h>

#include <fmt/core.h>

#include <utility>

namespace gamestore::store::sqlite {

bool SqlError::is_constraint() const noexcept {
    return (code_ & 0xff) == SQLITE_CONSTRAINT;
}

bool SqlError::is_unique_violation() const noexcept {
    return code_ == SQLITE_CONSTRAINT_UNIQUE || code_ == SQLITE_CONSTRAINT_PRIMARYKEY;
}

// ---- Statement ---------------------------------------------------------------

Statement::Statement(Connection& connection, sqlite3_stmt* stmt, bool* in_use)
    : connection_(&connection), stmt_(stmt), in_use_(in_use) {}

Statement::Statement(Statement&& other) noexcept
    : connection_(other.connection_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)) {}

Statement::~Statement() {
    if (stmt_ == nullptr)
        return;
    if (in_use_ != nullptr) {
        // Back to the cache: a reset statement holds no read snapshot open.
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
        *in_use_ = false;
    } else {
        sqlite3_finalize(stmt_);
    }
}

void Statement::check_bind(int rc, int index) {
    if (rc != SQLITE_OK)
        connection_->fail(rc, fmt::format("binding parameter {}", index));
}

Statement& Statement::bind(int index, std::int64_t value) {
    check_bind(sqlite3_bind_int64(stmt_, index, value), index);
    return *this;
}

Statement& Statement::bind(int index, int value) {
    check_bind(sqlite3_bind_int(stmt_, index, value), index);
    return *this;
}

Statement& Statement::bind(int index, double value) {
    check_bind(sqlite3_bind_double(stmt_, index, value), index);
    return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
    // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer may go away.
    check_bind(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                   SQLITE_UTF8),
               index);
    return *this;
}

Statement& Statement::bind(int index, std::nullopt_t) {
    check_bind(sqlite3_bind_null(stmt_, index), index);
    return *this;
}

Statement& Statement::bind_blob(int index, const void* data, std::size_t size) {
    check_bind(sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_TRANSIENT), index);
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    connection_->fail(rc, sqlite3_sql(stmt_));
}

void Statement::run() {
    while (step()) {
    }
}

bool Statement::is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::int64(int column) const {
    return sqlite3_column_int64(stmt_, column);
}

int Statement::int32(int column) const {
    return sqlite3_column_int(stmt_, column);
}

double Statement::real(int column) const {
    return sqlite3_column_double(stmt_, column);
}

std::string Statement::text(int column) const {
    const auto* data = sqlite3_column_text(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    if (data == nullptr)
        return {};
    return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
}

std::optional<std::int64_t> Statement::opt_int64(int column) const {
    if (is_null(column))
        return std::nullopt;
    return int64(column);
}

std::optional<std::string> Statement::opt_text(int column) const {
    if (is_null(column))
        return std::nullopt;
    return text(column);
}

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
        throw SqlError(rc, fmt::format("cannot open the database {}: {}", path.string(), message));
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
    throw SqlError(rc, fmt::format("{} ({})", sqlite3_errmsg(db_), context));
}

void Connection::exec(const char* sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        std::string message = error != nullptr ? error : sqlite3_errstr(rc);
        sqlite3_free(error);
        throw SqlError(sqlite3_extended_errcode(db_), message);
    }
}

Statement Connection::prepare(std::string_view sql) {
    auto [it, inserted] = cache_.try_emplace(std::string(sql));
    Cached& cached = it->second;
    if (cached.stmt != nullptr && !cached.in_use) {
        cached.in_use = true;
        return Statement(*this, cached.stmt, &cached.in_use);
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
        return Statement(*this, stmt, &cached.in_use);
    }
    // The cached copy is busy in an enclosing loop: use a private one.
    return Statement(*this, stmt, nullptr);
}

std::int64_t Connection::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(db_);
}

int Connection::changes() const {
    return sqlite3_changes(db_);
}

std::string Connection::error_message() const {
    return sqlite3_errmsg(db_);
}

// ---- Transaction -------------------------------------------------------------

Transaction::Transaction(Connection& connection, Kind kind) : connection_(connection) {
    connection_.exec(kind == Kind::Write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

Transaction::~Transaction() {
    if (!open_)
        return;
    // Must not throw from a destructor. Should ROLLBACK itself fail, the
    // next BEGIN on this connection fails loudly instead of nesting.
    sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    connection_.exec("COMMIT");
    open_ = false;
}

}  // namespace gamestore::store::sqlite
