// gamestore-server, the program admins run (docs/SERVER.md): turns flags,
// GAMESTORE_* environment variables and the keys of --config into a
// ServerConfig and RoomTuning; ServerApp does everything else.

#include <cstdio>
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "platform/launch/sandbox_options.hpp"
#include "platform/server/json_log.hpp"
#include "platform/server/package_cache.hpp"
#include "platform/server/server_app.hpp"
#include "platform/store/migrate_store.hpp"
#include "platform/store/open_store.hpp"
#include "platform/store/postgres_store.hpp"
#include "platform/store/sqlite_store.hpp"

namespace {

using gamestore::server::ServerConfig;

gamestore::net::HostPort parse_endpoint_flag(const std::string& flag, const std::string& text) {
    std::string error;
    auto parsed = gamestore::net::parse_host_port(text, &error);
    if (!parsed) {
        throw CLI::ValidationError(flag, error);
    }
    return *parsed;
}

struct MigrateArgs {
    std::string from;
    std::string to;
    std::string to_password_file;
    std::string data_dir;
};

// gamestore-server migrate-store: copies, verifies and prints one line per
// table (docs/DATA.md). 0 when the copy is complete and verified.
int migrate_store(const MigrateArgs& args) {
    namespace store = gamestore::store;
    auto from = store::parse_database(args.from, {});
    auto to = store::parse_database(args.to, {});
    const auto* problem = std::get_if<std::string>(&from);
    if (problem == nullptr)
        problem = std::get_if<std::string>(&to);
    if (problem != nullptr) {
        std::cerr << "gamestore-server migrate-store: " << *problem << "\n";
        return 2;
    }
    const auto* source =
        std::get_if<store::SqliteLocation>(&std::get<store::DatabaseLocation>(from));
    const auto* target =
        std::get_if<store::PostgresLocation>(&std::get<store::DatabaseLocation>(to));
    if (source == nullptr || target == nullptr) {
        std::cerr << "gamestore-server migrate-store: --from must name a SQLite database "
                     "(sqlite:PATH) and --to a PostgreSQL one (postgresql://...)\n";
        return 2;
    }
    std::string password;
    if (!args.to_password_file.empty()) {
        auto read = store::read_password_file(args.to_password_file);
        if (const auto* e = std::get_if<store::StoreError>(&read)) {
            std::cerr << "gamestore-server migrate-store: " << e->message << "\n";
            return 1;
        }
        password = std::move(std::get<std::string>(read));
    }
    // Versions published before the store kept package bytes have them only
    // in the data dir: into the SQLite store first, so the copy carries them.
    // (Opening creates a missing file: leave that case to the copy's refusal.)
    if (std::error_code ec; std::filesystem::is_regular_file(source->path, ec)) {
        const std::filesystem::path data_dir = args.data_dir.empty()
                                                   ? source->path.parent_path()
                                                   : std::filesystem::path(args.data_dir);
        auto opened = store::SqliteStore::open(source->path);
        if (!opened) {
            std::cerr << "gamestore-server migrate-store: " << opened.error().message << "\n";
            return 1;
        }
        try {
            const auto lost = gamestore::server::store_local_packages(*opened.value(), data_dir);
            if (!lost.empty()) {
                std::cerr << "gamestore-server migrate-store: " << lost.size()
                          << " package(s) are neither in the database nor in "
                          << (data_dir / "packages").string()
                          << " (restore them from a backup, or name the data dir with --data-dir); "
                             "the first is "
                          << lost.front() << "\n";
                return 1;
            }
        } catch (const std::exception& e) {
            std::cerr << "gamestore-server migrate-store: " << e.what() << "\n";
            return 1;
        }
    }
    auto copied = store::copy_sqlite_to_postgres(source->path, target->uri, password);
    if (!copied) {
        std::cerr << "gamestore-server migrate-store: " << copied.error().message << "\n";
        return 1;
    }
    for (const auto& table : copied.value()) {
        std::cout << table.table << ": " << table.rows << " rows, sha256 " << table.sha256
                  << " on both sides\n";
    }
    std::cout << "package bytes: every package reassembles to its size and sha256\n";
    std::cout << "migrate-store: " << source->path.string() << " copied to "
              << store::redact_database_uri(target->uri) << " and verified\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    ServerConfig config;
    CLI::App app{"gamestore-server: the gamestore platform server (lobby, store, matches)"};
    app.set_config("--config", "", "TOML file with any of these options (flags win over it)");

    std::string listen = config.listen.to_string();
    std::string report_listen = config.report_listen.to_string();
    std::string http_listen = config.http_listen.to_string();
    std::string game_ports =
        std::to_string(config.game_port_first) + "-" + std::to_string(config.game_port_last);
    std::string log_level = "info";
    std::string log_format = "text";
    std::string data_dir = config.data_dir.string();
    std::string ready_file;
    std::string seed_games;
    double auth_deadline_sec = config.auth_deadline.count() / 1000.0;
    double session_idle_hours = config.session_idle_timeout.count() / 3600000.0;
    gamestore::server::RoomTuning tuning;
    double stop_grace_sec = tuning.stop_grace.count() / 1000.0;
    double end_grace_sec = tuning.end_grace.count() / 1000.0;
    double report_grace_sec = tuning.report_grace.count() / 1000.0;
    double everyone_left_grace_sec = tuning.everyone_left_grace.count() / 1000.0;
    double startup_timeout_sec = 0;
    double idle_timeout_sec = config.idle_timeout.count() / 1000.0;
    double report_idle_timeout_sec = config.report_idle_timeout.count() / 1000.0;

    app.add_option("--listen", listen, "lobby address HOST:PORT (port 0: any free port)")
        ->envname("GAMESTORE_LISTEN")
        ->capture_default_str();
    app.add_option("--report-listen", report_listen,
                   "control-plane address for game servers HOST:PORT")
        ->envname("GAMESTORE_REPORT_LISTEN")
        ->capture_default_str();
    app.add_option(
           "--http-listen", http_listen,
           "HTTP address for /metrics, /livez, /readyz and /admin (docs/OPERATIONS.md) HOST:PORT")
        ->envname("GAMESTORE_HTTP_LISTEN")
        ->capture_default_str();
    app.add_option(
           "--admin-token", config.admin_token,
           "token for /admin (default: the one in DATA/admin_token, created on first start)")
        ->envname("GAMESTORE_ADMIN_TOKEN");
    app.add_option("--advertise-host", config.advertise_host,
                   "host players are told to connect to (default: the address each player reached "
                   "the lobby by)")
        ->envname("GAMESTORE_ADVERTISE_HOST");
    app.add_option("--bind-host", config.bind_host, "address game servers bind ({bind_host})")
        ->envname("GAMESTORE_BIND_HOST")
        ->capture_default_str();
    app.add_option("--data-dir", data_dir, "where the database, packages and match dirs live")
        ->envname("GAMESTORE_DATA_DIR")
        ->capture_default_str();
    app.add_option("--database", config.database,
                   "the store: a file path, sqlite:PATH, or postgresql://USER@HOST/DB (no "
                   "password in it; default: DATA/gamestore.db)")
        ->envname("GAMESTORE_DATABASE");
    app.add_option("--database-password-file", config.database_password_file,
                   "file (mode 600) holding the PostgreSQL password; else libpq's PGPASSWORD, "
                   "PGPASSFILE or ~/.pgpass")
        ->envname("GAMESTORE_DATABASE_PASSWORD_FILE");
    app.add_option("--node-id", config.node_id,
                   "run as a node of a cluster on the PostgreSQL --database, with this id "
                   "(unique per node; docs/SCALING.md)")
        ->envname("GAMESTORE_NODE_ID");
    app.add_option("--advertise-lobby", config.advertise_lobby,
                   "HOST:PORT other nodes send clients to (default: the advertised host, or "
                   "127.0.0.1, and the lobby's port)")
        ->envname("GAMESTORE_ADVERTISE_LOBBY");
    std::string room_placement = "least-loaded";
    app.add_option("--room-placement", room_placement,
                   "where a cluster node creates new rooms: least-loaded (the node running the "
                   "fewest matches and rooms; the player is redirected there) or local (the "
                   "node the player reached)")
        ->check(CLI::IsMember({"least-loaded", "local"}))
        ->envname("GAMESTORE_ROOM_PLACEMENT")
        ->capture_default_str();
    double dead_node_matches_after_sec = config.dead_node_matches_after.count() / 1000.0;
    app.add_option("--dead-node-matches-after", dead_node_matches_after_sec,
                   "seconds a cluster node may stay dead before another node closes its open "
                   "matches as ABORTED")
        ->check(CLI::PositiveNumber)
        ->envname("GAMESTORE_DEAD_NODE_MATCHES_AFTER")
        ->capture_default_str();
    app.add_option("--game-ports", game_ports, "port range A-B for game servers")
        ->envname("GAMESTORE_GAME_PORTS")
        ->capture_default_str();
    app.add_option("--seed-games", seed_games, "publish the packages in DIR on first start")
        ->envname("GAMESTORE_SEED_GAMES");
    app.add_option("--ready-file", ready_file,
                   "write {lobby,report,http,pid} JSON here once listening")
        ->envname("GAMESTORE_READY_FILE");
    app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
        ->envname("GAMESTORE_LOG_LEVEL")
        ->capture_default_str()
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    app.add_option("--log-format", log_format,
                   "text: one line per event for people; json: one JSON object per line "
                   "(docs/OPERATIONS.md)")
        ->envname("GAMESTORE_LOG_FORMAT")
        ->capture_default_str()
        ->check(CLI::IsMember({"text", "json"}));
    app.add_option("--auth-deadline", auth_deadline_sec,
                   "seconds a new lobby connection has to authenticate")
        ->envname("GAMESTORE_AUTH_DEADLINE")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);

    app.add_flag("--fast-password-hash", config.fast_password_hash,
                 "cheap password hashing for test suites only (logged as a warning)")
        ->envname("GAMESTORE_FAST_PASSWORD_HASH");
    app.add_option("--session-idle-hours", session_idle_hours,
                   "sign a session out after this long unused")
        ->envname("GAMESTORE_SESSION_IDLE_HOURS")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--max-package-bytes", config.zip_limits.max_archive_bytes,
                   "largest package upload")
        ->envname("GAMESTORE_MAX_PACKAGE_BYTES")
        ->capture_default_str();
    app.add_option("--max-package-entries", config.zip_limits.max_entries,
                   "most files in one package")
        ->envname("GAMESTORE_MAX_PACKAGE_ENTRIES")
        ->capture_default_str();
    app.add_option("--max-package-uncompressed", config.zip_limits.max_total_uncompressed,
                   "largest total unpacked size of one package")
        ->envname("GAMESTORE_MAX_PACKAGE_UNCOMPRESSED")
        ->capture_default_str();
    app.add_option("--blocking-threads", config.blocking_threads,
                   "threads for database, zip and process work")
        ->envname("GAMESTORE_BLOCKING_THREADS")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    app.add_option("--max-connections", config.max_connections,
                   "lobby connections open at once; more are told UNAVAILABLE (at most half the "
                   "open files limit)")
        ->envname("GAMESTORE_MAX_CONNECTIONS")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000000));
    app.add_option("--max-auth-queue", config.max_auth_queue,
                   "sign-ups and logins waiting for their password hash at most; more are told "
                   "UNAVAILABLE (auth.resume needs no hash)")
        ->envname("GAMESTORE_MAX_AUTH_QUEUE")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    app.add_option("--catalog-cache", config.catalog_cache,
                   "answer store.list and store.show from the catalogue in memory (off: read the "
                   "database every time)")
        ->envname("GAMESTORE_CATALOG_CACHE")
        ->capture_default_str();
    app.add_option(
           "--auth-threads", config.auth_threads,
           "threads for password hashing (register, login), apart from the blocking threads")
        ->envname("GAMESTORE_AUTH_THREADS")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));

    app.add_option("--stop-grace", stop_grace_sec,
                   "seconds between SIGTERM and SIGKILL when stopping a game server")
        ->envname("GAMESTORE_STOP_GRACE")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--end-grace", end_grace_sec,
                   "seconds a game server has to exit by itself after END/ERROR")
        ->envname("GAMESTORE_END_GRACE")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option(
           "--everyone-left-grace", everyone_left_grace_sec,
           "seconds a live match with no player in it any more (every client exited, left or "
           "disconnected) waits for END before it is stopped as ABORTED")
        ->envname("GAMESTORE_EVERYONE_LEFT_GRACE")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--report-grace", report_grace_sec,
                   "seconds a live match waits, after its game server exited, for an END/ERROR "
                   "still in flight "
                   "before it counts as CRASHED")
        ->envname("GAMESTORE_REPORT_GRACE")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 60.0));
    app.add_option("--startup-timeout", startup_timeout_sec,
                   "seconds to wait for STARTED (0: the manifest's server.startup_timeout)")
        ->envname("GAMESTORE_STARTUP_TIMEOUT")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--heartbeat-warn-factor", tuning.heartbeat_warn_factor,
                   "warn after this many heartbeat intervals of silence")
        ->envname("GAMESTORE_HEARTBEAT_WARN_FACTOR")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--heartbeat-kill-factor", tuning.heartbeat_kill_factor,
                   "stop the game server after this many heartbeat intervals of silence")
        ->envname("GAMESTORE_HEARTBEAT_KILL_FACTOR")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--match-log-cap", tuning.match_log_cap_bytes,
                   "bytes of game-server output kept per match")
        ->envname("GAMESTORE_MATCH_LOG_CAP")
        ->capture_default_str();
    app.add_option("--report-rate", config.report_rate_per_sec,
                   "control-plane messages per second allowed per connection")
        ->envname("GAMESTORE_REPORT_RATE")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--idle-timeout", idle_timeout_sec,
                   "seconds a signed-in lobby connection may stay silent before it is closed")
        ->envname("GAMESTORE_IDLE_TIMEOUT")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option(
           "--report-idle-timeout", report_idle_timeout_sec,
           "seconds a control-plane connection may stay silent before it is closed (once it "
           "reported for a match: at least --heartbeat-kill-factor x its heartbeat interval)")
        ->envname("GAMESTORE_REPORT_IDLE_TIMEOUT")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    unsigned report_batch_ms = static_cast<unsigned>(config.report_batch_interval.count());
    app.add_option("--report-batch-ms", report_batch_ms,
                   "milliseconds between reads of the open control-plane connections, which are "
                   "then read all at once (0: each report as it arrives)")
        ->envname("GAMESTORE_REPORT_BATCH_MS")
        ->capture_default_str()
        ->check(CLI::Range(0u, 1000u));
    app.add_option("--max-line-bytes", config.max_line_bytes,
                   "longest NDJSON line accepted on the lobby and control-plane ports")
        ->envname("GAMESTORE_MAX_LINE_BYTES")
        ->capture_default_str()
        ->check(CLI::Range(1024, 16 * 1024 * 1024));
    gamestore::launch::SandboxOptionValues sandbox_values;
    gamestore::launch::add_sandbox_options(app, config.sandbox, sandbox_values);
    app.add_flag("--debug-keep-ready-after-match", tuning.debug_keep_ready_after_match,
                 "TEST ONLY: break the reset path (ready is not cleared) to prove the sim's "
                 "checkers fail")
        ->envname("GAMESTORE_DEBUG_KEEP_READY_AFTER_MATCH");

    MigrateArgs migrate_args;
    auto* migrate = app.add_subcommand(
        "migrate-store",
        "copy a SQLite store into an empty PostgreSQL database and verify every table "
        "(docs/DATA.md); run it with the servers stopped");
    migrate->add_option("--from", migrate_args.from, "the SQLite database: sqlite:PATH or PATH")
        ->required();
    migrate
        ->add_option("--to", migrate_args.to,
                     "the PostgreSQL database: postgresql://... (no password in it)")
        ->required();
    migrate->add_option("--to-password-file", migrate_args.to_password_file,
                        "file (mode 600) holding the PostgreSQL password; else PGPASSWORD, "
                        "PGPASSFILE or ~/.pgpass");
    migrate->add_option("--data-dir", migrate_args.data_dir,
                        "the installation's data dir, whose packages/ holds zips of versions "
                        "published before the database kept package bytes (default: the "
                        "directory of the SQLite file)");

    try {
        app.parse(argc, argv);
        config.listen = parse_endpoint_flag("--listen", listen);
        config.report_listen = parse_endpoint_flag("--report-listen", report_listen);
        config.http_listen = parse_endpoint_flag("--http-listen", http_listen);
        unsigned first = 0, last = 0;
        char dash = 0;
        if (std::sscanf(game_ports.c_str(), "%u%c%u", &first, &dash, &last) != 3 || dash != '-' ||
            first == 0 || first > last || last > 65535) {
            throw CLI::ValidationError(
                "--game-ports", "expected A-B with 1 <= A <= B <= 65535, got '" + game_ports + "'");
        }
        config.game_port_first = static_cast<std::uint16_t>(first);
        config.game_port_last = static_cast<std::uint16_t>(last);
        config.data_dir = data_dir;
        config.ready_file = ready_file;
        config.seed_games_dir = seed_games;
        config.pin_rooms_locally = room_placement == "local";
        config.dead_node_matches_after =
            std::chrono::milliseconds(static_cast<long>(dead_node_matches_after_sec * 1000));
        config.auth_deadline =
            std::chrono::milliseconds(static_cast<long>(auth_deadline_sec * 1000));
        config.idle_timeout = std::chrono::milliseconds(static_cast<long>(idle_timeout_sec * 1000));
        config.report_idle_timeout =
            std::chrono::milliseconds(static_cast<long>(report_idle_timeout_sec * 1000));
        config.report_batch_interval = std::chrono::milliseconds(report_batch_ms);
        tuning.stop_grace = std::chrono::milliseconds(static_cast<long>(stop_grace_sec * 1000));
        tuning.end_grace = std::chrono::milliseconds(static_cast<long>(end_grace_sec * 1000));
        tuning.report_grace = std::chrono::milliseconds(static_cast<long>(report_grace_sec * 1000));
        tuning.everyone_left_grace =
            std::chrono::milliseconds(static_cast<long>(everyone_left_grace_sec * 1000));
        if (startup_timeout_sec > 0) {
            tuning.startup_timeout_override =
                std::chrono::milliseconds(static_cast<long>(startup_timeout_sec * 1000));
        }
        config.session_idle_timeout =
            std::chrono::milliseconds(static_cast<long long>(session_idle_hours * 3600000.0));
        gamestore::launch::finish_sandbox_options(config.sandbox, sandbox_values);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }

    if (log_format == "json") {
        spdlog::set_formatter(std::make_unique<gamestore::server::JsonLogFormatter>());
    } else {
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
    }
    spdlog::set_level(spdlog::level::from_str(log_level));

    if (*migrate)
        return migrate_store(migrate_args);

    try {
        gamestore::server::ServerApp server(std::move(config), tuning);
        server.run();
        return 0;
    } catch (const std::exception& e) {
        spdlog::critical("gamestore-server: {}", e.what());
        return 1;
    }
}
