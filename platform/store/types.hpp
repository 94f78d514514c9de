// Plain data exchanged with the Store. Times are Unix milliseconds passed in
// by the caller (so tests control the clock); ids are SQLite rowids.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gamestore::store {

using AccountId = std::int64_t;
using SessionId = std::int64_t;
using GameId = std::int64_t;
using VersionId = std::int64_t;
using ReviewId = std::int64_t;
using UnixMs = std::int64_t;

// The wall clock in Unix milliseconds, for callers that are not tests.
UnixMs unix_ms_now();

// Player and developer accounts are separate namespaces: "alice" may exist
// once as a player and once as a developer.
enum class Role { Player, Developer };
std::string_view to_string(Role role);  // "player" / "developer"
std::optional<Role> parse_role(std::string_view text);

enum class GameType { Cli, Gui };
std::string_view to_string(GameType type);  // "CLI" / "GUI" (the manifest's spelling)
std::optional<GameType> parse_game_type(std::string_view text);

// Open while the match runs; every other value is terminal.
enum class MatchStatus {
    Open,
    End,           // the game server reported END
    Error,         // the game server reported ERROR
    Aborted,       // the platform stopped it (shutdown, room emptied, restart reconciliation)
    Timeout,       // no STARTED within the startup timeout, or heartbeats stopped
    Crashed,       // the game server exited without END/ERROR
    LaunchFailed,  // the game server could not be spawned
};
std::string_view to_string(MatchStatus status);  // "OPEN", "END", ..., "LAUNCH_FAILED"
std::optional<MatchStatus> parse_match_status(std::string_view text);

struct Account {
    AccountId id = 0;
    Role role = Role::Player;
    std::string name;  // as registered; lookups ignore ASCII case
    UnixMs created_at = 0;
};

struct NewSession {
    SessionId id = 0;
    std::string token;  // 64 hex chars; only its SHA-256 is stored, so this is the only copy
    std::vector<SessionId> revoked_session_ids;  // the account's sessions this login ended
};

struct ResumedSession {
    SessionId id = 0;
    Account account;
};

struct NewGame {
    std::string name;
    GameType type = GameType::Cli;
    std::string description;
    int min_players = 2;
    int max_players = 2;
};

// A game's type, description and player counts are those of its live version
// (or of create_game() while it has none).
struct Game {
    GameId id = 0;
    std::string name;
    AccountId owner_id = 0;
    std::string owner_name;
    GameType type = GameType::Cli;
    std::string description;
    int min_players = 0;
    int max_players = 0;
    UnixMs created_at = 0;
    bool delisted = false;
    std::optional<VersionId> live_version_id;
    std::optional<std::string> live_version;  // semver text of the live version
};

struct RatingSummary {
    double average = 0.0;  // rounded to one decimal; 0 when count == 0
    int count = 0;
};

struct GameSummary {
    Game game;
    RatingSummary rating;
};

struct Version {
    VersionId id = 0;
    GameId game_id = 0;
    std::string version;  // strict semver 2.0 text as published
    std::string notes;
    std::int64_t size_bytes = 0;
    std::string sha256;          // lower-case hex of the package zip
    std::string package_path;    // relative to the data dir, e.g. "packages/<sha256>.zip"
    std::string extracted_path;  // relative to the data dir, e.g. "games/<game_id>/<version>"
    std::string manifest_json;
    GameType type = GameType::Cli;
    std::string description;
    int min_players = 0;
    int max_players = 0;
    UnixMs published_at = 0;
    AccountId published_by = 0;
    bool hidden = false;  // published but never live yet; set_live() clears it
    bool live = false;
};

// One upload. The game's name/type/description/players come from the
// package's manifest. The first publish of an unknown name creates the game,
// owned by the developer.
struct PublishRequest {
    AccountId developer_id = 0;
    NewGame game;
    std::string version;
    std::string notes;
    std::int64_t size_bytes = 0;
    std::string sha256;
    std::string package_path;
    std::string extracted_path;
    // The zip itself: the store keeps its bytes with the version, in the same
    // transaction, after checking them against size_bytes and sha256.
    std::filesystem::path package_file;
    std::string manifest_json;
    bool hidden = false;  // hidden versions do not move the live pointer
    UnixMs now = 0;
};

struct PublishResult {
    Game game;
    Version version;
    bool game_created = false;
};

struct Review {
    ReviewId id = 0;
    AccountId author_id = 0;
    std::string author_name;
    GameId game_id = 0;
    int rating = 0;    // 1..5
    std::string text;  // at most 2000 Unicode code points of valid UTF-8
    VersionId version_id = 0;
    std::string version;  // the version the author had most recently played
    UnixMs created_at = 0;
    UnixMs updated_at = 0;
};

struct GameDetails {
    Game game;
    RatingSummary rating;
    std::vector<Version> versions;       // newest semver first
    std::vector<Review> recent_reviews;  // most recently written/edited first
};

// What restart reconciliation needs to kill a game server safely: pids get
// reused, so the caller compares start_time (opaque to the store; e.g. field
// 22 of /proc/<pid>/stat) before signalling the group.
struct ProcessInfo {
    std::int64_t pid = 0;
    std::int64_t pgid = 0;
    std::int64_t start_time = 0;
};

struct NewMatch {
    std::string match_id;
    std::int64_t room_id = 0;
    GameId game_id = 0;
    VersionId version_id = 0;
    std::vector<AccountId> players;  // player accounts, in seat order
    UnixMs started_at = 0;
    std::string node_id;  // the cluster node it runs on; empty on a single server
};

struct MatchPlayer {
    AccountId account_id = 0;
    std::string name;
};

struct Match {
    std::string match_id;
    std::int64_t room_id = 0;
    GameId game_id = 0;
    VersionId version_id = 0;
    std::vector<MatchPlayer> players;  // seat order
    UnixMs started_at = 0;
    std::optional<ProcessInfo> process;
    MatchStatus status = MatchStatus::Open;
    std::optional<UnixMs> ended_at;
    std::string reason;
    std::string results_json;
    std::optional<UnixMs> in_game_at;  // when the match reached IN_GAME, if it did
};

struct MatchFinish {
    MatchStatus status = MatchStatus::End;  // any terminal status
    std::string results_json;               // "" or the END `results` array as JSON text
    UnixMs ended_at = 0;
    std::string reason;
    // When the match reached IN_GAME, if it did: the running platform knows
    // this even if its record_match_in_game() has not landed yet. Either
    // source makes the match count as played (play history).
    std::optional<UnixMs> in_game_at;
};

struct PlayRecord {
    std::int64_t id = 0;
    AccountId account_id = 0;
    GameId game_id = 0;
    std::string game_name;
    VersionId version_id = 0;
    std::string version;
    std::optional<std::string> match_id;  // empty for record_play()
    MatchStatus match_status = MatchStatus::End;
    std::optional<std::string> result;  // WIN/LOSE/DRAW/QUIT/ERROR from END results, if named
    UnixMs played_at = 0;
};

}  // namespace gamestore::store
