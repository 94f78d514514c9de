#include "platform/store/schema.hpp"

#include <array>

namespace gamestore::store::schema {

namespace {

// Version 1: the initial schema. STRICT tables make SQLite reject a value of
// the wrong type instead of storing it silently. Names compare with NOCASE
// (ASCII case folding), which is exactly the uniqueness rule for account and
// game names. Times are Unix milliseconds.
constexpr const char* kV1 = R"sql(
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    role          TEXT    NOT NULL CHECK (role IN ('player', 'developer')),
    name          TEXT    NOT NULL COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (role, name)
) STRICT;

CREATE TABLE sessions (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash     BLOB    NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT CHECK (revoked_reason IN ('replaced', 'logout'))
) STRICT;
CREATE INDEX sessions_by_account ON sessions(account_id);

CREATE TABLE games (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    owner_id        INTEGER NOT NULL REFERENCES accounts(id),
    type            TEXT    NOT NULL CHECK (type IN ('CLI', 'GUI')),
    description     TEXT    NOT NULL,
    min_players     INTEGER NOT NULL,
    max_players     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    delisted        INTEGER NOT NULL DEFAULT 0 CHECK (delisted IN (0, 1)),
    live_version_id INTEGER REFERENCES versions(id),
    CHECK (min_players >= 1 AND max_players >= min_players)
) STRICT;
CREATE INDEX games_by_owner ON games(owner_id);

CREATE TABLE versions (
    id             INTEGER PRIMARY KEY,
    game_id        INTEGER NOT NULL REFERENCES games(id),
    version        TEXT    NOT NULL,
    major          INTEGER NOT NULL,
    minor          INTEGER NOT NULL,
    patch          INTEGER NOT NULL,
    prerelease     TEXT    NOT NULL,
    notes          TEXT    NOT NULL,
    size_bytes     INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256         TEXT    NOT NULL,
    package_path   TEXT    NOT NULL,
    extracted_path TEXT    NOT NULL,
    manifest_json  TEXT    NOT NULL,
    type           TEXT    NOT NULL CHECK (type IN ('CLI', 'GUI')),
    description    TEXT    NOT NULL,
    min_players    INTEGER NOT NULL,
    max_players    INTEGER NOT NULL,
    published_at   INTEGER NOT NULL,
    published_by   INTEGER NOT NULL REFERENCES accounts(id),
    hidden         INTEGER NOT NULL CHECK (hidden IN (0, 1)),
    -- Build metadata does not count: 1.0.0+a and 1.0.0+b are the same version.
    UNIQUE (game_id, major, minor, patch, prerelease)
) STRICT;

CREATE TABLE matches (
    id                 INTEGER PRIMARY KEY,
    match_id           TEXT    NOT NULL UNIQUE,
    room_id            INTEGER NOT NULL,
    game_id            INTEGER NOT NULL REFERENCES games(id),
    version_id         INTEGER NOT NULL REFERENCES versions(id),
    started_at         INTEGER NOT NULL,
    pid                INTEGER,
    pgid               INTEGER,
    process_start_time INTEGER,
    status             TEXT    NOT NULL DEFAULT 'OPEN' CHECK (status IN
        ('OPEN', 'END', 'ERROR', 'ABORTED', 'TIMEOUT', 'CRASHED', 'LAUNCH_FAILED')),
    ended_at           INTEGER,
    reason             TEXT    NOT NULL DEFAULT '',
    results_json       TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX matches_open ON matches(started_at) WHERE status = 'OPEN';

CREATE TABLE match_players (
    match_row_id INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
    seat         INTEGER NOT NULL,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    PRIMARY KEY (match_row_id, seat),
    UNIQUE (match_row_id, account_id)
) STRICT;

CREATE TABLE play_history (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    game_id      INTEGER NOT NULL REFERENCES games(id),
    version_id   INTEGER NOT NULL REFERENCES versions(id),
    match_row_id INTEGER REFERENCES matches(id),
    match_status TEXT    NOT NULL,
    result       TEXT CHECK (result IN ('WIN', 'LOSE', 'DRAW', 'QUIT', 'ERROR')),
    played_at    INTEGER NOT NULL,
    UNIQUE (match_row_id, account_id)
) STRICT;
CREATE INDEX play_history_by_player ON play_history(account_id, game_id, played_at);

CREATE TABLE reviews (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    game_id    INTEGER NOT NULL REFERENCES games(id),
    version_id INTEGER NOT NULL REFERENCES versions(id),
    rating     INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    text       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (account_id, game_id)
) STRICT;
CREATE INDEX reviews_by_game ON reviews(game_id, updated_at);
)sql";

// Version 2: when a match reached IN_GAME (its STARTED was accepted). Only
// such matches write play history: a player whose match never got that far
// never played it, so may not review it on that account.
constexpr const char* kV2 = R"sql(
ALTER TABLE matches ADD COLUMN in_game_at INTEGER;
)sql";

// Version 3: package zips in the database, content-addressed and cut into
// chunks, so any server on the database can serve and launch any version
// without a shared disk (docs/DATA.md "Package bytes"). A rowid table: its
// megabyte rows would bloat a WITHOUT ROWID b-tree.
constexpr const char* kV3 = R"sql(
CREATE TABLE package_blobs (
    sha256      TEXT    PRIMARY KEY NOT NULL,
    size_bytes  INTEGER NOT NULL CHECK (size_bytes >= 0),
    chunk_bytes INTEGER NOT NULL CHECK (chunk_bytes > 0),
    chunks      INTEGER NOT NULL CHECK (chunks >= 0)
) STRICT;

CREATE TABLE package_chunks (
    sha256 TEXT    NOT NULL REFERENCES package_blobs(sha256),
    seq    INTEGER NOT NULL CHECK (seq >= 0),
    bytes  BLOB    NOT NULL,
    PRIMARY KEY (sha256, seq)
) STRICT;
)sql";

// Version 4: the node a match runs on (NULL on a single server), so a
// restarted cluster node reconciles only its own matches. The cluster's
// tables are PostgreSQL's alone (pg_schema.cpp): a SQLite store is never
// shared by nodes.
constexpr const char* kV4 = R"sql(
ALTER TABLE matches ADD COLUMN node_id TEXT;
)sql";

constexpr std::array<const char*, 4> kMigrations = {kV1, kV2, kV3, kV4};

}  // namespace

std::span<const char* const> migrations() {
    return kMigrations;
}

}  // namespace gamestore::store::schema
