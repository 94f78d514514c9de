#include "platform/server/seed_games.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "platform/packages/manifest.hpp"
#include "platform/server/lobby_error.hpp"
#include "platform/server/package_ingest.hpp"

namespace gamestore::server {

namespace fs = std::filesystem;

namespace {

// The built-in developer owns the seeded games. Its password is random and
// never shown: nobody signs in as it.
std::optional<store::Account> seed_developer(store::Store& store) {
    auto found = store.find_account(store::Role::Developer, kSeedDeveloper);
    if (found) {
        return *found;
    }
    unsigned char raw[24];
    randombytes_buf(raw, sizeof raw);
    char hex[sizeof raw * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    auto created = store.create_account(store::Role::Developer, kSeedDeveloper, hex, store::unix_ms_now());
    if (!created) {
        spdlog::error("seed: cannot create the built-in developer: {}", created.error().message);
        return std::nullopt;
    }
    return *created;
}

}  // namespace

int seed_games(store::Store& store, const fs::path& data_dir, const fs::path& seed_dir,
               const packages::ZipLimits& limits) {
    std::error_code ec;
    if (!fs::is_directory(seed_dir, ec)) {
        spdlog::warn("seed: {} is not a directory; no games seeded", seed_dir.string());
        return 0;
    }
    std::vector<fs::path> packages_found;
    for (const auto& entry : fs::directory_iterator(seed_dir, ec)) {
        if (entry.is_directory() && fs::exists(entry.path() / "manifest.json")) {
            packages_found.push_back(entry.path());
        }
    }
    std::sort(packages_found.begin(), packages_found.end());
    if (packages_found.empty()) {
        return 0;
    }
    const auto developer = seed_developer(store);
    if (!developer) {
        return 0;
    }
    int published = 0;
    for (const auto& dir : packages_found) {
        const auto manifest = packages::load_manifest(dir / "manifest.json");
        if (!manifest.ok()) {
            spdlog::error("seed: {} has an invalid manifest: {}", dir.string(),
                          packages::format_issue(manifest.issues.front()));
            continue;
        }
        auto game = store.find_game(manifest.manifest->game_name);
        if (game) {
            if (store.get_version(game->id, manifest.manifest->version)) {
                continue;  // already there: seeding is idempotent
            }
            if (game->owner_id != developer->id) {
                spdlog::warn("seed: '{}' belongs to another developer; not seeded", game->name);
                continue;
            }
        }
        fs::create_directories(data_dir / "tmp");
        const auto zip = data_dir / "tmp" / ("seed-" + dir.filename().string() + ".zip");
        try {
            fs::remove(zip, ec);
            packages::create_zip(dir, zip);
            IngestRequest request;
            request.developer_id = developer->id;
            request.upload = zip;
            request.notes = "Reference game shipped with gamestore";
            auto result = ingest_package(store, data_dir, limits, request);
            spdlog::info("seed: published '{}' {}", result.game.name, result.version.version);
            ++published;
        } catch (const LobbyError& e) {
            spdlog::error("seed: {} was refused: {} {}", dir.string(), e.what(),
                          e.details().is_null() ? "" : e.details().dump());
        } catch (const std::exception& e) {
            spdlog::error("seed: {} failed: {}", dir.string(), e.what());
        }
    }
    return published;
}

}  // namespace gamestore::server
