// The persistence interface of the platform. SqliteStore (embedded) and
// PostgresStore (shared) implement it, both through SqlStore (sql_store.hpp);
// the server picks one with --database (open_store.hpp).
//
// Contract for every implementation:
//  - calls are blocking (the server runs them on its thread pool) and safe to
//    call from several threads at once;
//  - nothing throws; failures are StoreError values with a user-facing sentence;
//  - a call that returned ok is durable (survives kill -9 and power loss);
//  - a call that changes several rows does so in one transaction: all or nothing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "platform/store/result.hpp"
#include "platform/store/types.hpp"

namespace gamestore::store {

class Store {
  public:
    virtual ~Store() = default;

    // ---- accounts ---------------------------------------------------------
    // Name: 3..32 chars of [A-Za-z0-9_.-] starting with a letter or digit,
    // unique within the role ignoring ASCII case. Password: 8..128 bytes.
    // Hashes with argon2id (slow by design) before taking any lock.
    virtual Result<Account> create_account(Role role, std::string_view name,
                                           std::string_view password, UnixMs now) = 0;
    // Unauthenticated with the same sentence for an unknown name and a wrong
    // password. Upgrades the stored hash when the hasher's cost changed.
    virtual Result<Account> verify_login(Role role, std::string_view name,
                                         std::string_view password) = 0;
    virtual Result<Account> get_account(AccountId id) = 0;
    virtual Result<Account> find_account(Role role, std::string_view name) = 0;

    // ---- sessions ---------------------------------------------------------
    // One active session per account: creating one revokes all the others
    // (returned, so the server can push session.revoked to them).
    virtual Result<NewSession> create_session(AccountId account, UnixMs now) = 0;
    // Unauthenticated when the token is unknown, revoked or idle for longer
    // than the idle timeout; otherwise marks it used at `now`.
    virtual Result<ResumedSession> resume_session(std::string_view token, UnixMs now) = 0;
    // Logout. Revoking an already revoked session is ok.
    virtual Result<void> revoke_session(SessionId session, UnixMs now) = 0;

    // ---- games and versions -----------------------------------------------
    // Game names: 1..64 bytes of UTF-8, no control characters, no leading or
    // trailing space; globally unique ignoring ASCII case. Developers only.
    virtual Result<Game> create_game(AccountId developer, const NewGame& game, UnixMs now) = 0;
    virtual Result<Game> get_game(GameId game) = 0;
    virtual Result<Game> find_game(std::string_view name) = 0;
    // One transaction: creates the game on its first publish, inserts the
    // version (Conflict if it exists: versions are immutable), and moves the
    // live pointer unless the request is hidden. Only the owner publishes.
    virtual Result<PublishResult> publish_version(const PublishRequest& request) = 0;
    // Moves the live pointer to any published version (a rollback when older).
    virtual Result<Game> set_live(AccountId actor, GameId game, std::string_view version) = 0;
    // Delisted games leave the store listing; their details stay readable.
    virtual Result<Game> delist_game(AccountId actor, GameId game) = 0;
    virtual Result<Game> relist_game(AccountId actor, GameId game) = 0;
    // The player-facing store: listed games that have a live version, by name.
    virtual Result<std::vector<GameSummary>> list_games() = 0;
    // Every game the developer owns, delisted or without a live version included.
    virtual Result<std::vector<GameSummary>> my_games(AccountId developer) = 0;
    // Hidden versions are included only when `viewer` is the owner.
    virtual Result<GameDetails> game_details(GameId game, std::optional<AccountId> viewer,
                                             int recent_reviews) = 0;
    virtual Result<std::vector<Version>> list_versions(GameId game, bool include_hidden) = 0;
    virtual Result<Version> get_version(GameId game, std::string_view version) = 0;
    virtual Result<Version> get_version_by_id(VersionId version) = 0;
    // Every package_path and extracted_path any version names (relative to
    // the data dir): what a startup sweep must keep.
    virtual Result<std::vector<std::string>> package_files() = 0;

    // ---- package bytes ----------------------------------------------------
    // Every version's zip is kept in the store, content-addressed by its
    // SHA-256 and cut into chunks, so any server on the database can serve it
    // (docs/DATA.md "Package bytes"). publish_version stores it; this stores
    // the zip of a version published before the store kept package bytes.
    // Ok (and nothing written) when the bytes are there already; Invalid when
    // the file's size or SHA-256 is not what `size_bytes`/`sha256` say.
    virtual Result<void> store_package(std::string_view sha256, std::int64_t size_bytes,
                                       const std::filesystem::path& file) = 0;
    // Hands the package's bytes to `sink` in order, chunk by chunk, and
    // returns its size; NotFound when the store has none under `sha256`. The
    // caller verifies the hash of what it received before using it.
    virtual Result<std::int64_t> read_package(
        std::string_view sha256, const std::function<void(std::string_view chunk)>& sink) = 0;
    // The SHA-256 of each version whose package bytes the store does not hold.
    virtual Result<std::vector<std::string>> packages_without_bytes() = 0;

    // ---- matches and play history -----------------------------------------
    virtual Result<Match> create_match(const NewMatch& match) = 0;
    // Recorded once the game server is spawned; Conflict after the match ended.
    virtual Result<void> record_match_process(std::string_view match_id,
                                              const ProcessInfo& process) = 0;
    // Once the match reached IN_GAME (its STARTED was accepted); the first
    // time is kept. Conflict after the match ended.
    virtual Result<void> record_match_in_game(std::string_view match_id, UnixMs at) = 0;
    // Exactly once: a second finish of the same match is a Conflict and changes
    // nothing. When the match reached IN_GAME (recorded, or finish.in_game_at),
    // writes one play-history row for every player of the match, whatever the
    // ending; a match that never got there (LAUNCH_FAILED, a startup TIMEOUT,
    // ABORTED while STARTING) writes none: its players never played.
    virtual Result<Match> finish_match(std::string_view match_id, const MatchFinish& finish) = 0;
    virtual Result<Match> get_match(std::string_view match_id) = 0;
    // Matches still open that run on `node_id` (empty: a single server's,
    // recorded without a node), oldest first: after a crash these are to be
    // killed and finished as Aborted.
    virtual Result<std::vector<Match>> list_open_matches(std::string_view node_id = {}) = 0;
    // A play-history row without a match (seeding, tests, imports).
    virtual Result<void> record_play(AccountId player, GameId game, VersionId version,
                                     UnixMs played_at) = 0;
    virtual Result<bool> has_played(AccountId player, GameId game) = 0;
    // Newest first.
    virtual Result<std::vector<PlayRecord>> play_history(AccountId player, int limit) = 0;

    // ---- reviews ----------------------------------------------------------
    // Create or edit the player's review of a game. Forbidden unless the player
    // has played it; stamped with the version they most recently played.
    virtual Result<Review> upsert_review(AccountId player, GameId game, int rating,
                                         std::string_view text, UnixMs now) = 0;
    virtual Result<void> delete_review(AccountId player, GameId game) = 0;
    virtual Result<Review> get_review(AccountId player, GameId game) = 0;
    // Most recently written or edited first.
    virtual Result<std::vector<Review>> list_reviews(GameId game, int limit, int offset) = 0;
    virtual Result<RatingSummary> rating_summary(GameId game) = 0;
};

}  // namespace gamestore::store
