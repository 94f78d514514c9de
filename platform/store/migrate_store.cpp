#include "platform/store/migrate_store.hpp"

#include <sodium.h>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <array>
#include <optional>
#include <string_view>
#include <utility>

#include "platform/store/pg_db.hpp"
#include "platform/store/pg_schema.hpp"
#include "platform/store/postgres_store.hpp"
#include "platform/store/sqlite_db.hpp"
#include "platform/store/sqlite_store.hpp"

namespace gamestore::store {

namespace {

using Code = StoreError::Code;

struct Column {
    const char* name;
    bool blob = false;
};

struct Table {
    const char* name;
    std::vector<Column> columns;
    const char* order_by;
    bool has_id;
};

// Parents before children. games.live_version_id points forward at versions:
// it is copied as NULL and set once the versions are in.
const std::array<Table, 10> kTables = {{
    {"accounts", {{"id"}, {"role"}, {"name"}, {"password_hash"}, {"created_at"}}, "id", true},
    {"sessions",
     {{"id"},
      {"account_id"},
      {"token_hash", true},
      {"created_at"},
      {"last_used_at"},
      {"revoked_at"},
      {"revoked_reason"}},
     "id",
     true},
    {"games",
     {{"id"},
      {"name"},
      {"owner_id"},
      {"type"},
      {"description"},
      {"min_players"},
      {"max_players"},
      {"created_at"},
      {"delisted"},
      {"live_version_id"}},
     "id",
     true},
    {"versions",
     {{"id"},           {"game_id"},        {"version"},       {"major"},        {"minor"},
      {"patch"},        {"prerelease"},     {"notes"},         {"size_bytes"},   {"sha256"},
      {"package_path"}, {"extracted_path"}, {"manifest_json"}, {"type"},         {"description"},
      {"min_players"},  {"max_players"},    {"published_at"},  {"published_by"}, {"hidden"}},
     "id",
     true},
    {"matches",
     {{"id"},
      {"match_id"},
      {"room_id"},
      {"game_id"},
      {"version_id"},
      {"started_at"},
      {"pid"},
      {"pgid"},
      {"process_start_time"},
      {"status"},
      {"ended_at"},
      {"reason"},
      {"results_json"},
      {"in_game_at"},
      {"node_id"}},
     "id",
     true},
    {"match_players", {{"match_row_id"}, {"seat"}, {"account_id"}}, "match_row_id, seat", false},
    {"play_history",
     {{"id"},
      {"account_id"},
      {"game_id"},
      {"version_id"},
      {"match_row_id"},
      {"match_status"},
      {"result"},
      {"played_at"}},
     "id",
     true},
    {"reviews",
     {{"id"},
      {"account_id"},
      {"game_id"},
      {"version_id"},
      {"rating"},
      {"text"},
      {"created_at"},
      {"updated_at"}},
     "id",
     true},
    {"package_blobs", {{"sha256"}, {"size_bytes"}, {"chunk_bytes"}, {"chunks"}}, "sha256", false},
    {"package_chunks", {{"sha256"}, {"seq"}, {"bytes", true}}, "sha256, seq", false},
}};

StoreError error(Code code, std::string message) {
    return StoreError{code, std::move(message)};
}

std::string column_list(const Table& table) {
    std::string out;
    for (const auto& column : table.columns) {
        if (!out.empty())
            out += ", ";
        out += column.name;
    }
    return out;
}

// Blobs as lower-case hex, so both sides render a row the same way.
std::string select_for_digest(const Table& table, bool postgres) {
    std::string list;
    for (const auto& column : table.columns) {
        if (!list.empty())
            list += ", ";
        if (column.blob) {
            list += postgres ? fmt::format("encode({}, 'hex')", column.name)
                             : fmt::format("lower(hex({}))", column.name);
        } else {
            list += column.name;
        }
    }
    return fmt::format("SELECT {} FROM {} ORDER BY {}", list, table.name, table.order_by);
}

// Row count and SHA-256 of every value, each prefixed by NULL-ness and length.
TableCopy digest(sql::Connection& db, const Table& table, bool postgres) {
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    TableCopy out{table.name, 0, {}};
    auto s = db.prepare(select_for_digest(table, postgres));
    while (s.step()) {
        ++out.rows;
        for (std::size_t i = 0; i < table.columns.size(); ++i) {
            const int column = static_cast<int>(i);
            if (s.is_null(column)) {
                crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>("N"), 1);
                continue;
            }
            const std::string value = s.text(column);
            const std::string header = fmt::format("V{}:", value.size());
            crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(header.data()),
                                      header.size());
            crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(value.data()),
                                      value.size());
        }
    }
    std::array<unsigned char, crypto_hash_sha256_BYTES> hash{};
    crypto_hash_sha256_final(&state, hash.data());
    for (const unsigned char byte : hash)
        out.sha256 += fmt::format("{:02x}", byte);
    return out;
}

void copy_table(sqlite::Connection& from, pg::Connection& to, const Table& table) {
    std::string placeholders;
    for (std::size_t i = 1; i <= table.columns.size(); ++i)
        placeholders += fmt::format("{}?{}", i == 1 ? "" : ", ", i);
    auto insert = fmt::format("INSERT INTO {} ({}) VALUES ({})", table.name, column_list(table),
                              placeholders);
    auto read = from.prepare(fmt::format("SELECT {} FROM {} ORDER BY {}", column_list(table),
                                         table.name, table.order_by));
    while (read.step()) {
        auto write = to.prepare(insert);
        for (std::size_t i = 0; i < table.columns.size(); ++i) {
            const int column = static_cast<int>(i);
            const int parameter = column + 1;
            if (read.is_null(column)) {
                write.bind(parameter, std::nullopt);
            } else if (table.columns[i].blob) {
                const std::string bytes = read.blob(column);
                write.bind_blob(parameter, bytes.data(), bytes.size());
            } else if (std::string_view(table.name) == "games" &&
                       std::string_view(table.columns[i].name) == "live_version_id") {
                write.bind(parameter, std::nullopt);
            } else {
                write.bind(parameter, read.text(column));
            }
        }
        write.run();
    }
}

// Every package in the target, reassembled from its chunks, has the size and
// SHA-256 it is stored under; returns the first one that does not.
std::optional<std::string> damaged_package(pg::Connection& db) {
    std::vector<std::pair<std::string, std::int64_t>> blobs;
    {
        auto s = db.prepare("SELECT sha256, size_bytes FROM package_blobs ORDER BY sha256");
        while (s.step())
            blobs.emplace_back(s.text(0), s.int64(1));
    }
    for (const auto& [sha256, size] : blobs) {
        crypto_hash_sha256_state state;
        crypto_hash_sha256_init(&state);
        std::int64_t total = 0;
        auto s = db.prepare("SELECT bytes FROM package_chunks WHERE sha256 = ?1 ORDER BY seq");
        s.bind(1, sha256);
        while (s.step()) {
            const std::string bytes = s.blob(0);
            total += static_cast<std::int64_t>(bytes.size());
            crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(bytes.data()),
                                      bytes.size());
        }
        std::array<unsigned char, crypto_hash_sha256_BYTES> hash{};
        crypto_hash_sha256_final(&state, hash.data());
        std::string hex;
        for (const unsigned char byte : hash)
            hex += fmt::format("{:02x}", byte);
        if (total != size || hex != sha256)
            return sha256;
    }
    return std::nullopt;
}

}  // namespace

Result<std::vector<TableCopy>> copy_sqlite_to_postgres(const std::filesystem::path& from,
                                                       const std::string& to,
                                                       const std::string& password) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(from, ec)) {
        return error(Code::NotFound, fmt::format("there is no database file {}", from.string()));
    }
    // Opening both stores migrates each to this build's latest schema, so
    // the tables below exist on both sides with the same columns.
    {
        auto source = SqliteStore::open(from);
        if (!source)
            return source.error();
        PostgresStore::Options options;
        options.password = password;
        auto target = PostgresStore::open(to, std::move(options));
        if (!target)
            return target.error();
    }
    const std::string shown = redact_database_uri(to);
    try {
        auto sqlite = sqlite::Connection::open(from, sqlite::Connection::Mode::ReadOnly, 5000);
        auto pg = pg::Connection::open(to, password);
        sqlite::Transaction snapshot(*sqlite, sqlite::Transaction::Kind::Read);
        {
            auto s = sqlite->prepare(
                "SELECT count(DISTINCT sha256) FROM versions v WHERE NOT EXISTS "
                "(SELECT 1 FROM package_blobs b WHERE b.sha256 = v.sha256)");
            s.step();
            if (s.int64(0) != 0) {
                return error(Code::NotFound,
                             fmt::format("{} package(s) of published versions are neither in {} "
                                         "nor in its data dir's packages/; restore them first",
                                         s.int64(0), from.string()));
            }
        }
        {
            pg::Transaction tx(*pg, pg::Transaction::Kind::Write);
            pg->exec(
                fmt::format("SELECT pg_advisory_xact_lock({})", pg_schema::kWriteLock).c_str());
            {
                auto s = pg->prepare(
                    "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM games)");
                s.step();
                if (s.int64(0) != 0) {
                    return error(Code::Conflict,
                                 fmt::format("{} already holds accounts or games; migrate into an "
                                             "empty database",
                                             shown));
                }
            }
            for (const auto& table : kTables)
                copy_table(*sqlite, *pg, table);
            {
                auto live = sqlite->prepare(
                    "SELECT id, live_version_id FROM games WHERE live_version_id IS NOT NULL");
                while (live.step()) {
                    pg->prepare("UPDATE games SET live_version_id = ?2 WHERE id = ?1")
                        .bind(1, live.int64(0))
                        .bind(2, live.int64(1))
                        .run();
                }
            }
            // New rows continue after the copied ids.
            for (const auto& table : kTables) {
                if (!table.has_id)
                    continue;
                pg->exec(fmt::format("SELECT setval(pg_get_serial_sequence('{0}', 'id'), "
                                     "(SELECT COALESCE(MAX(id), 0) + 1 FROM {0}), false)",
                                     table.name)
                             .c_str());
            }
            tx.commit();
        }
        std::vector<TableCopy> copied;
        for (const auto& table : kTables) {
            auto source = digest(*sqlite, table, false);
            auto target = digest(*pg, table, true);
            if (source.rows != target.rows || source.sha256 != target.sha256) {
                return error(Code::Internal,
                             fmt::format("the copy of {} differs: {} rows (sha256 {}) in {}, {} "
                                         "rows (sha256 {}) in {}",
                                         table.name, source.rows, source.sha256, from.string(),
                                         target.rows, target.sha256, shown));
            }
            copied.push_back(std::move(source));
        }
        if (const auto damaged = damaged_package(*pg)) {
            return error(Code::Internal,
                         fmt::format("the package {} in {} does not reassemble to its size and "
                                     "sha256",
                                     *damaged, shown));
        }
        return copied;
    } catch (const std::exception& e) {
        return error(Code::Internal, fmt::format("copying {} to {} failed: {}", from.string(),
                                                 shown, redact_database_uri(e.what())));
    }
}

}  // namespace gamestore::store
