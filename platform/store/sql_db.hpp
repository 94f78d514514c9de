// The database-neutral layer the store's queries are written against,
// internal to the store: a connection that prepares statements with
// SQLite-style numbered parameters (?1, ?2, ...), steps through rows and
// runs transactions. sqlite_db and pg_db implement it. Unlike the Store
// interface it throws SqlError: the store catches it at the boundary and
// turns it into StoreError::Internal, so the query code stays linear.
//
// A Connection is not thread-safe: the store hands each one to a single
// thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gamestore::store::sql {

class SqlError : public std::runtime_error {
  public:
    enum class Kind { Other, Constraint, UniqueViolation };
    // `code` is the backend's own (SQLite's extended result code; 0 for PostgreSQL).
    SqlError(Kind kind, int code, const std::string& message)
        : std::runtime_error(message), kind_(kind), code_(code) {}
    int code() const noexcept { return code_; }
    bool is_constraint() const noexcept { return kind_ != Kind::Other; }
    bool is_unique_violation() const noexcept { return kind_ == Kind::UniqueViolation; }

  private:
    Kind kind_;
    int code_;
};

// One execution of a prepared statement, as a backend implements it.
// Parameters and columns as in Statement.
class Cursor {
  public:
    virtual ~Cursor() = default;
    virtual void bind_int64(int index, std::int64_t value) = 0;
    virtual void bind_double(int index, double value) = 0;
    virtual void bind_text(int index, std::string_view value) = 0;
    virtual void bind_blob(int index, const void* data, std::size_t size) = 0;
    virtual void bind_null(int index) = 0;
    virtual bool step() = 0;
    virtual bool is_null(int column) const = 0;
    // Booleans read as 0 and 1.
    virtual std::int64_t int64(int column) const = 0;
    virtual double real(int column) const = 0;
    virtual std::string text(int column) const = 0;
    // The bytes of a BLOB (SQLite) or BYTEA (PostgreSQL) column.
    virtual std::string blob(int column) const = 0;
};

class Statement {
  public:
    explicit Statement(std::unique_ptr<Cursor> cursor) : cursor_(std::move(cursor)) {}

    // Parameters are 1-based, like SQLite's.
    Statement& bind(int index, std::int64_t value) {
        cursor_->bind_int64(index, value);
        return *this;
    }
    Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    Statement& bind(int index, double value) {
        cursor_->bind_double(index, value);
        return *this;
    }
    Statement& bind(int index, std::string_view value) {
        cursor_->bind_text(index, value);
        return *this;
    }
    Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
    Statement& bind(int index, const std::string& value) {
        return bind(index, std::string_view(value));
    }
    Statement& bind(int index, std::nullopt_t) {
        cursor_->bind_null(index);
        return *this;
    }
    Statement& bind_blob(int index, const void* data, std::size_t size) {
        cursor_->bind_blob(index, data, size);
        return *this;
    }
    template <class T>
    Statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind(index, std::nullopt);
    }

    // True when a row is available, false when done; throws on error.
    bool step() { return cursor_->step(); }
    // Steps to completion, for statements that return no rows.
    void run() {
        while (step()) {
        }
    }

    bool is_null(int column) const { return cursor_->is_null(column); }
    std::int64_t int64(int column) const { return cursor_->int64(column); }
    int int32(int column) const { return static_cast<int>(cursor_->int64(column)); }
    double real(int column) const { return cursor_->real(column); }
    std::string text(int column) const { return cursor_->text(column); }
    std::string blob(int column) const { return cursor_->blob(column); }
    std::optional<std::int64_t> opt_int64(int column) const {
        if (is_null(column))
            return std::nullopt;
        return int64(column);
    }
    std::optional<std::string> opt_text(int column) const {
        if (is_null(column))
            return std::nullopt;
        return text(column);
    }

  private:
    std::unique_ptr<Cursor> cursor_;
};

class Connection {
  public:
    enum class TxKind {
        Read,   // one consistent snapshot for several SELECTs
        Write,  // takes the write lock up front, so no upgrade deadlock
    };

    virtual ~Connection() = default;
    // One or more statements without parameters (schema, settings).
    virtual void exec(const char* sql) = 0;
    // Cached by SQL text: the second prepare of the same query is cheap.
    virtual Statement prepare(std::string_view sql) = 0;
    // The id the last INSERT into a table with an id column gave its row.
    virtual std::int64_t last_insert_rowid() = 0;
    // Rows changed by the last INSERT, UPDATE or DELETE.
    virtual int changes() = 0;
    virtual void begin(TxKind kind) = 0;
    virtual void commit() = 0;
    // Never throws: a failed rollback surfaces at the next statement.
    virtual void rollback() noexcept = 0;
};

// begin() on construction, rollback() on destruction unless commit() ran.
class Transaction {
  public:
    using Kind = Connection::TxKind;
    Transaction(Connection& connection, Kind kind) : connection_(connection) {
        connection_.begin(kind);
    }
    ~Transaction() {
        if (open_)
            connection_.rollback();
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit() {
        connection_.commit();
        open_ = false;
    }

  private:
    Connection& connection_;
    bool open_ = true;
};

}  // namespace gamestore::store::sql
