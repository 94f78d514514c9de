// The embedded Store: one SQLite file in WAL mode.
//
// Threading: all writes go through ONE connection guarded by a mutex (SQLite
// allows one writer at a time anyway, and BEGIN IMMEDIATE under the mutex
// never waits on ourselves). Reads use a small pool of separate connections,
// one per calling thread at a time, so listings and logins run concurrently
// with a write (WAL readers see the last committed state and never block the
// writer). Password hashing and verification run outside every lock.
//
// Durability: journal_mode=WAL with synchronous=FULL, so every committed call
// is on disk before it returns; kill -9 or power loss loses nothing acknowledged.
//
// Schema: migrations are applied at open() by PRAGMA user_version, each in its
// own transaction. A database written by a newer gamestore is refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "platform/store/password.hpp"
#include "platform/store/store.hpp"

namespace gamestore::store {

class SqliteStore final : public Store {
  public:
    struct Options {
        PasswordHasher hasher = PasswordHasher::interactive();
        // A session not used for this long must log in again (default 7 days).
        std::int64_t session_idle_timeout_ms = 7LL * 24 * 60 * 60 * 1000;
        // How long a statement waits for a lock held by another process.
        int busy_timeout_ms = 5000;
        // Idle read connections kept open; more are opened under load and closed after.
        int max_idle_readers = 4;
        // Told the duration of every operation (lock and pool waits included)
        // and whether it wrote; called on the calling thread.
        std::function<void(bool write, std::chrono::duration<double> took)> on_operation;
    };

    // Opens or creates the database file (its directory must exist) and
    // migrates it. Fails with a sentence when the file is not a gamestore
    // database, is newer than this build, or cannot be opened. Logs a warning
    // when options.hasher is the fast test setting.
    static Result<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& db_path,
                                                     Options options);
    static Result<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& db_path);

    // The schema version this build creates and understands.
    static int latest_schema_version();
    // The database's PRAGMA user_version (== latest_schema_version() once open).
    Result<int> schema_version();
    // Commits a write that changes nothing (the schema version rewritten),
    // so a full disk, a read-only file or a lost lock shows up as an error:
    // the readiness check of GET /readyz.
    Result<void> check_writable();

    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    Result<Account> create_account(Role role, std::string_view name, std::string_view password,
                                   UnixMs now) override;
    Result<Account> verify_login(Role role, std::string_view name,
                                 std::string_view password) override;
    Result<Account> get_account(AccountId id) override;
    Result<Account> find_account(Role role, std::string_view name) override;

    Result<NewSession> create_session(AccountId account, UnixMs now) override;
    Result<ResumedSession> resume_session(std::string_view token, UnixMs now) override;
    Result<void> revoke_session(SessionId session, UnixMs now) override;

    Result<Game> create_game(AccountId developer, const NewGame& game, UnixMs now) override;
    Result<Game> get_game(GameId game) override;
    Result<Game> find_game(std::string_view name) override;
    Result<PublishResult> publish_version(const PublishRequest& request) override;
    Result<Game> set_live(AccountId actor, GameId game, std::string_view version) override;
    Result<Game> delist_game(AccountId actor, GameId game) override;
    Result<Game> relist_game(AccountId actor, GameId game) override;
    Result<std::vector<GameSummary>> list_games() override;
    Result<std::vector<GameSummary>> my_games(AccountId developer) override;
    Result<GameDetails> game_details(GameId game, std::optional<AccountId> viewer,
                                     int recent_reviews) override;
    Result<std::vector<Version>> list_versions(GameId game, bool include_hidden) override;
    Result<Version> get_version(GameId game, std::string_view version) override;
    Result<Version> get_version_by_id(VersionId version) override;
    Result<std::vector<std::string>> package_files() override;

    Result<Match> create_match(const NewMatch& match) override;
    Result<void> record_match_process(std::string_view match_id,
                                      const ProcessInfo& process) override;
    Result<void> record_match_in_game(std::string_view match_id, UnixMs at) override;
    Result<Match> finish_match(std::string_view match_id, const MatchFinish& finish) override;
    Result<Match> get_match(std::string_view match_id) override;
    Result<std::vector<Match>> list_open_matches() override;
    Result<void> record_play(AccountId player, GameId game, VersionId version,
                             UnixMs played_at) override;
    Result<bool> has_played(AccountId player, GameId game) override;
    Result<std::vector<PlayRecord>> play_history(AccountId player, int limit) override;

    Result<Review> upsert_review(AccountId player, GameId game, int rating, std::string_view text,
                                 UnixMs now) override;
    Result<void> delete_review(AccountId player, GameId game) override;
    Result<Review> get_review(AccountId player, GameId game) override;
    Result<std::vector<Review>> list_reviews(GameId game, int limit, int offset) override;
    Result<RatingSummary> rating_summary(GameId game) override;

  private:
    struct Impl;
    explicit SqliteStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace gamestore::store
