// The PostgreSQL schema as an ordered list of migrations, internal to the
// store. Migration i (0-based) brings a database from gamestore_schema.version
// i to i+1; the numbering matches SQLite's (schema.hpp), so one version number
// names the same tables on both. Never edit a released migration: append a
// new one (docs/DATA.md lists them).
#pragma once

#include <cstdint>
#include <span>

namespace gamestore::store::pg_schema {

// The transaction-scoped advisory lock every write and every migration
// takes, so writers from several servers run one at a time ("GSDB").
inline constexpr std::int64_t kWriteLock = 0x47534442;

// Creates the bookkeeping table (version 0) when missing; run under kWriteLock.
extern const char* const kBookkeeping;

std::span<const char* const> migrations();

}  // namespace gamestore::store::pg_schema
