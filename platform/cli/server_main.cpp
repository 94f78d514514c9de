// gamestore-server: the platform server (DESIGN.md 8). Every flag also reads a
// GAMESTORE_* environment variable and a key of the same name in --config.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "platform/asio/asio.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/server/child_reaper.hpp"
#include "platform/server/lobby_server.hpp"
#include "platform/server/lobby_session.hpp"
#include "platform/server/report_endpoint.hpp"
#include "platform/server/room_service.hpp"
#include "platform/server/seed_games.hpp"
#include "platform/server/package_ingest.hpp"
#include "platform/server/platform_services.hpp"
#include "platform/store/sqlite_store.hpp"

namespace {

namespace asio = boost::asio;
using gamestore::server::LobbyServer;
using gamestore::server::ServerConfig;

// Written atomically (temp + rename) so a test never reads half a file.
void write_ready_file(const std::filesystem::path& path, const nlohmann::json& content) {
    const auto temp = path.string() + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(temp, std::ios::trunc);
        out << content.dump() << "\n";
        if (!out) {
            throw std::runtime_error("cannot write the ready file " + path.string());
        }
    }
    std::filesystem::rename(temp, path);
}

gamestore::net::HostPort parse_endpoint_flag(const std::string& flag, const std::string& text) {
    std::string error;
    auto parsed = gamestore::net::parse_host_port(text, &error);
    if (!parsed) {
        throw CLI::ValidationError(flag, error);
    }
    return *parsed;
}

}  // namespace

int main(int argc, char** argv) {
    ServerConfig config;
    CLI::App app{"gamestore-server: the gamestore platform server (lobby, store, matches)"};
    app.set_config("--config", "", "TOML file with any of these options (flags win over it)");

    std::string listen = config.listen.to_string();
    std::string report_listen = config.report_listen.to_string();
    std::string game_ports = std::to_string(config.game_port_first) + "-" + std::to_string(config.game_port_last);
    std::string log_level = "info";
    std::string data_dir = config.data_dir.string();
    std::string ready_file;
    std::string seed_games;
    double auth_deadline_sec = config.auth_deadline.count() / 1000.0;
    double session_idle_hours = config.session_idle_timeout.count() / 3600000.0;
    gamestore::server::RoomTuning tuning;
    double stop_grace_sec = tuning.stop_grace.count() / 1000.0;
    double end_grace_sec = tuning.end_grace.count() / 1000.0;
    double report_grace_sec = tuning.report_grace.count() / 1000.0;
    double startup_timeout_sec = 0;
    double report_rate = 20.0;
    double idle_timeout_sec = config.idle_timeout.count() / 1000.0;
    double report_idle_timeout_sec = 60.0;

    app.add_option("--listen", listen, "lobby address HOST:PORT (port 0: any free port)")
        ->envname("GAMESTORE_LISTEN")->capture_default_str();
    app.add_option("--report-listen", report_listen, "control-plane address for game servers HOST:PORT")
        ->envname("GAMESTORE_REPORT_LISTEN")->capture_default_str();
    app.add_option("--advertise-host", config.advertise_host,
                   "host players are told to connect to (default: the address each player reached the lobby by)")
        ->envname("GAMESTORE_ADVERTISE_HOST");
    app.add_option("--bind-host", config.bind_host, "address game servers bind ({bind_host})")
        ->envname("GAMESTORE_BIND_HOST")->capture_default_str();
    app.add_option("--data-dir", data_dir, "where the database, packages and match dirs live")
        ->envname("GAMESTORE_DATA_DIR")->capture_default_str();
    app.add_option("--game-ports", game_ports, "port range A-B for game servers")
        ->envname("GAMESTORE_GAME_PORTS")->capture_default_str();
    app.add_option("--seed-games", seed_games, "publish the packages in DIR on first start")
        ->envname("GAMESTORE_SEED_GAMES");
    app.add_option("--ready-file", ready_file, "write {lobby,report,pid} JSON here once listening")
        ->envname("GAMESTORE_READY_FILE");
    app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
        ->envname("GAMESTORE_LOG_LEVEL")->capture_default_str()
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    app.add_option("--auth-deadline", auth_deadline_sec,
                   "seconds a new lobby connection has to authenticate")
        ->envname("GAMESTORE_AUTH_DEADLINE")->capture_default_str()->check(CLI::PositiveNumber);

    app.add_flag("--fast-password-hash", config.fast_password_hash,
                 "cheap password hashing for test suites only (logged as a warning)")
        ->envname("GAMESTORE_FAST_PASSWORD_HASH");
    app.add_option("--session-idle-hours", session_idle_hours, "sign a session out after this long unused")
        ->envname("GAMESTORE_SESSION_IDLE_HOURS")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--max-package-bytes", config.zip_limits.max_archive_bytes, "largest package upload")
        ->envname("GAMESTORE_MAX_PACKAGE_BYTES")->capture_default_str();
    app.add_option("--max-package-entries", config.zip_limits.max_entries, "most files in one package")
        ->envname("GAMESTORE_MAX_PACKAGE_ENTRIES")->capture_default_str();
    app.add_option("--max-package-uncompressed", config.zip_limits.max_total_uncompressed,
                   "largest total unpacked size of one package")
        ->envname("GAMESTORE_MAX_PACKAGE_UNCOMPRESSED")->capture_default_str();
    app.add_option("--blocking-threads", config.blocking_threads, "threads for database, zip and process work")
        ->envname("GAMESTORE_BLOCKING_THREADS")->capture_default_str()->check(CLI::Range(1, 64));
    app.add_option("--max-connections", config.max_connections,
                   "lobby connections open at once; more are told UNAVAILABLE (at most half the open files limit)")
        ->envname("GAMESTORE_MAX_CONNECTIONS")->capture_default_str()->check(CLI::Range(1, 1000000));
    app.add_option("--auth-threads", config.auth_threads,
                   "threads for password hashing (register, login), apart from the blocking threads")
        ->envname("GAMESTORE_AUTH_THREADS")->capture_default_str()->check(CLI::Range(1, 64));

    app.add_option("--stop-grace", stop_grace_sec, "seconds between SIGTERM and SIGKILL when stopping a game server")
        ->envname("GAMESTORE_STOP_GRACE")->capture_default_str()->check(CLI::NonNegativeNumber);
    app.add_option("--end-grace", end_grace_sec, "seconds a game server has to exit by itself after END/ERROR")
        ->envname("GAMESTORE_END_GRACE")->capture_default_str()->check(CLI::NonNegativeNumber);
    app.add_option("--report-grace", report_grace_sec,
                   "seconds a live match waits, after its game server exited, for an END/ERROR still in flight "
                   "before it counts as CRASHED")
        ->envname("GAMESTORE_REPORT_GRACE")->capture_default_str()->check(CLI::Range(0.0, 60.0));
    app.add_option("--startup-timeout", startup_timeout_sec,
                   "seconds to wait for STARTED (0: the manifest's server.startup_timeout)")
        ->envname("GAMESTORE_STARTUP_TIMEOUT")->capture_default_str()->check(CLI::NonNegativeNumber);
    app.add_option("--heartbeat-warn-factor", tuning.heartbeat_warn_factor,
                   "warn after this many heartbeat intervals of silence")
        ->envname("GAMESTORE_HEARTBEAT_WARN_FACTOR")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--heartbeat-kill-factor", tuning.heartbeat_kill_factor,
                   "stop the game server after this many heartbeat intervals of silence")
        ->envname("GAMESTORE_HEARTBEAT_KILL_FACTOR")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--match-log-cap", tuning.match_log_cap_bytes, "bytes of game-server output kept per match")
        ->envname("GAMESTORE_MATCH_LOG_CAP")->capture_default_str();
    app.add_option("--report-rate", report_rate, "control-plane messages per second allowed per connection")
        ->envname("GAMESTORE_REPORT_RATE")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--idle-timeout", idle_timeout_sec,
                   "seconds a signed-in lobby connection may stay silent before it is closed")
        ->envname("GAMESTORE_IDLE_TIMEOUT")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--report-idle-timeout", report_idle_timeout_sec,
                   "seconds a control-plane connection may stay silent before it is closed")
        ->envname("GAMESTORE_REPORT_IDLE_TIMEOUT")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--max-line-bytes", config.max_line_bytes,
                   "longest NDJSON line accepted on the lobby and control-plane ports")
        ->envname("GAMESTORE_MAX_LINE_BYTES")->capture_default_str()->check(CLI::Range(1024, 16 * 1024 * 1024));
    app.add_flag("--debug-keep-ready-after-match", tuning.debug_keep_ready_after_match,
                 "TEST ONLY: break the reset path (ready is not cleared) to prove the sim's checkers fail")
        ->envname("GAMESTORE_DEBUG_KEEP_READY_AFTER_MATCH");

    try {
        app.parse(argc, argv);
        config.listen = parse_endpoint_flag("--listen", listen);
        config.report_listen = parse_endpoint_flag("--report-listen", report_listen);
        unsigned first = 0, last = 0;
        char dash = 0;
        if (std::sscanf(game_ports.c_str(), "%u%c%u", &first, &dash, &last) != 3 || dash != '-' ||
            first == 0 || first > last || last > 65535) {
            throw CLI::ValidationError("--game-ports", "expected A-B with 1 <= A <= B <= 65535, got '" + game_ports + "'");
        }
        config.game_port_first = static_cast<std::uint16_t>(first);
        config.game_port_last = static_cast<std::uint16_t>(last);
        // Absolute from here on: game processes run with other working dirs.
        config.data_dir = std::filesystem::absolute(data_dir).lexically_normal();
        config.ready_file = ready_file;
        config.seed_games_dir = seed_games;
        config.auth_deadline = std::chrono::milliseconds(static_cast<long>(auth_deadline_sec * 1000));
        config.idle_timeout = std::chrono::milliseconds(static_cast<long>(idle_timeout_sec * 1000));
        tuning.stop_grace = std::chrono::milliseconds(static_cast<long>(stop_grace_sec * 1000));
        tuning.end_grace = std::chrono::milliseconds(static_cast<long>(end_grace_sec * 1000));
        tuning.report_grace = std::chrono::milliseconds(static_cast<long>(report_grace_sec * 1000));
        if (startup_timeout_sec > 0) {
            tuning.startup_timeout_override = std::chrono::milliseconds(static_cast<long>(startup_timeout_sec * 1000));
        }
        config.session_idle_timeout =
            std::chrono::milliseconds(static_cast<long long>(session_idle_hours * 3600000.0));
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }

    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
    spdlog::set_level(spdlog::level::from_str(log_level));

    try {
        std::filesystem::create_directories(config.data_dir);
        gamestore::server::sweep_upload_leftovers(config.data_dir);

        gamestore::store::SqliteStore::Options store_options;
        if (config.fast_password_hash) {
            store_options.hasher = gamestore::store::PasswordHasher::fast_for_tests();
        }
        store_options.session_idle_timeout_ms = config.session_idle_timeout.count();
        auto opened = gamestore::store::SqliteStore::open(config.data_dir / "gamestore.db", store_options);
        if (!opened) {
            throw std::runtime_error(opened.error().message);
        }
        auto store = std::move(opened).value();
        gamestore::server::sweep_unreferenced_packages(*store, config.data_dir);
        if (!config.seed_games_dir.empty()) {
            const int seeded = gamestore::server::seed_games(*store, config.data_dir, config.seed_games_dir,
                                                             config.zip_limits);
            if (seeded > 0) {
                spdlog::info("seed: {} game version(s) published from {}", seeded, config.seed_games_dir.string());
            }
        }

        // Escaped grandchildren of game servers are reparented to us, so
        // their match's stop can still find and kill them.
        if (!gamestore::launch::become_child_subreaper()) {
            spdlog::warn("could not become a child subreaper; escaped game processes may outlive their match");
        }
        std::signal(SIGPIPE, SIG_IGN);
        // Lobby connections may use at most half the open files limit: the
        // rest is for the control plane, the database, logs and spawning.
        if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
            const auto allowed = std::max<std::size_t>(16, static_cast<std::size_t>(files.rlim_cur / 2));
            if (config.max_connections > allowed) {
                spdlog::warn("--max-connections {} lowered to {}: the open files limit is {} (raise it with "
                             "ulimit -n or LimitNOFILE=)",
                             config.max_connections, allowed, static_cast<unsigned long long>(files.rlim_cur));
                config.max_connections = allowed;
            }
        }

        asio::io_context io(1);
        LobbyServer server(io, config);
        gamestore::server::PlatformServices services{server, *store, server.config()};
        gamestore::server::register_account_ops(services);
        gamestore::server::register_catalog_ops(services);
        gamestore::server::register_developer_ops(services);

        gamestore::server::ChildReaper reaper(io);
        gamestore::server::ReportEndpointConfig report_config;
        report_config.listen = config.report_listen;
        report_config.max_line_bytes = config.max_line_bytes;
        report_config.idle_timeout = std::chrono::milliseconds(static_cast<long>(report_idle_timeout_sec * 1000));
        report_config.abuse.rate_per_sec = report_rate;
        report_config.abuse.burst = std::max(10.0, report_rate * 2.5);
        std::unique_ptr<gamestore::server::RoomService> rooms;
        gamestore::server::ReportEndpoint reports(io, report_config, [&rooms](const gamestore::protocol::Report& report) {
            return rooms->handle_report(report);
        });
        reports.listen();
        rooms = std::make_unique<gamestore::server::RoomService>(services, reaper, tuning,
                                                                 reports.local_endpoint().port());
        gamestore::server::register_room_ops(services, *rooms);
        rooms->reconcile_after_restart();
        server.add_session_closed_observer([&rooms](gamestore::server::LobbySession& s) { rooms->on_session_closed(s); });
        server.add_signed_in_observer([&rooms](gamestore::server::LobbySession& s) { rooms->on_session_signed_in(s); });

        // Installed before anything can see us (ports, ready file): a
        // SIGTERM that arrives right after the ready file is a clean stop,
        // never the default action.
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int signo) {
            if (ec) {
                return;
            }
            spdlog::info("gamestore-server: signal {} received: ending matches, closing connections", signo);
            // Matches first (their players still get match.ended), then the
            // lobby, then the control plane.
            rooms->shutdown([&] {
                server.stop([&] {
                    reports.stop();
                    reaper.reap();
                    io.stop();
                });
            });
        });
        server.listen();
        server.start();
        reports.start();
        rooms->start_watchdog();

        const auto lobby = server.lobby_endpoint();
        gamestore::net::HostPort lobby_hp{lobby.address().to_string(), lobby.port()};
        const auto report_ep = reports.local_endpoint();
        gamestore::net::HostPort report_hp{report_ep.address().to_string(), report_ep.port()};
        spdlog::info("gamestore-server listening: lobby {}, control plane {} (data dir {})", lobby_hp.to_string(),
                     report_hp.to_string(), std::filesystem::absolute(config.data_dir).string());
        if (!config.ready_file.empty()) {
            write_ready_file(config.ready_file, {{"lobby", lobby_hp.to_string()},
                                                 {"report", report_hp.to_string()},
                                                 {"pid", ::getpid()}});
        }

        io.run();
        spdlog::info("gamestore-server: stopped");
        return 0;
    } catch (const std::exception& e) {
        spdlog::critical("gamestore-server: {}", e.what());
        return 1;
    }
}
