// The SQLite side of sql_db.hpp: a thin RAII layer over the SQLite C API,
// internal to the store. Opened with SQLITE_OPEN_NOMUTEX: one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "platform/store/sql_db.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace gamestore::store::sqlite {

using sql::SqlError;
using sql::Statement;
using sql::Transaction;

class Connection final : public sql::Connection {
  public:
    enum class Mode { ReadWrite, ReadOnly };

    // Opens (creating the file in ReadWrite mode) with foreign keys on, the
    // busy timeout and synchronous=FULL; WAL is the writer's job (see store).
    static std::unique_ptr<Connection> open(const std::filesystem::path& path, Mode mode,
                                            int busy_timeout_ms);
    ~Connection() override;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void exec(const char* sql) override;
    // A statement borrowed from the cache, or a private one when the cached
    // copy is in use by an enclosing loop; reset and returned when done.
    Statement prepare(std::string_view sql) override;
    std::int64_t last_insert_rowid() override;
    int changes() override;
    // BEGIN DEFERRED for reads, BEGIN IMMEDIATE for writes.
    void begin(TxKind kind) override;
    void commit() override;
    void rollback() noexcept override;

    std::string error_message() const;
    sqlite3* handle() const { return db_; }
    [[noreturn]] void fail(int rc, std::string_view context) const;

    struct Cached {
        sqlite3_stmt* stmt = nullptr;
        bool in_use = false;
    };

  private:
    explicit Connection(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    std::unordered_map<std::string, Cached> cache_;  // node-based: &Cached::in_use is stable
};

}  // namespace gamestore::store::sqlite
