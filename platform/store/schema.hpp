// The SQLite schema as an ordered list of migrations, internal to the store.
// Migration i (0-based) brings a database from `PRAGMA user_version` i to i+1.
// Never edit a released migration: append a new one (docs/DATA.md lists them).
#pragma once

#include <cstdint>
#include <span>

namespace gamestore::store::schema {

// Written to `PRAGMA application_id` ("GSDB") so a foreign SQLite file is
// refused instead of being migrated.
inline constexpr std::int32_t kApplicationId = 0x47534442;

std::span<const char* const> migrations();

}  // namespace gamestore::store::schema
