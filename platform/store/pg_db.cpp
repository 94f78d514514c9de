#include "platform/store/pg_db.hpp"

#include <libpq-fe.h>

#include <fmt/core.h>

#include <array>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

namespace gamestore::store::pg {

namespace {

struct ResultDeleter {
    void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::string trimmed(const char* message) {
    std::string out = message != nullptr ? message : "";
    while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
        out.pop_back();
    return out;
}

bool succeeded(const PGresult* result) {
    const auto status = PQresultStatus(result);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

class PgCursor final : public sql::Cursor {
  public:
    PgCursor(Connection& connection, const Connection::Prepared& prepared)
        : connection_(connection),
          prepared_(prepared),
          values_(static_cast<std::size_t>(prepared.parameters)),
          binary_(static_cast<std::size_t>(prepared.parameters), 0) {}

    void bind_int64(int index, std::int64_t value) override { slot(index) = std::to_string(value); }
    void bind_double(int index, double value) override { slot(index) = fmt::format("{}", value); }
    void bind_text(int index, std::string_view value) override {
        // Text parameters end at their first NUL: refuse rather than cut.
        if (value.find('\0') != std::string_view::npos) {
            throw SqlError(SqlError::Kind::Other, 0,
                           fmt::format("parameter {} holds a NUL byte, which PostgreSQL text "
                                       "cannot store ({})",
                                       index, prepared_.sql));
        }
        slot(index) = std::string(value);
    }
    void bind_blob(int index, const void* data, std::size_t size) override {
        // Sent as binary: no hex text twice the size for either side to convert.
        slot(index) = std::string(static_cast<const char*>(data), size);
        binary_[static_cast<std::size_t>(index - 1)] = 1;
    }
    void bind_null(int index) override { slot(index).reset(); }

    bool step() override {
        if (!result_) {
            std::vector<const char*> pointers;
            std::vector<int> lengths;
            pointers.reserve(values_.size());
            lengths.reserve(values_.size());
            for (const auto& value : values_) {
                pointers.push_back(value ? value->data() : nullptr);
                lengths.push_back(value ? static_cast<int>(value->size()) : 0);
            }
            result_.reset(connection_.run_prepared(prepared_, pointers.data(), lengths.data(),
                                                   binary_.data()));
            rows_ = PQntuples(result_.get());
        }
        return ++row_ < rows_;
    }
    bool is_null(int column) const override {
        return PQgetisnull(result_.get(), row_, column) != 0;
    }
    std::int64_t int64(int column) const override {
        const char* value = PQgetvalue(result_.get(), row_, column);
        const std::size_t size = static_cast<std::size_t>(PQgetlength(result_.get(), row_, column));
        if (size == 1 && (value[0] == 't' || value[0] == 'f'))
            return value[0] == 't' ? 1 : 0;  // a boolean, read as SQLite's 0/1
        std::int64_t out = 0;
        const auto [end, ec] = std::from_chars(value, value + size, out);
        if (ec != std::errc() || end != value + size) {
            throw SqlError(SqlError::Kind::Other, 0,
                           fmt::format("column {} is not an integer: {} ({})", column,
                                       std::string(value, size), prepared_.sql));
        }
        return out;
    }
    double real(int column) const override {
        return std::strtod(PQgetvalue(result_.get(), row_, column), nullptr);
    }
    std::string text(int column) const override {
        return std::string(PQgetvalue(result_.get(), row_, column),
                           static_cast<std::size_t>(PQgetlength(result_.get(), row_, column)));
    }
    std::string blob(int column) const override {
        const char* value = PQgetvalue(result_.get(), row_, column);
        const auto size = static_cast<std::size_t>(PQgetlength(result_.get(), row_, column));
        if (PQfformat(result_.get(), column) == 1)
            return std::string(value, size);
        // Text format carries bytea as \x and two hex digits a byte.
        static const auto kNibble = [] {
            std::array<signed char, 256> table{};
            table.fill(-1);
            for (int c = 0; c < 10; ++c)
                table['0' + c] = static_cast<signed char>(c);
            for (int c = 0; c < 6; ++c) {
                table['a' + c] = static_cast<signed char>(10 + c);
                table['A' + c] = static_cast<signed char>(10 + c);
            }
            return table;
        }();
        const auto bad = [&] {
            return SqlError(
                SqlError::Kind::Other, 0,
                fmt::format("column {} is not hex-encoded bytea ({})", column, prepared_.sql));
        };
        if (size < 2 || value[0] != '\\' || value[1] != 'x' || size % 2 != 0)
            throw bad();
        std::string out((size - 2) / 2, '\0');
        for (std::size_t i = 0; i < out.size(); ++i) {
            const int high = kNibble[static_cast<unsigned char>(value[2 + 2 * i])];
            const int low = kNibble[static_cast<unsigned char>(value[3 + 2 * i])];
            if (high < 0 || low < 0)
                throw bad();
            out[i] = static_cast<char>((high << 4) | low);
        }
        return out;
    }

  private:
    std::optional<std::string>& slot(int index) {
        if (index < 1 || index > static_cast<int>(values_.size())) {
            throw SqlError(SqlError::Kind::Other, 0,
                           fmt::format("parameter {} is out of range ({})", index, prepared_.sql));
        }
        binary_[static_cast<std::size_t>(index - 1)] = 0;
        return values_[static_cast<std::size_t>(index - 1)];
    }

    Connection& connection_;
    const Connection::Prepared& prepared_;
    std::vector<std::optional<std::string>> values_;
    std::vector<int> binary_;  // per parameter: 1 when sent in binary (blobs)
    ResultPtr result_;
    int rows_ = 0;
    int row_ = -1;
};

}  // namespace

std::string to_dollar_parameters(std::string_view sql, int& max_index) {
    std::string out;
    out.reserve(sql.size());
    max_index = 0;
    char quote = 0;
    for (std::size_t i = 0; i < sql.size(); ++i) {
        const char c = sql[i];
        if (quote != 0) {
            if (c == quote)
                quote = 0;  // a doubled quote reopens on the next character
            out += c;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            out += c;
            continue;
        }
        if (c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            std::size_t end = i + 1;
            int index = 0;
            while (end < sql.size() && sql[end] >= '0' && sql[end] <= '9' && index < 100000) {
                index = index * 10 + (sql[end] - '0');
                ++end;
            }
            max_index = std::max(max_index, index);
            out += '$';
            out.append(sql.substr(i + 1, end - i - 1));
            i = end - 1;
            continue;
        }
        out += c;
    }
    return out;
}

std::unique_ptr<Connection> Connection::open(const std::string& conninfo,
                                             const std::string& password) {
    const char* keywords[] = {"dbname", password.empty() ? nullptr : "password", nullptr};
    const char* values[] = {conninfo.c_str(), password.empty() ? nullptr : password.c_str(),
                            nullptr};
    // expand_dbname: `dbname` carries the whole URI; `password` adds to it.
    PGconn* conn = PQconnectdbParams(keywords, values, 1);
    if (conn == nullptr)
        throw SqlError(SqlError::Kind::Other, 0, "libpq could not allocate a connection");
    std::unique_ptr<Connection> connection(new Connection(conn));
    if (PQstatus(conn) != CONNECTION_OK)
        throw SqlError(SqlError::Kind::Other, 0, trimmed(PQerrorMessage(conn)));
    // Whatever the server's defaults: a commit returns once it is on disk
    // (acknowledged = committed), times are plain integers, and a statement
    // that waits on a lock for a minute fails instead of hanging a thread.
    connection->exec(
        "SET synchronous_commit = on; SET client_min_messages = warning; "
        "SET lock_timeout = '60s'");
    return connection;
}

Connection::~Connection() {
    PQfinish(conn_);
}

bool Connection::usable() const {
    return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

void Connection::fail(PGresult* result, std::string_view context) {
    ResultPtr owned(result);
    using Kind = SqlError::Kind;
    Kind kind = Kind::Other;
    std::string message;
    if (result != nullptr) {
        const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
        const std::string_view code = state != nullptr ? state : "";
        if (code == "23505")
            kind = Kind::UniqueViolation;
        else if (code.substr(0, 2) == "23")
            kind = Kind::Constraint;
        message = trimmed(PQresultErrorMessage(result));
    }
    if (message.empty())
        message = trimmed(PQerrorMessage(conn_));
    throw SqlError(kind, 0, fmt::format("{} ({})", message, context));
}

void Connection::exec(const char* sql) {
    PGresult* result = PQexec(conn_, sql);
    if (result == nullptr || !succeeded(result))
        fail(result, sql);
    changes_ = std::atoi(PQcmdTuples(result));
    PQclear(result);
}

Statement Connection::prepare(std::string_view sql) {
    auto it = prepared_.find(std::string(sql));
    if (it == prepared_.end()) {
        Prepared prepared;
        prepared.name = fmt::format("s{}", prepared_.size() + 1);
        prepared.sql = std::string(sql);
        const std::string text = to_dollar_parameters(sql, prepared.parameters);
        PGresult* result = PQprepare(conn_, prepared.name.c_str(), text.c_str(), 0, nullptr);
        if (result == nullptr || !succeeded(result))
            fail(result, sql);
        PQclear(result);
        if (std::string_view(sql).substr(0, 6) == "SELECT") {
            PGresult* described = PQdescribePrepared(conn_, prepared.name.c_str());
            if (described == nullptr || !succeeded(described))
                fail(described, sql);
            constexpr Oid kByteaOid = 17;
            const int fields = PQnfields(described);
            prepared.binary_result = fields > 0;
            for (int i = 0; i < fields; ++i)
                prepared.binary_result =
                    prepared.binary_result && PQftype(described, i) == kByteaOid;
            PQclear(described);
        }
        it = prepared_.emplace(std::string(sql), std::move(prepared)).first;
    }
    return Statement(std::make_unique<PgCursor>(*this, it->second));
}

PGresult* Connection::run_prepared(const Prepared& prepared, const char* const* values,
                                   const int* lengths, const int* formats) {
    PGresult* result = PQexecPrepared(conn_, prepared.name.c_str(), prepared.parameters, values,
                                      lengths, formats, prepared.binary_result ? 1 : 0);
    if (result == nullptr || !succeeded(result))
        fail(result, prepared.sql);
    changes_ = std::atoi(PQcmdTuples(result));
    return result;
}

std::int64_t Connection::last_insert_rowid() {
    const int changed = changes_;
    auto s = prepare("SELECT lastval()");
    s.step();
    const std::int64_t id = s.int64(0);
    changes_ = changed;
    return id;
}

void Connection::begin(TxKind kind) {
    if (depth_++ > 0)
        return;
    rollback_only_ = false;
    try {
        exec(kind == TxKind::Write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    } catch (...) {
        depth_ = 0;
        throw;
    }
}

void Connection::commit() {
    if (depth_ == 0)
        throw SqlError(SqlError::Kind::Other, 0, "COMMIT without a transaction");
    if (--depth_ > 0)
        return;
    if (rollback_only_) {
        rollback_only_ = false;
        PQclear(PQexec(conn_, "ROLLBACK"));
        throw SqlError(SqlError::Kind::Other, 0,
                       "the transaction was rolled back because a part of it failed");
    }
    PGresult* result = PQexec(conn_, "COMMIT");
    if (result == nullptr || !succeeded(result))
        fail(result, "COMMIT");
    // A transaction that hit an error earlier ends in ROLLBACK, not an error.
    const std::string status = PQcmdStatus(result);
    PQclear(result);
    if (status != "COMMIT") {
        throw SqlError(SqlError::Kind::Other, 0,
                       "the transaction was rolled back because a statement in it failed");
    }
}

void Connection::end_write() {
    if (depth_ == 1 && rollback_only_) {
        rollback();
        return;
    }
    commit();
}

void Connection::rollback() noexcept {
    if (depth_ == 0)
        return;
    if (--depth_ > 0) {
        rollback_only_ = true;
        return;
    }
    rollback_only_ = false;
    PQclear(PQexec(conn_, "ROLLBACK"));
}

}  // namespace gamestore::store::pg
