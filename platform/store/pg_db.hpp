// The PostgreSQL side of sql_db.hpp, over libpq (internal to the store; only
// pg_db.cpp includes libpq-fe.h). Statements are prepared on the server once
// per connection, with the store's ?N parameters rewritten to $N; values
// travel as text and the server infers their types from the query.
//
// Transactions nest: the PostgreSQL store wraps every write in one, and an
// inner Transaction joins it. An inner rollback marks the whole transaction
// for rollback, which the outer commit then performs and reports.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "platform/store/sql_db.hpp"

struct pg_conn;
struct pg_result;

namespace gamestore::store::pg {

using sql::SqlError;
using sql::Statement;
using sql::Transaction;

// ?1, ?2 ... outside quotes become $1, $2 ...; `max_index` is set to the
// highest parameter number seen. Pure, for the unit tests.
std::string to_dollar_parameters(std::string_view sql, int& max_index);

class Connection final : public sql::Connection {
  public:
    // Connects with a libpq URI or key=value string, and `password` when not
    // empty (else libpq's own sources: PGPASSWORD, PGPASSFILE, ~/.pgpass);
    // throws SqlError with libpq's sentence, which never contains the password.
    static std::unique_ptr<Connection> open(const std::string& conninfo,
                                            const std::string& password);
    ~Connection() override;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void exec(const char* sql) override;
    Statement prepare(std::string_view sql) override;
    std::int64_t last_insert_rowid() override;
    int changes() override { return changes_; }
    // BEGIN (READ COMMITTED; the store serialises writers with a lock) for
    // writes, BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY for reads.
    void begin(TxKind kind) override;
    void commit() override;
    void rollback() noexcept override;
    // Ends the outermost write transaction: COMMIT, or ROLLBACK when an
    // inner Transaction was rolled back (the operation chose to fail). Throws
    // when COMMIT did not commit.
    void end_write();

    // False once the server closed the connection or it failed mid-transaction:
    // the pool drops such a connection instead of lending it again.
    bool usable() const;

    // For the cursor: runs a prepared statement and takes its result.
    struct Prepared {
        std::string name;
        int parameters = 0;
        std::string sql;  // for error messages
        // Every result column is BYTEA (package chunks): rows come in binary,
        // the raw bytes, instead of hex text twice their size.
        bool binary_result = false;
    };
    // `lengths` and `formats` as PQexecPrepared takes them (1 = binary).
    pg_result* run_prepared(const Prepared& prepared, const char* const* values, const int* lengths,
                            const int* formats);
    [[noreturn]] void fail(pg_result* result, std::string_view context);

  private:
    explicit Connection(pg_conn* conn) : conn_(conn) {}
    pg_conn* conn_;
    std::unordered_map<std::string, Prepared> prepared_;
    int changes_ = 0;
    int depth_ = 0;
    bool rollback_only_ = false;
};

}  // namespace gamestore::store::pg
