// Copying a SQLite installation's database into PostgreSQL (gamestore-server
// migrate-store, docs/DATA.md): every table, package bytes included, row for
// row with the same ids, in one PostgreSQL transaction, then verified by
// comparing each table's row count and a SHA-256 of its rows read back from
// both sides, and by reassembling every package in PostgreSQL and checking
// its size and SHA-256.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "platform/store/result.hpp"

namespace gamestore::store {

struct TableCopy {
    std::string table;
    std::int64_t rows = 0;
    std::string sha256;  // of the rows in key order, the same on both sides
};

// `from` must be an existing gamestore SQLite file (migrated to the latest
// schema first); `to` a PostgreSQL database that is empty or holds a
// gamestore schema without accounts or games (it is migrated first). NotFound
// when a version's package bytes are not in `from` (the server, and
// migrate-store before it calls this, store the data dir's zips there). Nothing
// is committed unless every table was copied; a mismatch after the commit is
// an Internal error naming the table. Run it while no server uses either.
Result<std::vector<TableCopy>> copy_sqlite_to_postgres(const std::filesystem::path& from,
                                                       const std::string& to,
                                                       const std::string& password);

}  // namespace gamestore::store
