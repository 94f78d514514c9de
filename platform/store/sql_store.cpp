#include "platform/store/sql_store.hpp"

#include <fmt/core.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "platform/protocol/semver.hpp"
#include "platform/store/rules.hpp"
#include "platform/store/schema.hpp"
#include "platform/store/session_token.hpp"
#include "platform/store/sql_db.hpp"

namespace gamestore::store {

namespace {

using sql::Connection;
using sql::SqlError;
using sql::Statement;
using sql::Transaction;
using Code = StoreError::Code;

constexpr int kMaxPlayers = 1000;
constexpr int kMaxListLimit = 500;
constexpr std::size_t kMaxMatchIdBytes = 128;
constexpr std::size_t kMaxReasonBytes = 1024;

StoreError error(Code code, std::string message) {
    return StoreError{code, std::move(message)};
}

// Runs one store operation, turning any exception (SQLite, allocation) into
// StoreError::Internal: nothing crosses the Store interface as an exception.
template <class F>
auto guarded(std::string_view what, F&& body) -> decltype(body()) {
    using R = decltype(body());
    try {
        return body();
    } catch (const SqlError& e) {
        return R(
            error(Code::Internal, fmt::format("the database failed while {}: {}", what, e.what())));
    } catch (const std::bad_alloc&) {
        return R(error(Code::Internal, fmt::format("the server ran out of memory while {}", what)));
    } catch (const std::exception& e) {
        return R(error(Code::Internal, fmt::format("internal error while {}: {}", what, e.what())));
    }
}

std::string role_noun(Role role) {
    return std::string(to_string(role));
}

std::string describe_duration(std::int64_t ms) {
    constexpr std::int64_t kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute,
                           kDay = 24 * kHour;
    const auto plural = [](std::int64_t n, std::string_view unit) {
        return fmt::format("{} {}{}", n, unit, n == 1 ? "" : "s");
    };
    if (ms >= kDay && ms % kDay == 0)
        return plural(ms / kDay, "day");
    if (ms >= kHour && ms % kHour == 0)
        return plural(ms / kHour, "hour");
    if (ms >= kMinute && ms % kMinute == 0)
        return plural(ms / kMinute, "minute");
    return plural((ms + kSecond - 1) / kSecond, "second");
}

bool is_lower_hex_sha256(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// Cuts at most `max` bytes without splitting a UTF-8 sequence.
std::string truncate_utf8(std::string_view text, std::size_t max) {
    if (text.size() <= max)
        return std::string(text);
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80)
        --end;
    return std::string(text.substr(0, end));
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// The columns that make a version unique: semver precedence ignores build
// metadata, so 1.0.0+a and 1.0.0+b are the same version.
struct VersionKey {
    std::int64_t major = 0;
    std::int64_t minor = 0;
    std::int64_t patch = 0;
    std::string prerelease;  // identifiers joined by '.', "" for a release
};

Result<VersionKey> version_key(std::string_view text) {
    auto parsed = protocol::parse_semver_detailed(text);
    if (auto* why = std::get_if<std::string>(&parsed))
        return error(Code::Invalid, *why);
    const auto& semver = std::get<protocol::SemVer>(parsed);
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (semver.major > kMax || semver.minor > kMax || semver.patch > kMax) {
        return error(Code::Invalid, fmt::format("version {} has a number above {}", text, kMax));
    }
    VersionKey key{static_cast<std::int64_t>(semver.major),
                   static_cast<std::int64_t>(semver.minor),
                   static_cast<std::int64_t>(semver.patch),
                   {}};
    for (const auto& id : semver.prerelease) {
        if (!key.prerelease.empty())
            key.prerelease += '.';
        key.prerelease += id;
    }
    return key;
}

// ---- row readers -------------------------------------------------------------

constexpr const char* kAccountColumns = "id, role, name, created_at";

Account read_account(const Statement& s, int first) {
    Account account;
    account.id = s.int64(first);
    account.role = parse_role(s.text(first + 1)).value_or(Role::Player);
    account.name = s.text(first + 2);
    account.created_at = s.int64(first + 3);
    return account;
}

constexpr const char* kGameSelect = R"sql(
SELECT g.id, g.name, g.owner_id, a.name, g.type, g.description, g.min_players, g.max_players,
       g.created_at, g.delisted, g.live_version_id, v.version,
       (SELECT AVG(r.rating) FROM reviews r WHERE r.game_id = g.id),
       (SELECT COUNT(*) FROM reviews r WHERE r.game_id = g.id)
FROM games g
JOIN accounts a ON a.id = g.owner_id
LEFT JOIN versions v ON v.id = g.live_version_id
)sql";

const std::string kGameById = std::string(kGameSelect) + "WHERE g.id = ?1";
const std::string kGameByName = std::string(kGameSelect) + "WHERE g.name = ?1";
const std::string kListedGames = std::string(kGameSelect) +
                                 "WHERE g.delisted = 0 AND g.live_version_id IS NOT NULL "
                                 "ORDER BY g.name COLLATE NOCASE, g.id";
const std::string kGamesOfOwner =
    std::string(kGameSelect) + "WHERE g.owner_id = ?1 ORDER BY g.name COLLATE NOCASE, g.id";

RatingSummary make_rating(const Statement& s, int avg_column, int count_column) {
    RatingSummary rating;
    rating.count = s.int32(count_column);
    if (rating.count > 0)
        rating.average = std::round(s.real(avg_column) * 10.0) / 10.0;
    return rating;
}

GameSummary read_game(const Statement& s) {
    GameSummary summary;
    Game& g = summary.game;
    g.id = s.int64(0);
    g.name = s.text(1);
    g.owner_id = s.int64(2);
    g.owner_name = s.text(3);
    g.type = parse_game_type(s.text(4)).value_or(GameType::Cli);
    g.description = s.text(5);
    g.min_players = s.int32(6);
    g.max_players = s.int32(7);
    g.created_at = s.int64(8);
    g.delisted = s.int64(9) != 0;
    g.live_version_id = s.opt_int64(10);
    g.live_version = s.opt_text(11);
    summary.rating = make_rating(s, 12, 13);
    return summary;
}

constexpr const char* kVersionSelect = R"sql(
SELECT v.id, v.game_id, v.version, v.notes, v.size_bytes, v.sha256, v.package_path,
       v.extracted_path, v.manifest_json, v.type, v.description, v.min_players, v.max_players,
       v.published_at, v.published_by, v.hidden,
       CASE WHEN g.live_version_id = v.id THEN 1 ELSE 0 END
FROM versions v
JOIN games g ON g.id = v.game_id
)sql";

const std::string kVersionById = std::string(kVersionSelect) + "WHERE v.id = ?1";
const std::string kVersionByKey = std::string(kVersionSelect) +
                                  "WHERE v.game_id = ?1 AND v.major = ?2 AND v.minor = ?3 "
                                  "AND v.patch = ?4 AND v.prerelease = ?5";
const std::string kVersionsOfGame = std::string(kVersionSelect) +
                                    "WHERE v.game_id = ?1 AND (?2 OR v.hidden = 0 OR "
                                    "g.live_version_id = v.id)";

Version read_version(const Statement& s) {
    Version v;
    v.id = s.int64(0);
    v.game_id = s.int64(1);
    v.version = s.text(2);
    v.notes = s.text(3);
    v.size_bytes = s.int64(4);
    v.sha256 = s.text(5);
    v.package_path = s.text(6);
    v.extracted_path = s.text(7);
    v.manifest_json = s.text(8);
    v.type = parse_game_type(s.text(9)).value_or(GameType::Cli);
    v.description = s.text(10);
    v.min_players = s.int32(11);
    v.max_players = s.int32(12);
    v.published_at = s.int64(13);
    v.published_by = s.int64(14);
    v.hidden = s.int64(15) != 0;
    v.live = s.int64(16) != 0;
    return v;
}

// Newest first by semver precedence (SQL cannot order prerelease identifiers).
void sort_newest_first(std::vector<Version>& versions) {
    std::vector<std::pair<protocol::SemVer, Version>> keyed;
    keyed.reserve(versions.size());
    for (auto& v : versions) {
        auto semver = protocol::parse_semver(v.version).value_or(protocol::SemVer{});
        keyed.emplace_back(std::move(semver), std::move(v));
    }
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
        return protocol::compare(a.first, b.first) > 0;
    });
    versions.clear();
    for (auto& [semver, v] : keyed)
        versions.push_back(std::move(v));
}

constexpr const char* kReviewSelect = R"sql(
SELECT r.id, r.account_id, a.name, r.game_id, r.rating, r.text, r.version_id, v.version,
       r.created_at, r.updated_at
FROM reviews r
JOIN accounts a ON a.id = r.account_id
JOIN versions v ON v.id = r.version_id
)sql";

const std::string kReviewOfPlayer =
    std::string(kReviewSelect) + "WHERE r.account_id = ?1 AND r.game_id = ?2";
const std::string kReviewsOfGame = std::string(kReviewSelect) +
                                   "WHERE r.game_id = ?1 ORDER BY r.updated_at DESC, r.id DESC "
                                   "LIMIT ?2 OFFSET ?3";

Review read_review(const Statement& s) {
    Review r;
    r.id = s.int64(0);
    r.author_id = s.int64(1);
    r.author_name = s.text(2);
    r.game_id = s.int64(3);
    r.rating = s.int32(4);
    r.text = s.text(5);
    r.version_id = s.int64(6);
    r.version = s.text(7);
    r.created_at = s.int64(8);
    r.updated_at = s.int64(9);
    return r;
}

constexpr const char* kMatchSelect = R"sql(
SELECT m.id, m.match_id, m.room_id, m.game_id, m.version_id, m.started_at, m.pid, m.pgid,
       m.process_start_time, m.status, m.ended_at, m.reason, m.results_json, m.in_game_at
FROM matches m
)sql";

const std::string kMatchById = std::string(kMatchSelect) + "WHERE m.match_id = ?1";
const std::string kOpenMatches = std::string(kMatchSelect) +
                                 "WHERE m.status = 'OPEN' AND COALESCE(m.node_id, '') = "
                                 "COALESCE(?1, '') ORDER BY m.started_at, m.id";

// Reads the match row at `s` and its players (a second query on `db`).
Match read_match(Connection& db, const Statement& s) {
    Match m;
    const std::int64_t row_id = s.int64(0);
    m.match_id = s.text(1);
    m.room_id = s.int64(2);
    m.game_id = s.int64(3);
    m.version_id = s.int64(4);
    m.started_at = s.int64(5);
    if (!s.is_null(6)) {
        m.process = ProcessInfo{s.int64(6), s.int64(7), s.int64(8)};
    }
    m.status = parse_match_status(s.text(9)).value_or(MatchStatus::Open);
    m.ended_at = s.opt_int64(10);
    m.reason = s.text(11);
    m.results_json = s.text(12);
    m.in_game_at = s.opt_int64(13);
    auto players = db.prepare(
        "SELECT mp.account_id, a.name FROM match_players mp "
        "JOIN accounts a ON a.id = mp.account_id WHERE mp.match_row_id = ?1 ORDER BY mp.seat");
    players.bind(1, row_id);
    while (players.step())
        m.players.push_back(MatchPlayer{players.int64(0), players.text(1)});
    return m;
}

// ---- lookups shared by several operations -------------------------------------

std::optional<Account> load_account(Connection& db, AccountId id) {
    auto s = db.prepare(fmt::format("SELECT {} FROM accounts WHERE id = ?1", kAccountColumns));
    s.bind(1, id);
    if (!s.step())
        return std::nullopt;
    return read_account(s, 0);
}

std::optional<GameSummary> load_game(Connection& db, GameId id) {
    auto s = db.prepare(kGameById);
    s.bind(1, id);
    if (!s.step())
        return std::nullopt;
    return read_game(s);
}

std::optional<Version> load_version(Connection& db, VersionId id) {
    auto s = db.prepare(kVersionById);
    s.bind(1, id);
    if (!s.step())
        return std::nullopt;
    return read_version(s);
}

std::optional<Version> load_version_by_key(Connection& db, GameId game, const VersionKey& key) {
    auto s = db.prepare(kVersionByKey);
    s.bind(1, game)
        .bind(2, key.major)
        .bind(3, key.minor)
        .bind(4, key.patch)
        .bind(5, key.prerelease);
    if (!s.step())
        return std::nullopt;
    return read_version(s);
}

std::optional<Match> load_match(Connection& db, std::string_view match_id) {
    auto s = db.prepare(kMatchById);
    s.bind(1, match_id);
    if (!s.step())
        return std::nullopt;
    return read_match(db, s);
}

StoreError game_not_found(GameId id) {
    return error(Code::NotFound, fmt::format("there is no game with id {}", id));
}

// The account must exist and be a developer; the error explains which rule failed.
std::optional<StoreError> require_role(Connection& db, AccountId id, Role role,
                                       std::string_view action) {
    const auto account = load_account(db, id);
    if (!account)
        return error(Code::NotFound, fmt::format("there is no account with id {}", id));
    if (account->role != role) {
        return error(Code::Forbidden,
                     fmt::format("only {} accounts can {}", to_string(role), action));
    }
    return std::nullopt;
}

// Loads the game and checks that `actor` owns it.
Result<GameSummary> require_owner(Connection& db, AccountId actor, GameId game) {
    auto loaded = load_game(db, game);
    if (!loaded)
        return game_not_found(game);
    if (loaded->game.owner_id != actor) {
        return error(Code::Forbidden,
                     fmt::format("only the owner of {} can change it", loaded->game.name));
    }
    return std::move(*loaded);
}

std::optional<StoreError> check_new_game(const NewGame& game) {
    if (auto problem = check_game_name(game.name))
        return error(Code::Invalid, *problem);
    if (auto problem = check_long_text(game.description, "the description")) {
        return error(Code::Invalid, *problem);
    }
    if (game.min_players < 1 || game.max_players < game.min_players ||
        game.max_players > kMaxPlayers) {
        return error(Code::Invalid,
                     fmt::format("a game needs 1 <= min_players <= max_players <= {} "
                                 "(got min {} and max {})",
                                 kMaxPlayers, game.min_players, game.max_players));
    }
    return std::nullopt;
}

// Moves the live pointer and makes the game show that version's metadata.
void point_live_at(Connection& db, GameId game, VersionId version) {
    auto unhide = db.prepare("UPDATE versions SET hidden = 0 WHERE id = ?1");
    unhide.bind(1, version).run();
    auto s = db.prepare(R"sql(
UPDATE games SET live_version_id = v.id, type = v.type, description = v.description,
                 min_players = v.min_players, max_players = v.max_players
FROM (SELECT id, type, description, min_players, max_players FROM versions WHERE id = ?2) AS v
WHERE games.id = ?1
)sql");
    s.bind(1, game).bind(2, version).run();
}

// The version a new publish should use instead of an existing one.
std::string suggest_next_version(Connection& db, GameId game) {
    auto s = db.prepare("SELECT version FROM versions WHERE game_id = ?1");
    s.bind(1, game);
    std::optional<protocol::SemVer> highest;
    while (s.step()) {
        auto semver = protocol::parse_semver(s.text(0));
        if (semver && (!highest || protocol::compare(*semver, *highest) > 0))
            highest = std::move(semver);
    }
    if (!highest)
        return "a new version";
    // 2.0.0-rc.1 -> 2.0.0 (its release does not exist, or it would be higher).
    const std::uint64_t patch = highest->prerelease.empty() ? highest->patch + 1 : highest->patch;
    return fmt::format("{}.{}.{}", highest->major, highest->minor, patch);
}

// Per-player outcomes named in END results, keyed by lower-case player name.
std::unordered_map<std::string, std::string> results_by_player(std::string_view results_json) {
    std::unordered_map<std::string, std::string> out;
    if (results_json.empty())
        return out;
    const auto results = nlohmann::json::parse(results_json, nullptr, false);
    if (!results.is_array())
        return out;
    static const std::unordered_set<std::string> kOutcomes = {"WIN", "LOSE", "DRAW", "QUIT",
                                                              "ERROR"};
    for (const auto& entry : results) {
        if (!entry.is_object())
            continue;
        const auto player = entry.find("player");
        const auto outcome = entry.find("outcome");
        if (player == entry.end() || outcome == entry.end() || !player->is_string() ||
            !outcome->is_string()) {
            continue;
        }
        const auto& value = outcome->get_ref<const std::string&>();
        if (kOutcomes.count(value) != 0) {
            out.emplace(ascii_lower(player->get_ref<const std::string&>()), value);
        }
    }
    return out;
}

}  // namespace

// ---- Impl ------------------------------------------------------------------------

struct SqlStore::Impl {
    std::unique_ptr<Backend> backend;
    Options options;

    std::once_flag dummy_once;
    std::string dummy_hash;

    Impl(std::unique_ptr<Backend> b, Options o) : backend(std::move(b)), options(std::move(o)) {}

    // Tells options.on_operation how long an operation took, however it ends.
    struct Timing {
        const Options& options;
        bool write;
        std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
        ~Timing() {
            if (options.on_operation) {
                options.on_operation(write, std::chrono::steady_clock::now() - start);
            }
        }
    };

    template <class F>
    auto write(std::string_view what, F&& body) {
        Timing timing{options, true};
        using R = decltype(body(std::declval<Connection&>()));
        return guarded(what, [&]() -> R {
            std::optional<R> out;
            backend->write([&](Connection& db) { out.emplace(body(db)); });
            return std::move(*out);
        });
    }

    template <class F>
    auto read(std::string_view what, F&& body) {
        Timing timing{options, false};
        using R = decltype(body(std::declval<Connection&>()));
        return guarded(what, [&]() -> R {
            std::optional<R> out;
            backend->read([&](Connection& db) { out.emplace(body(db)); });
            return std::move(*out);
        });
    }

    // A real hash to verify against when the user does not exist, so an
    // unknown name costs as much time as a wrong password.
    const std::string& dummy() {
        std::call_once(dummy_once, [this] {
            auto hashed = options.hasher.hash("gamestore-no-such-user");
            if (hashed)
                dummy_hash = std::move(hashed).value();
        });
        return dummy_hash;
    }
};

SqlStore::SqlStore(std::unique_ptr<Backend> backend, Options options)
    : impl_(std::make_unique<Impl>(std::move(backend), std::move(options))) {
    if (impl_->options.hasher.is_fast_for_tests()) {
        spdlog::warn(
            "store: passwords are hashed with the FAST TEST setting (argon2id, 1 pass, 8 KiB); "
            "never use it for real accounts");
    }
}

SqlStore::~SqlStore() = default;

Result<void> SqlStore::run_write(std::string_view what,
                                 const std::function<Result<void>(Connection&)>& body) {
    return impl_->write(what, body);
}

Result<int> SqlStore::run_read(std::string_view what,
                               const std::function<Result<int>(Connection&)>& body) {
    return impl_->read(what, body);
}

// ---- accounts ------------------------------------------------------------------

Result<Account> SqlStore::create_account(Role role, std::string_view name,
                                         std::string_view password, UnixMs now) {
    if (auto problem = check_account_name(name))
        return error(Code::Invalid, *problem);
    if (auto problem = check_password(password))
        return error(Code::Invalid, *problem);
    const auto taken = [&] {
        return error(Code::Conflict, fmt::format("the {} name {} is already taken; choose another",
                                                 to_string(role), name));
    };

    // Fail fast on a taken name before spending the deliberately slow hash.
    auto exists = impl_->read("checking a user name", [&](Connection& db) -> Result<bool> {
        auto s = db.prepare("SELECT 1 FROM accounts WHERE role = ?1 AND name = ?2");
        s.bind(1, to_string(role)).bind(2, name);
        return s.step();
    });
    if (!exists)
        return exists.error();
    if (*exists)
        return taken();

    auto hashed = impl_->options.hasher.hash(password);
    if (!hashed)
        return hashed.error();

    return impl_->write("creating an account", [&](Connection& db) -> Result<Account> {
        auto s = db.prepare(
            "INSERT INTO accounts (role, name, password_hash, created_at) "
            "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
        s.bind(1, to_string(role)).bind(2, name).bind(3, *hashed).bind(4, now);
        s.run();
        // No error to catch: a failed statement would abort a PostgreSQL
        // transaction, where this one is only a skipped row.
        if (db.changes() == 0)
            return taken();  // lost a race with the same name
        return Account{db.last_insert_rowid(), role, std::string(name), now};
    });
}

Result<Account> SqlStore::verify_login(Role role, std::string_view name,
                                       std::string_view password) {
    const auto rejected = [] {
        return error(Code::Unauthenticated, "wrong user name or password");
    };
    struct Row {
        Account account;
        std::string hash;
    };
    auto found = impl_->read("logging in", [&](Connection& db) -> Result<std::optional<Row>> {
        auto s = db.prepare(
            fmt::format("SELECT {}, password_hash FROM accounts WHERE role = ?1 AND name = ?2",
                        kAccountColumns));
        s.bind(1, to_string(role)).bind(2, name);
        if (!s.step())
            return std::optional<Row>();
        return std::optional<Row>(Row{read_account(s, 0), s.text(4)});
    });
    if (!found)
        return found.error();
    if (!*found || password.size() > kMaxPasswordBytes) {
        (void)impl_->options.hasher.verify(impl_->dummy(), password.substr(0, kMaxPasswordBytes));
        return rejected();
    }
    Row& row = **found;
    if (!impl_->options.hasher.verify(row.hash, password))
        return rejected();

    if (impl_->options.hasher.needs_rehash(row.hash)) {
        // The cost settings changed since this hash was made: upgrade it now
        // that we know the password. Failing here must not fail the login.
        auto rehashed = impl_->options.hasher.hash(password);
        Result<void> stored;
        if (rehashed) {
            stored = impl_->write("upgrading a password hash", [&](Connection& db) -> Result<void> {
                // Only if unchanged: a concurrent password change wins.
                db.prepare(
                      "UPDATE accounts SET password_hash = ?1 WHERE id = ?2 AND password_hash = ?3")
                    .bind(1, *rehashed)
                    .bind(2, row.account.id)
                    .bind(3, row.hash)
                    .run();
                return {};
            });
        } else {
            stored = rehashed.error();
        }
        if (!stored) {
            spdlog::warn("store: could not upgrade the password hash of {} {}: {}", to_string(role),
                         row.account.name, stored.error().message);
        }
    }
    return std::move(row.account);
}

Result<Account> SqlStore::get_account(AccountId id) {
    return impl_->read("reading an account", [&](Connection& db) -> Result<Account> {
        auto account = load_account(db, id);
        if (!account)
            return error(Code::NotFound, fmt::format("there is no account with id {}", id));
        return std::move(*account);
    });
}

Result<Account> SqlStore::find_account(Role role, std::string_view name) {
    return impl_->read("looking up an account", [&](Connection& db) -> Result<Account> {
        auto s = db.prepare(
            fmt::format("SELECT {} FROM accounts WHERE role = ?1 AND name = ?2", kAccountColumns));
        s.bind(1, to_string(role)).bind(2, name);
        if (!s.step()) {
            return error(Code::NotFound,
                         fmt::format("there is no {} named {}", role_noun(role), name));
        }
        return read_account(s, 0);
    });
}

// ---- sessions ------------------------------------------------------------------

Result<NewSession> SqlStore::create_session(AccountId account, UnixMs now) {
    auto token = generate_session_token();
    if (!token)
        return error(Code::Internal, "libsodium failed to initialise (no entropy source?)");
    const auto digest = hash_session_token(*token);
    return impl_->write("creating a session", [&](Connection& db) -> Result<NewSession> {
        Transaction tx(db, Transaction::Kind::Write);
        if (!load_account(db, account)) {
            return error(Code::NotFound, fmt::format("there is no account with id {}", account));
        }
        NewSession session;
        {
            auto active = db.prepare(
                "SELECT id FROM sessions WHERE account_id = ?1 AND revoked_at IS NULL ORDER BY id");
            active.bind(1, account);
            while (active.step())
                session.revoked_session_ids.push_back(active.int64(0));
        }
        // Keep at most the sessions this login revokes (so a client resuming
        // one learns why it ended); older revoked rows have served their purpose.
        db.prepare("DELETE FROM sessions WHERE account_id = ?1 AND revoked_at IS NOT NULL")
            .bind(1, account)
            .run();
        db.prepare(
              "UPDATE sessions SET revoked_at = ?2, revoked_reason = 'replaced' "
              "WHERE account_id = ?1 AND revoked_at IS NULL")
            .bind(1, account)
            .bind(2, now)
            .run();
        db.prepare(
              "INSERT INTO sessions (account_id, token_hash, created_at, last_used_at) "
              "VALUES (?1, ?2, ?3, ?3)")
            .bind(1, account)
            .bind_blob(2, digest.data(), digest.size())
            .bind(3, now)
            .run();
        session.id = db.last_insert_rowid();
        session.token = std::move(*token);
        tx.commit();
        return session;
    });
}

Result<ResumedSession> SqlStore::resume_session(std::string_view token, UnixMs now) {
    const auto unknown = [] {
        return error(Code::Unauthenticated, "this session is unknown or has expired; log in again");
    };
    if (!is_well_formed_session_token(token))
        return unknown();
    const auto digest = hash_session_token(token);
    const std::int64_t idle_limit = impl_->options.session_idle_timeout_ms;
    return impl_->write("resuming a session", [&](Connection& db) -> Result<ResumedSession> {
        auto s = db.prepare(
            "SELECT s.id, s.last_used_at, s.revoked_reason, a.id, a.role, a.name, a.created_at "
            "FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = ?1");
        s.bind_blob(1, digest.data(), digest.size());
        if (!s.step())
            return unknown();
        const SessionId id = s.int64(0);
        const std::int64_t last_used = s.int64(1);
        const auto revoked_reason = s.opt_text(2);
        ResumedSession resumed{id, read_account(s, 3)};
        if (revoked_reason == "replaced") {
            return error(Code::Unauthenticated,
                         "this session ended because the account logged in elsewhere; log in "
                         "again");
        }
        if (revoked_reason) {
            return error(Code::Unauthenticated, "this session was logged out; log in again");
        }
        if (now - last_used > idle_limit) {
            return error(Code::Unauthenticated,
                         fmt::format("this session expired after {} without use; log in again",
                                     describe_duration(idle_limit)));
        }
        // Never backwards: a clock stepping back must not shorten the session.
        db.prepare(
              "UPDATE sessions SET last_used_at = CASE WHEN last_used_at > ?2 THEN last_used_at "
              "ELSE ?2 END WHERE id = ?1")
            .bind(1, id)
            .bind(2, now)
            .run();
        return resumed;
    });
}

Result<void> SqlStore::revoke_session(SessionId session, UnixMs now) {
    return impl_->write("logging out", [&](Connection& db) -> Result<void> {
        auto s = db.prepare("SELECT revoked_at IS NOT NULL FROM sessions WHERE id = ?1");
        s.bind(1, session);
        if (!s.step()) {
            return error(Code::NotFound, fmt::format("there is no session with id {}", session));
        }
        if (s.int64(0) != 0)
            return {};
        db.prepare(
              "UPDATE sessions SET revoked_at = ?2, revoked_reason = 'logout' "
              "WHERE id = ?1 AND revoked_at IS NULL")
            .bind(1, session)
            .bind(2, now)
            .run();
        return {};
    });
}

// ---- games and versions ------------------------------------------------------------

Result<Game> SqlStore::create_game(AccountId developer, const NewGame& game, UnixMs now) {
    if (auto problem = check_new_game(game))
        return *problem;
    return impl_->write("creating a game", [&](Connection& db) -> Result<Game> {
        Transaction tx(db, Transaction::Kind::Write);
        if (auto problem = require_role(db, developer, Role::Developer, "create games")) {
            return *problem;
        }
        {
            auto s = db.prepare("SELECT name, owner_id FROM games WHERE name = ?1");
            s.bind(1, game.name);
            if (s.step()) {
                return error(Code::Conflict,
                             s.int64(1) == developer
                                 ? fmt::format("you already have a game named {}", s.text(0))
                                 : fmt::format("the name {} is taken by another game; choose "
                                               "another",
                                               s.text(0)));
            }
        }
        db.prepare(
              "INSERT INTO games (name, owner_id, type, description, min_players, max_players, "
              "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .bind(1, game.name)
            .bind(2, developer)
            .bind(3, to_string(game.type))
            .bind(4, game.description)
            .bind(5, game.min_players)
            .bind(6, game.max_players)
            .bind(7, now)
            .run();
        auto created = load_game(db, db.last_insert_rowid());
        tx.commit();
        return std::move(created.value().game);
    });
}

Result<Game> SqlStore::get_game(GameId game) {
    return impl_->read("reading a game", [&](Connection& db) -> Result<Game> {
        auto loaded = load_game(db, game);
        if (!loaded)
            return game_not_found(game);
        return std::move(loaded->game);
    });
}

Result<Game> SqlStore::find_game(std::string_view name) {
    return impl_->read("looking up a game", [&](Connection& db) -> Result<Game> {
        auto s = db.prepare(kGameByName);
        s.bind(1, name);
        if (!s.step())
            return error(Code::NotFound, fmt::format("there is no game named {}", name));
        return read_game(s).game;
    });
}

namespace {

std::string hex_digest(crypto_hash_sha256_state& state) {
    std::array<unsigned char, crypto_hash_sha256_BYTES> hash{};
    crypto_hash_sha256_final(&state, hash.data());
    std::string out;
    for (const unsigned char byte : hash)
        out += fmt::format("{:02x}", byte);
    return out;
}

// Writes the zip's bytes under its SHA-256 unless they are there already.
// Part of the caller's write transaction: a mismatch returns an error and the
// caller's rollback discards the chunks written so far.
std::optional<StoreError> insert_package(Connection& db, std::string_view sha256,
                                         std::int64_t size_bytes,
                                         const std::filesystem::path& file) {
    {
        auto s = db.prepare("SELECT size_bytes FROM package_blobs WHERE sha256 = ?1");
        s.bind(1, sha256);
        if (s.step()) {
            if (s.int64(0) != size_bytes) {
                return error(Code::Invalid,
                             fmt::format("the package {} is stored with {} bytes, not {}", sha256,
                                         s.int64(0), size_bytes));
            }
            return std::nullopt;
        }
    }
    std::ifstream in(file, std::ios::binary);
    if (!in)
        return error(Code::Internal, fmt::format("cannot read the package file {}", file.string()));
    constexpr auto kChunk = SqlStore::kPackageChunkBytes;
    const std::int64_t chunks = (size_bytes + kChunk - 1) / kChunk;
    db.prepare(
          "INSERT INTO package_blobs (sha256, size_bytes, chunk_bytes, chunks) "
          "VALUES (?1, ?2, ?3, ?4)")
        .bind(1, sha256)
        .bind(2, size_bytes)
        .bind(3, kChunk)
        .bind(4, chunks)
        .run();
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    std::string buffer(static_cast<std::size_t>(kChunk), '\0');
    std::int64_t total = 0;
    for (std::int64_t seq = 0;; ++seq) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto got = static_cast<std::size_t>(in.gcount());
        if (got == 0)
            break;
        total += static_cast<std::int64_t>(got);
        if (total > size_bytes)
            break;
        crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(buffer.data()),
                                  got);
        db.prepare("INSERT INTO package_chunks (sha256, seq, bytes) VALUES (?1, ?2, ?3)")
            .bind(1, sha256)
            .bind(2, seq)
            .bind_blob(3, buffer.data(), got)
            .run();
    }
    if (in.bad())
        return error(Code::Internal, fmt::format("cannot read the package file {}", file.string()));
    if (total != size_bytes || hex_digest(state) != sha256) {
        return error(Code::Invalid,
                     fmt::format("the package file {} does not match its size ({} bytes) and "
                                 "sha256 {}",
                                 file.string(), size_bytes, sha256));
    }
    return std::nullopt;
}

}  // namespace

Result<void> SqlStore::store_package(std::string_view sha256, std::int64_t size_bytes,
                                     const std::filesystem::path& file) {
    if (!is_lower_hex_sha256(sha256))
        return error(Code::Invalid, "the package sha256 must be 64 lower-case hex digits");
    if (size_bytes < 0)
        return error(Code::Invalid, "the package size cannot be negative");
    return impl_->write("storing a package", [&](Connection& db) -> Result<void> {
        Transaction tx(db, Transaction::Kind::Write);
        if (auto problem = insert_package(db, sha256, size_bytes, file))
            return *problem;
        tx.commit();
        return {};
    });
}

Result<std::int64_t> SqlStore::read_package(
    std::string_view sha256, const std::function<void(std::string_view chunk)>& sink) {
    return impl_->read("reading a package", [&](Connection& db) -> Result<std::int64_t> {
        // Chunks are immutable once committed; the snapshot only spares a
        // reader the sight of a publish still in progress.
        Transaction tx(db, Transaction::Kind::Read);
        std::int64_t size = 0;
        std::int64_t chunks = 0;
        {
            auto s = db.prepare("SELECT size_bytes, chunks FROM package_blobs WHERE sha256 = ?1");
            s.bind(1, sha256);
            if (!s.step())
                return error(Code::NotFound, fmt::format("the store holds no package {}", sha256));
            size = s.int64(0);
            chunks = s.int64(1);
        }
        std::int64_t total = 0;
        for (std::int64_t seq = 0; seq < chunks; ++seq) {
            auto s = db.prepare("SELECT bytes FROM package_chunks WHERE sha256 = ?1 AND seq = ?2");
            s.bind(1, sha256).bind(2, seq);
            if (!s.step()) {
                return error(Code::Internal,
                             fmt::format("chunk {} of the package {} is missing", seq, sha256));
            }
            const std::string bytes = s.blob(0);
            total += static_cast<std::int64_t>(bytes.size());
            sink(bytes);
        }
        if (total != size) {
            return error(Code::Internal,
                         fmt::format("the package {} holds {} bytes, not {}", sha256, total, size));
        }
        return size;
    });
}

Result<std::vector<std::string>> SqlStore::packages_without_bytes() {
    return impl_->read(
        "listing packages without bytes", [&](Connection& db) -> Result<std::vector<std::string>> {
            auto s = db.prepare(
                "SELECT DISTINCT v.sha256 FROM versions v WHERE NOT EXISTS "
                "(SELECT 1 FROM package_blobs b WHERE b.sha256 = v.sha256) ORDER BY v.sha256");
            std::vector<std::string> missing;
            while (s.step())
                missing.push_back(s.text(0));
            return missing;
        });
}

Result<PublishResult> SqlStore::publish_version(const PublishRequest& req) {
    if (auto problem = check_new_game(req.game))
        return *problem;
    const auto key = version_key(req.version);
    if (!key)
        return key.error();
    if (auto problem = check_long_text(req.notes, "the release notes")) {
        return error(Code::Invalid, *problem);
    }
    if (!is_lower_hex_sha256(req.sha256)) {
        return error(Code::Invalid, "the package sha256 must be 64 lower-case hex digits");
    }
    if (req.size_bytes < 0)
        return error(Code::Invalid, "the package size cannot be negative");
    if (req.package_path.empty() || req.extracted_path.empty()) {
        return error(Code::Invalid, "a version needs its package path and extracted path");
    }
    if (req.package_file.empty())
        return error(Code::Invalid, "a version needs its package file");
    if (!nlohmann::json::accept(req.manifest_json)) {
        return error(Code::Invalid, "the stored manifest must be valid JSON");
    }

    return impl_->write("publishing a version", [&](Connection& db) -> Result<PublishResult> {
        Transaction tx(db, Transaction::Kind::Write);
        if (auto problem = require_role(db, req.developer_id, Role::Developer, "publish games")) {
            return *problem;
        }
        PublishResult result;
        GameId game_id = 0;
        std::string game_name = req.game.name;
        {
            auto s = db.prepare("SELECT id, name, owner_id FROM games WHERE name = ?1");
            s.bind(1, req.game.name);
            if (s.step()) {
                game_id = s.int64(0);
                game_name = s.text(1);
                if (s.int64(2) != req.developer_id) {
                    return error(Code::Forbidden,
                                 fmt::format("the game {} belongs to another developer; choose "
                                             "another name",
                                             game_name));
                }
            }
        }
        if (game_id == 0) {
            db.prepare(
                  "INSERT INTO games (name, owner_id, type, description, min_players, "
                  "max_players, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .bind(1, req.game.name)
                .bind(2, req.developer_id)
                .bind(3, to_string(req.game.type))
                .bind(4, req.game.description)
                .bind(5, req.game.min_players)
                .bind(6, req.game.max_players)
                .bind(7, req.now)
                .run();
            game_id = db.last_insert_rowid();
            result.game_created = true;
        } else if (auto existing = load_version_by_key(db, game_id, *key)) {
            return error(
                Code::Conflict,
                fmt::format("version {} of {} already exists; versions are immutable, "
                            "publish {}",
                            existing->version, game_name, suggest_next_version(db, game_id)));
        }
        db.prepare(R"sql(
INSERT INTO versions (game_id, version, major, minor, patch, prerelease, notes, size_bytes, sha256,
                      package_path, extracted_path, manifest_json, type, description, min_players,
                      max_players, published_at, published_by, hidden)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
)sql")
            .bind(1, game_id)
            .bind(2, req.version)
            .bind(3, key->major)
            .bind(4, key->minor)
            .bind(5, key->patch)
            .bind(6, key->prerelease)
            .bind(7, req.notes)
            .bind(8, req.size_bytes)
            .bind(9, req.sha256)
            .bind(10, req.package_path)
            .bind(11, req.extracted_path)
            .bind(12, req.manifest_json)
            .bind(13, to_string(req.game.type))
            .bind(14, req.game.description)
            .bind(15, req.game.min_players)
            .bind(16, req.game.max_players)
            .bind(17, req.now)
            .bind(18, req.developer_id)
            .bind(19, req.hidden ? 1 : 0)
            .run();
        const VersionId version_id = db.last_insert_rowid();
        if (auto problem = insert_package(db, req.sha256, req.size_bytes, req.package_file))
            return *problem;
        if (!req.hidden)
            point_live_at(db, game_id, version_id);
        result.game = load_game(db, game_id).value().game;
        result.version = load_version(db, version_id).value();
        tx.commit();
        return result;
    });
}

Result<Game> SqlStore::set_live(AccountId actor, GameId game, std::string_view version) {
    const auto key = version_key(version);
    if (!key)
        return key.error();
    return impl_->write("changing the live version", [&](Connection& db) -> Result<Game> {
        Transaction tx(db, Transaction::Kind::Write);
        auto owned = require_owner(db, actor, game);
        if (!owned)
            return owned.error();
        const auto target = load_version_by_key(db, game, *key);
        if (!target) {
            return error(Code::NotFound,
                         fmt::format("{} has no version {}", owned->game.name, version));
        }
        point_live_at(db, game, target->id);
        auto updated = load_game(db, game).value().game;
        tx.commit();
        return updated;
    });
}

namespace {

Result<Game> set_delisted(Connection& db, AccountId actor, GameId game, bool delisted) {
    Transaction tx(db, Transaction::Kind::Write);
    auto owned = require_owner(db, actor, game);
    if (!owned)
        return owned.error();
    db.prepare("UPDATE games SET delisted = ?2 WHERE id = ?1")
        .bind(1, game)
        .bind(2, delisted ? 1 : 0)
        .run();
    auto updated = load_game(db, game).value().game;
    tx.commit();
    return updated;
}

}  // namespace

Result<Game> SqlStore::delist_game(AccountId actor, GameId game) {
    return impl_->write("delisting a game",
                        [&](Connection& db) { return set_delisted(db, actor, game, true); });
}

Result<Game> SqlStore::relist_game(AccountId actor, GameId game) {
    return impl_->write("relisting a game",
                        [&](Connection& db) { return set_delisted(db, actor, game, false); });
}

Result<std::vector<GameSummary>> SqlStore::list_games() {
    return impl_->read("listing games", [&](Connection& db) -> Result<std::vector<GameSummary>> {
        std::vector<GameSummary> games;
        auto s = db.prepare(kListedGames);
        while (s.step())
            games.push_back(read_game(s));
        return games;
    });
}

Result<std::vector<GameSummary>> SqlStore::my_games(AccountId developer) {
    return impl_->read(
        "listing your games", [&](Connection& db) -> Result<std::vector<GameSummary>> {
            if (auto problem = require_role(db, developer, Role::Developer, "own games")) {
                return *problem;
            }
            std::vector<GameSummary> games;
            auto s = db.prepare(kGamesOfOwner);
            s.bind(1, developer);
            while (s.step())
                games.push_back(read_game(s));
            return games;
        });
}

namespace {

std::vector<Version> query_versions(Connection& db, GameId game, bool include_hidden) {
    std::vector<Version> versions;
    auto s = db.prepare(kVersionsOfGame);
    s.bind(1, game).bind(2, include_hidden ? 1 : 0);
    while (s.step())
        versions.push_back(read_version(s));
    sort_newest_first(versions);
    return versions;
}

std::vector<Review> query_reviews(Connection& db, GameId game, int limit, int offset) {
    std::vector<Review> reviews;
    auto s = db.prepare(kReviewsOfGame);
    s.bind(1, game).bind(2, std::clamp(limit, 0, kMaxListLimit)).bind(3, std::max(offset, 0));
    while (s.step())
        reviews.push_back(read_review(s));
    return reviews;
}

}  // namespace

Result<GameDetails> SqlStore::game_details(GameId game, std::optional<AccountId> viewer,
                                           int recent_reviews) {
    return impl_->read("reading game details", [&](Connection& db) -> Result<GameDetails> {
        // One snapshot: the versions and reviews match the game row.
        Transaction tx(db, Transaction::Kind::Read);
        auto loaded = load_game(db, game);
        if (!loaded)
            return game_not_found(game);
        GameDetails details;
        details.game = std::move(loaded->game);
        details.rating = loaded->rating;
        details.versions = query_versions(db, game, viewer == details.game.owner_id);
        details.recent_reviews = query_reviews(db, game, recent_reviews, 0);
        tx.commit();
        return details;
    });
}

Result<std::vector<Version>> SqlStore::list_versions(GameId game, bool include_hidden) {
    return impl_->read("listing versions", [&](Connection& db) -> Result<std::vector<Version>> {
        Transaction tx(db, Transaction::Kind::Read);
        if (!load_game(db, game))
            return game_not_found(game);
        auto versions = query_versions(db, game, include_hidden);
        tx.commit();
        return versions;
    });
}

Result<std::vector<std::string>> SqlStore::package_files() {
    return impl_->read(
        "listing package files", [&](Connection& db) -> Result<std::vector<std::string>> {
            auto s = db.prepare(
                "SELECT package_path FROM versions UNION SELECT extracted_path FROM versions");
            std::vector<std::string> paths;
            while (s.step()) {
                paths.push_back(s.text(0));
            }
            return paths;
        });
}

Result<Version> SqlStore::get_version(GameId game, std::string_view version) {
    const auto key = version_key(version);
    if (!key)
        return key.error();
    return impl_->read("reading a version", [&](Connection& db) -> Result<Version> {
        Transaction tx(db, Transaction::Kind::Read);
        auto loaded = load_game(db, game);
        if (!loaded)
            return game_not_found(game);
        auto found = load_version_by_key(db, game, *key);
        if (!found) {
            return error(Code::NotFound,
                         fmt::format("{} has no version {}", loaded->game.name, version));
        }
        tx.commit();
        return std::move(*found);
    });
}

Result<Version> SqlStore::get_version_by_id(VersionId version) {
    return impl_->read("reading a version", [&](Connection& db) -> Result<Version> {
        auto found = load_version(db, version);
        if (!found) {
            return error(Code::NotFound, fmt::format("there is no version with id {}", version));
        }
        return std::move(*found);
    });
}

// ---- matches and play history -------------------------------------------------------

namespace {

// The version must exist and belong to the game.
std::optional<StoreError> check_play_target(Connection& db, GameId game, VersionId version) {
    auto s = db.prepare("SELECT game_id FROM versions WHERE id = ?1");
    s.bind(1, version);
    if (!s.step() || s.int64(0) != game) {
        if (!load_game(db, game))
            return game_not_found(game);
        return error(Code::NotFound,
                     fmt::format("game {} has no version with id {}", game, version));
    }
    return std::nullopt;
}

}  // namespace

Result<Match> SqlStore::create_match(const NewMatch& match) {
    if (match.match_id.empty() || match.match_id.size() > kMaxMatchIdBytes ||
        !std::all_of(match.match_id.begin(), match.match_id.end(),
                     [](char c) { return c > 0x20 && c < 0x7f; })) {
        return error(
            Code::Invalid,
            fmt::format("a match id must be 1 to {} printable ASCII characters", kMaxMatchIdBytes));
    }
    if (match.players.empty())
        return error(Code::Invalid, "a match needs at least one player");
    {
        std::unordered_set<AccountId> seen(match.players.begin(), match.players.end());
        if (seen.size() != match.players.size()) {
            return error(Code::Invalid, "a player can take only one seat in a match");
        }
    }
    return impl_->write("recording a match start", [&](Connection& db) -> Result<Match> {
        Transaction tx(db, Transaction::Kind::Write);
        if (auto problem = check_play_target(db, match.game_id, match.version_id))
            return *problem;
        for (const AccountId player : match.players) {
            if (auto problem = require_role(db, player, Role::Player, "play games")) {
                return *problem;
            }
        }
        {
            auto exists = db.prepare("SELECT 1 FROM matches WHERE match_id = ?1");
            exists.bind(1, match.match_id);
            if (exists.step()) {
                return error(Code::Conflict,
                             fmt::format("a match with id {} already exists", match.match_id));
            }
        }
        db.prepare(
              "INSERT INTO matches (match_id, room_id, game_id, version_id, started_at, node_id) "
              "VALUES (?1, ?2, ?3, ?4, ?5, NULLIF(?6, ''))")
            .bind(1, match.match_id)
            .bind(2, match.room_id)
            .bind(3, match.game_id)
            .bind(4, match.version_id)
            .bind(5, match.started_at)
            .bind(6, match.node_id)
            .run();
        const std::int64_t row_id = db.last_insert_rowid();
        for (std::size_t seat = 0; seat < match.players.size(); ++seat) {
            db.prepare(
                  "INSERT INTO match_players (match_row_id, seat, account_id) VALUES (?1, ?2, ?3)")
                .bind(1, row_id)
                .bind(2, static_cast<std::int64_t>(seat))
                .bind(3, match.players[seat])
                .run();
        }
        auto created = load_match(db, match.match_id).value();
        tx.commit();
        return created;
    });
}

namespace {

// NotFound / Conflict (with a sentence) unless `match_id` is an OPEN match.
Result<void> require_open_match(Connection& db, std::string_view match_id) {
    auto s = db.prepare("SELECT status FROM matches WHERE match_id = ?1");
    s.bind(1, match_id);
    if (!s.step()) {
        return error(Code::NotFound, fmt::format("there is no match {}", match_id));
    }
    if (s.text(0) != "OPEN") {
        return error(Code::Conflict,
                     fmt::format("match {} already ended as {}", match_id, s.text(0)));
    }
    return {};
}

}  // namespace

Result<void> SqlStore::record_match_process(std::string_view match_id, const ProcessInfo& process) {
    return impl_->write("recording a game server process", [&](Connection& db) -> Result<void> {
        if (auto open = require_open_match(db, match_id); !open) {
            return open;
        }
        db.prepare(
              "UPDATE matches SET pid = ?2, pgid = ?3, process_start_time = ?4 "
              "WHERE match_id = ?1 AND status = 'OPEN'")
            .bind(1, match_id)
            .bind(2, process.pid)
            .bind(3, process.pgid)
            .bind(4, process.start_time)
            .run();
        return {};
    });
}

Result<void> SqlStore::record_match_in_game(std::string_view match_id, UnixMs at) {
    return impl_->write("recording a match in game", [&](Connection& db) -> Result<void> {
        if (auto open = require_open_match(db, match_id); !open) {
            return open;
        }
        db.prepare(
              "UPDATE matches SET in_game_at = COALESCE(in_game_at, ?2) "
              "WHERE match_id = ?1 AND status = 'OPEN'")
            .bind(1, match_id)
            .bind(2, at)
            .run();
        return {};
    });
}

Result<Match> SqlStore::finish_match(std::string_view match_id, const MatchFinish& finish) {
    if (finish.status == MatchStatus::Open) {
        return error(Code::Invalid, "a match can only be finished with a terminal status");
    }
    if (!finish.results_json.empty() && !nlohmann::json::accept(finish.results_json)) {
        return error(Code::Invalid, "match results must be valid JSON");
    }
    // The reason may come from a game server's err_msg: keep it bounded
    // rather than refuse it, so the match always closes. A NUL (JSON's
    // \u0000) becomes a space: PostgreSQL text cannot hold one.
    std::string reason = truncate_utf8(finish.reason, kMaxReasonBytes);
    std::replace(reason.begin(), reason.end(), '\0', ' ');
    const auto outcomes = finish.status == MatchStatus::End
                              ? results_by_player(finish.results_json)
                              : std::unordered_map<std::string, std::string>{};
    return impl_->write("recording a match end", [&](Connection& db) -> Result<Match> {
        Transaction tx(db, Transaction::Kind::Write);
        std::int64_t row_id = 0;
        GameId game = 0;
        VersionId version = 0;
        bool reached_in_game = finish.in_game_at.has_value();
        {
            auto s = db.prepare(
                "SELECT id, status, game_id, version_id, in_game_at FROM matches WHERE match_id = "
                "?1");
            s.bind(1, match_id);
            if (!s.step()) {
                return error(Code::NotFound, fmt::format("there is no match {}", match_id));
            }
            if (s.text(1) != "OPEN") {
                return error(Code::Conflict,
                             fmt::format("match {} already ended as {}", match_id, s.text(1)));
            }
            row_id = s.int64(0);
            game = s.int64(2);
            version = s.int64(3);
            reached_in_game = reached_in_game || !s.is_null(4);
        }
        db.prepare(
              "UPDATE matches SET status = ?2, ended_at = ?3, reason = ?4, results_json = ?5, "
              "in_game_at = COALESCE(in_game_at, ?6) WHERE id = ?1 AND status = 'OPEN'")
            .bind(1, row_id)
            .bind(2, to_string(finish.status))
            .bind(3, finish.ended_at)
            .bind(4, reason)
            .bind(5, finish.results_json)
            .bind(6, finish.in_game_at)
            .run();
        auto finished = load_match(db, match_id).value();
        // Once the match was IN_GAME every player gets a history row, however
        // it ended (END, ERROR, a crash, silence, an abort): they played, so
        // they may review the game. Before that nobody played anything.
        if (!reached_in_game) {
            tx.commit();
            return finished;
        }
        for (const auto& player : finished.players) {
            std::optional<std::string> result;
            if (const auto it = outcomes.find(ascii_lower(player.name)); it != outcomes.end()) {
                result = it->second;
            }
            db.prepare(
                  "INSERT INTO play_history (account_id, game_id, version_id, match_row_id, "
                  "match_status, result, played_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .bind(1, player.account_id)
                .bind(2, game)
                .bind(3, version)
                .bind(4, row_id)
                .bind(5, to_string(finish.status))
                .bind(6, result)
                .bind(7, finish.ended_at)
                .run();
        }
        tx.commit();
        return finished;
    });
}

Result<Match> SqlStore::get_match(std::string_view match_id) {
    return impl_->read("reading a match", [&](Connection& db) -> Result<Match> {
        Transaction tx(db, Transaction::Kind::Read);
        auto found = load_match(db, match_id);
        if (!found)
            return error(Code::NotFound, fmt::format("there is no match {}", match_id));
        tx.commit();
        return std::move(*found);
    });
}

Result<std::vector<Match>> SqlStore::list_open_matches(std::string_view node_id) {
    return impl_->read("listing open matches", [&](Connection& db) -> Result<std::vector<Match>> {
        Transaction tx(db, Transaction::Kind::Read);
        std::vector<Match> open;
        auto s = db.prepare(kOpenMatches);
        s.bind(1, node_id);
        while (s.step())
            open.push_back(read_match(db, s));
        tx.commit();
        return open;
    });
}

Result<void> SqlStore::record_play(AccountId player, GameId game, VersionId version,
                                   UnixMs played_at) {
    return impl_->write("recording a play", [&](Connection& db) -> Result<void> {
        Transaction tx(db, Transaction::Kind::Write);
        if (auto problem = check_play_target(db, game, version))
            return *problem;
        if (auto problem = require_role(db, player, Role::Player, "play games"))
            return *problem;
        db.prepare(
              "INSERT INTO play_history (account_id, game_id, version_id, match_status, "
              "played_at) VALUES (?1, ?2, ?3, 'END', ?4)")
            .bind(1, player)
            .bind(2, game)
            .bind(3, version)
            .bind(4, played_at)
            .run();
        tx.commit();
        return {};
    });
}

Result<bool> SqlStore::has_played(AccountId player, GameId game) {
    return impl_->read("reading play history", [&](Connection& db) -> Result<bool> {
        auto s = db.prepare(
            "SELECT EXISTS (SELECT 1 FROM play_history WHERE account_id = ?1 AND game_id = ?2)");
        s.bind(1, player).bind(2, game);
        s.step();
        return s.int64(0) != 0;
    });
}

Result<std::vector<PlayRecord>> SqlStore::play_history(AccountId player, int limit) {
    return impl_->read(
        "reading play history", [&](Connection& db) -> Result<std::vector<PlayRecord>> {
            auto s = db.prepare(R"sql(
SELECT ph.id, ph.account_id, ph.game_id, g.name, ph.version_id, v.version, m.match_id,
       ph.match_status, ph.result, ph.played_at
FROM play_history ph
JOIN games g ON g.id = ph.game_id
JOIN versions v ON v.id = ph.version_id
LEFT JOIN matches m ON m.id = ph.match_row_id
WHERE ph.account_id = ?1
ORDER BY ph.played_at DESC, ph.id DESC
LIMIT ?2
)sql");
            s.bind(1, player).bind(2, std::clamp(limit, 0, kMaxListLimit));
            std::vector<PlayRecord> records;
            while (s.step()) {
                PlayRecord r;
                r.id = s.int64(0);
                r.account_id = s.int64(1);
                r.game_id = s.int64(2);
                r.game_name = s.text(3);
                r.version_id = s.int64(4);
                r.version = s.text(5);
                r.match_id = s.opt_text(6);
                r.match_status = parse_match_status(s.text(7)).value_or(MatchStatus::End);
                r.result = s.opt_text(8);
                r.played_at = s.int64(9);
                records.push_back(std::move(r));
            }
            return records;
        });
}

// ---- reviews -------------------------------------------------------------------------

Result<Review> SqlStore::upsert_review(AccountId player, GameId game, int rating,
                                       std::string_view text, UnixMs now) {
    if (rating < kMinRating || rating > kMaxRating) {
        return error(Code::Invalid, fmt::format("a rating must be a whole number from {} to {}",
                                                kMinRating, kMaxRating));
    }
    if (auto problem = check_review_text(text))
        return error(Code::Invalid, *problem);
    return impl_->write("saving a review", [&](Connection& db) -> Result<Review> {
        Transaction tx(db, Transaction::Kind::Write);
        if (auto problem = require_role(db, player, Role::Player, "review games"))
            return *problem;
        auto loaded = load_game(db, game);
        if (!loaded)
            return game_not_found(game);
        VersionId played_version = 0;
        {
            auto s = db.prepare(
                "SELECT version_id FROM play_history WHERE account_id = ?1 AND game_id = ?2 "
                "ORDER BY played_at DESC, id DESC LIMIT 1");
            s.bind(1, player).bind(2, game);
            if (!s.step()) {
                return error(
                    Code::Forbidden,
                    fmt::format("you can review {} after you have played it", loaded->game.name));
            }
            played_version = s.int64(0);
        }
        db.prepare(R"sql(
INSERT INTO reviews (account_id, game_id, version_id, rating, text, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
ON CONFLICT (account_id, game_id) DO UPDATE SET
    version_id = excluded.version_id, rating = excluded.rating, text = excluded.text,
    updated_at = excluded.updated_at
)sql")
            .bind(1, player)
            .bind(2, game)
            .bind(3, played_version)
            .bind(4, rating)
            .bind(5, text)
            .bind(6, now)
            .run();
        auto s = db.prepare(kReviewOfPlayer);
        s.bind(1, player).bind(2, game);
        s.step();
        Review saved = read_review(s);
        tx.commit();
        return saved;
    });
}

Result<void> SqlStore::delete_review(AccountId player, GameId game) {
    return impl_->write("deleting a review", [&](Connection& db) -> Result<void> {
        db.prepare("DELETE FROM reviews WHERE account_id = ?1 AND game_id = ?2")
            .bind(1, player)
            .bind(2, game)
            .run();
        if (db.changes() == 0) {
            return error(Code::NotFound, "you have not reviewed this game");
        }
        return {};
    });
}

Result<Review> SqlStore::get_review(AccountId player, GameId game) {
    return impl_->read("reading a review", [&](Connection& db) -> Result<Review> {
        auto s = db.prepare(kReviewOfPlayer);
        s.bind(1, player).bind(2, game);
        if (!s.step())
            return error(Code::NotFound, "you have not reviewed this game");
        return read_review(s);
    });
}

Result<std::vector<Review>> SqlStore::list_reviews(GameId game, int limit, int offset) {
    return impl_->read("listing reviews", [&](Connection& db) -> Result<std::vector<Review>> {
        Transaction tx(db, Transaction::Kind::Read);
        if (!load_game(db, game))
            return game_not_found(game);
        auto reviews = query_reviews(db, game, limit, offset);
        tx.commit();
        return reviews;
    });
}

Result<RatingSummary> SqlStore::rating_summary(GameId game) {
    return impl_->read("reading ratings", [&](Connection& db) -> Result<RatingSummary> {
        auto loaded = load_game(db, game);
        if (!loaded)
            return game_not_found(game);
        return loaded->rating;
    });
}

}  // namespace gamestore::store
