// The Store shared by the SQLite and PostgreSQL backends: every query and
// rule, written once against the neutral connection of sql_db.hpp.
// SqliteStore and PostgresStore open their database, migrate its schema and
// lend connections through a Backend; everything else happens here.
//
// Threading, durability and atomicity are the Store contract (store.hpp);
// each backend documents how it keeps it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "platform/store/password.hpp"
#include "platform/store/store.hpp"

namespace gamestore::store {

namespace sql {
class Connection;
}

class SqlStore : public Store {
  public:
    struct Options {
        PasswordHasher hasher = PasswordHasher::interactive();
        // A session not used for this long must log in again (default 7 days).
        std::int64_t session_idle_timeout_ms = 7LL * 24 * 60 * 60 * 1000;
        // Told the duration of every operation (lock and pool waits included)
        // and whether it wrote; called on the calling thread.
        std::function<void(bool write, std::chrono::duration<double> took)> on_operation;
    };

    // How a backend lends its connections. Both calls may throw (sql::SqlError
    // and others); the store turns that into StoreError::Internal.
    class Backend {
      public:
        virtual ~Backend() = default;
        // Runs `body` on a connection that writes one operation at a time.
        // The backend decides the transaction boundary around `body` (none for
        // SQLite, whose single writer is enough; one per call for PostgreSQL).
        virtual void write(const std::function<void(sql::Connection&)>& body) = 0;
        // Runs `body` on a connection that only reads.
        virtual void read(const std::function<void(sql::Connection&)>& body) = 0;
    };

    ~SqlStore() override;
    SqlStore(const SqlStore&) = delete;
    SqlStore& operator=(const SqlStore&) = delete;

    // The database's schema version (the backend's latest once open).
    virtual Result<int> schema_version() = 0;
    // Commits a write that changes nothing, so a full disk, a read-only
    // database or a lost connection shows up as an error: the readiness
    // check of GET /readyz.
    virtual Result<void> check_writable() = 0;
    // "sqlite" or "postgresql", for logs and metrics.
    virtual std::string_view backend_name() const = 0;

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
    Result<void> store_package(std::string_view sha256, std::int64_t size_bytes,
                               const std::filesystem::path& file) override;
    Result<std::int64_t> read_package(
        std::string_view sha256, const std::function<void(std::string_view chunk)>& sink) override;
    Result<std::vector<std::string>> packages_without_bytes() override;

    // The size of the chunks package bytes are cut into.
    static constexpr std::int64_t kPackageChunkBytes = 1 << 20;

    Result<Match> create_match(const NewMatch& match) override;
    Result<void> record_match_process(std::string_view match_id,
                                      const ProcessInfo& process) override;
    Result<void> record_match_in_game(std::string_view match_id, UnixMs at) override;
    Result<Match> finish_match(std::string_view match_id, const MatchFinish& finish) override;
    Result<Match> get_match(std::string_view match_id) override;
    Result<std::vector<Match>> list_open_matches(std::string_view node_id = {}) override;
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

  protected:
    SqlStore(std::unique_ptr<Backend> backend, Options options);

    // A backend's own operations (schema version, readiness), timed and
    // guarded like the rest.
    Result<void> run_write(std::string_view what,
                           const std::function<Result<void>(sql::Connection&)>& body);
    Result<int> run_read(std::string_view what,
                         const std::function<Result<int>(sql::Connection&)>& body);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace gamestore::store
