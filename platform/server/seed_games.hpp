#pragma once
// --seed-games DIR: publish every package directory under DIR (one with a
// manifest.json) as the built-in developer account "gamestore", unless that
// version is already published. Runs at startup, before serving, so a fresh
// ./ci/serve has games to play at once.

#include <filesystem>

#include "platform/packages/zip.hpp"
#include "platform/store/store.hpp"

namespace gamestore::server {

inline constexpr const char* kSeedDeveloper = "gamestore";

// Returns how many versions were published; logs (and skips) failures.
int seed_games(store::Store& store, const std::filesystem::path& data_dir, const std::filesystem::path& seed_dir,
               const packages::ZipLimits& limits);

}  // namespace gamestore::server
