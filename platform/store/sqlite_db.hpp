// A thin RAII layer over the SQLite C API, internal to the store. Unlike the
// Store interface it throws SqlError: SqliteStore catches it at the boundary
// and turns it into StoreError::Internal, so the query code stays linear.
//
// A Connection is not thread-safe (opened with SQLITE_OPEN_NOMUTEX): the store
// hands each one to a single thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace gamestore::store::sqlite {

class SqlError : public std::runtime_error {
  public:
    SqlError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    int code() const noexcept { return code_; }  // extended result code
    bool is_constraint() const noexcept;
    bool is_unique_violation() const noexcept;

  private:
    int code_;
};

class Connection;

// A prepared statement borrowed from the connection's cache (or owned, when
// the cached one is already in use by an enclosing loop). Reset and unbound on
// destruction so the cache can hand it out again.
class Statement {
  public:
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    ~Statement();

    // Parameters are 1-based, like SQLite's.
    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, int value);
    Statement& bind(int index, double value);
    Statement& bind(int index, std::string_view value);
    Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
    Statement& bind(int index, const std::string& value) {
        return bind(index, std::string_view(value));
    }
    Statement& bind(int index, std::nullopt_t);
    Statement& bind_blob(int index, const void* data, std::size_t size);
    template <class T>
    Statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind(index, std::nullopt);
    }

    // True when a row is available, false when done; throws on error.
    bool step();
    // Steps to completion, for statements that return no rows.
    void run();

    bool is_null(int column) const;
    std::int64_t int64(int column) const;
    int int32(int column) const;
    double real(int column) const;
    std::string text(int column) const;
    std::optional<std::int64_t> opt_int64(int column) const;
    std::optional<std::string> opt_text(int column) const;

  private:
    friend class Connection;
    Statement(Connection& connection, sqlite3_stmt* stmt, bool* in_use);
    void check_bind(int rc, int index);

    Connection* connection_;
    sqlite3_stmt* stmt_;
    bool* in_use_;  // the cache slot's flag; nullptr when this statement is owned
};

class Connection {
  public:
    enum class Mode { ReadWrite, ReadOnly };

    // Opens (creating the file in ReadWrite mode) with foreign keys on, the
    // busy timeout and synchronous=FULL; WAL is the writer's job (see store).
    static std::unique_ptr<Connection> open(const std::filesystem::path& path, Mode mode,
                                            int busy_timeout_ms);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // One or more statements without parameters (schema, pragmas).
    void exec(const char* sql);
    // Cached by SQL text: the second prepare of the same query is free.
    Statement prepare(std::string_view sql);
    std::int64_t last_insert_rowid() const;
    int changes() const;
    std::string error_message() const;
    sqlite3* handle() const { return db_; }

    [[noreturn]] void fail(int rc, std::string_view context) const;

  private:
    explicit Connection(sqlite3* db) : db_(db) {}
    struct Cached {
        sqlite3_stmt* stmt = nullptr;
        bool in_use = false;
    };
    sqlite3* db_;
    std::unordered_map<std::string, Cached> cache_;  // node-based: &Cached::in_use is stable
};

// BEGIN on construction, ROLLBACK on destruction unless commit() ran.
class Transaction {
  public:
    enum class Kind {
        Read,   // BEGIN DEFERRED: one consistent snapshot for several SELECTs
        Write,  // BEGIN IMMEDIATE: takes the write lock up front, so no upgrade deadlock
    };
    Transaction(Connection& connection, Kind kind);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

  private:
    Connection& connection_;
    bool open_ = true;
};

}  // namespace gamestore::store::sqlite
