// Shared helpers for the store tests: a temporary data directory, a store
// opened with the fast password hasher, and result unwrapping that prints the
// store's sentence when a call unexpectedly fails.
#pragma once

#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include "platform/store/sqlite_store.hpp"

namespace gamestore::store::test {

class TempDir {
  public:
    TempDir() {
        std::random_device rd;
        const auto base = std::filesystem::temp_directory_path();
        for (int attempt = 0; attempt < 100; ++attempt) {
            auto candidate =
                base / ("gamestore-store-test-" + std::to_string(rd()) + std::to_string(rd()));
            if (std::filesystem::create_directory(candidate)) {
                path_ = candidate;
                return;
            }
        }
        FAIL("could not create a temporary directory");
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

template <class T>
T must(Result<T> result) {
    if (!result.ok())
        FAIL("unexpected store error: " << result.error().message);
    return std::move(result).value();
}

inline void must(Result<void> result) {
    if (!result.ok())
        FAIL("unexpected store error: " << result.error().message);
}

template <class T>
StoreError must_fail(Result<T> result, StoreError::Code expected) {
    if (result.ok())
        FAIL("the call succeeded but should have failed");
    INFO("message: " << result.error().message);
    CHECK(to_string(result.error().code) == to_string(expected));
    return result.error();
}

inline SqliteStore::Options fast_options() {
    SqliteStore::Options options;
    options.hasher = PasswordHasher::fast_for_tests();
    return options;
}

inline constexpr UnixMs kT0 = 1'700'000'000'000;  // a fixed "now" for deterministic tests
inline const std::string kSha = std::string(64, 'a');

struct StoreFixture {
    TempDir dir;
    std::unique_ptr<SqliteStore> store;

    StoreFixture() {
        // The fast-hasher warning is expected in every test; keep output readable.
        spdlog::set_level(spdlog::level::err);
        reopen();
    }

    std::filesystem::path db_path() const { return dir.path() / "gamestore.db"; }

    void reopen(SqliteStore::Options options = fast_options()) {
        store.reset();
        store = must(SqliteStore::open(db_path(), std::move(options)));
    }

    Account player(const std::string& name) {
        return must(store->create_account(Role::Player, name, "password-" + name, kT0));
    }
    Account developer(const std::string& name) {
        return must(store->create_account(Role::Developer, name, "password-" + name, kT0));
    }

    static PublishRequest request(AccountId dev, const std::string& game,
                                  const std::string& version, bool hidden = false) {
        PublishRequest r;
        r.developer_id = dev;
        r.game = NewGame{game, GameType::Cli, "The game " + game, 2, 4};
        r.version = version;
        r.notes = "notes for " + version;
        r.size_bytes = 1234;
        r.sha256 = kSha;
        r.package_path = "packages/" + kSha + ".zip";
        r.extracted_path = "games/x/" + version;
        r.manifest_json = R"({"game_name":")" + game + R"(","version":")" + version + R"("})";
        r.hidden = hidden;
        r.now = kT0;
        return r;
    }

    PublishResult publish(AccountId dev, const std::string& game, const std::string& version,
                          bool hidden = false) {
        return must(store->publish_version(request(dev, game, version, hidden)));
    }
};

}  // namespace gamestore::store::test
