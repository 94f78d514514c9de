// Choosing and opening a store from the --database setting (docs/SERVER.md):
// a path or sqlite:PATH opens a SqliteStore, a postgresql:// (or postgres://)
// URI a PostgresStore.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "platform/store/sql_store.hpp"

namespace gamestore::store {

struct SqliteLocation {
    std::filesystem::path path;
};
struct PostgresLocation {
    std::string uri;
};
using DatabaseLocation = std::variant<SqliteLocation, PostgresLocation>;

// Pure. An empty `spec` is `default_sqlite`. A URI that carries a password
// is refused (a sentence): it would show in the process list and in config
// files; the password goes in a file, PGPASSFILE or PGPASSWORD instead.
std::variant<DatabaseLocation, std::string> parse_database(
    std::string_view spec, const std::filesystem::path& default_sqlite);

// For logs: the path, or the URI with any password redacted.
std::string describe(const DatabaseLocation& location);

// `password` only for PostgreSQL (empty: libpq's own sources).
Result<std::unique_ptr<SqlStore>> open_store(const DatabaseLocation& location,
                                             const SqlStore::Options& options,
                                             const std::string& password = {});

// The first line of `file`, without its line ending: a password file. A
// sentence when it cannot be read, is empty, or others may read it.
std::variant<std::string, StoreError> read_password_file(const std::filesystem::path& file);

}  // namespace gamestore::store
