// gamestore-server: the platform server (DESIGN.md 8). Every flag also reads a
// GAMESTORE_* environment variable and a key of the same name in --config.

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "platform/asio/asio.hpp"
#include "platform/server/lobby_server.hpp"
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
    app.add_option("--blocking-threads", config.blocking_threads, "threads for database, hashing and zip work")
        ->envname("GAMESTORE_BLOCKING_THREADS")->capture_default_str()->check(CLI::Range(1, 64));

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
        config.data_dir = data_dir;
        config.ready_file = ready_file;
        config.seed_games_dir = seed_games;
        config.auth_deadline = std::chrono::milliseconds(static_cast<long>(auth_deadline_sec * 1000));
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

        asio::io_context io(1);
        LobbyServer server(io, config);
        gamestore::server::PlatformServices services{server, *store, server.config()};
        gamestore::server::register_account_ops(services);
        gamestore::server::register_catalog_ops(services);
        gamestore::server::register_developer_ops(services);
        server.listen();
        server.start();

        const auto lobby = server.lobby_endpoint();
        gamestore::net::HostPort lobby_hp{lobby.address().to_string(), lobby.port()};
        spdlog::info("gamestore-server listening: lobby {} (data dir {})", lobby_hp.to_string(),
                     std::filesystem::absolute(config.data_dir).string());
        if (!config.ready_file.empty()) {
            write_ready_file(config.ready_file, {{"lobby", lobby_hp.to_string()},
                                                 {"report", config.report_listen.to_string()},
                                                 {"pid", ::getpid()}});
        }

        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int signo) {
            if (ec) {
                return;
            }
            spdlog::info("gamestore-server: signal {} received, shutting down", signo);
            server.stop([&io] { io.stop(); });
        });
        std::signal(SIGPIPE, SIG_IGN);
        io.run();
        spdlog::info("gamestore-server: stopped");
        return 0;
    } catch (const std::exception& e) {
        spdlog::critical("gamestore-server: {}", e.what());
        return 1;
    }
}
