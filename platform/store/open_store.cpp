#include "platform/store/open_store.hpp"

#include <sys/stat.h>

#include <fmt/core.h>

#include <fstream>

#include "platform/store/postgres_store.hpp"
#include "platform/store/sqlite_store.hpp"

namespace gamestore::store {

namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::variant<DatabaseLocation, std::string> parse_database(
    std::string_view spec, const std::filesystem::path& default_sqlite) {
    if (spec.empty())
        return DatabaseLocation{SqliteLocation{default_sqlite}};
    if (starts_with(spec, "postgresql://") || starts_with(spec, "postgres://")) {
        if (redact_database_uri(spec) != spec) {
            return std::string(
                "--database must not carry the password (it would show in the process list "
                "and in config files): put it in --database-password-file, PGPASSFILE or "
                "PGPASSWORD");
        }
        return DatabaseLocation{PostgresLocation{std::string(spec)}};
    }
    if (starts_with(spec, "sqlite:")) {
        spec.remove_prefix(7);
        if (spec.empty())
            return std::string("--database sqlite: needs a file path after the colon");
        return DatabaseLocation{SqliteLocation{std::filesystem::path(spec)}};
    }
    if (spec.find("://") != std::string_view::npos) {
        return fmt::format("--database {}: expected a file path, sqlite:PATH or postgresql://...",
                           redact_database_uri(spec));
    }
    return DatabaseLocation{SqliteLocation{std::filesystem::path(spec)}};
}

std::string describe(const DatabaseLocation& location) {
    if (const auto* sqlite = std::get_if<SqliteLocation>(&location))
        return sqlite->path.string();
    return redact_database_uri(std::get<PostgresLocation>(location).uri);
}

Result<std::unique_ptr<SqlStore>> open_store(const DatabaseLocation& location,
                                             const SqlStore::Options& options,
                                             const std::string& password) {
    if (const auto* sqlite = std::get_if<SqliteLocation>(&location)) {
        SqliteStore::Options sqlite_options;
        static_cast<SqlStore::Options&>(sqlite_options) = options;
        auto opened = SqliteStore::open(sqlite->path, std::move(sqlite_options));
        if (!opened)
            return opened.error();
        return std::unique_ptr<SqlStore>(std::move(opened).value());
    }
    PostgresStore::Options pg_options;
    static_cast<SqlStore::Options&>(pg_options) = options;
    pg_options.password = password;
    auto opened =
        PostgresStore::open(std::get<PostgresLocation>(location).uri, std::move(pg_options));
    if (!opened)
        return opened.error();
    return std::unique_ptr<SqlStore>(std::move(opened).value());
}

std::variant<std::string, StoreError> read_password_file(const std::filesystem::path& file) {
    const auto refuse = [&](std::string_view why) {
        return StoreError{StoreError::Code::Invalid,
                          fmt::format("the database password file {} {}", file.string(), why)};
    };
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0)
        return refuse("cannot be read");
    if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        return refuse("may be read by others; chmod 600 it");
    std::ifstream in(file);
    std::string line;
    if (!in || !std::getline(in, line))
        return refuse("cannot be read");
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    if (line.empty())
        return refuse("is empty");
    return line;
}

}  // namespace gamestore::store
