#include "platform/server/server_app.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "platform/asio/asio.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/server/admin.hpp"
#include "platform/server/child_reaper.hpp"
#include "platform/server/cluster_service.hpp"
#include "platform/server/http_endpoint.hpp"
#include "platform/server/lobby_server.hpp"
#include "platform/server/lobby_session.hpp"
#include "platform/server/local_match_host.hpp"
#include "platform/server/operations.hpp"
#include "platform/server/package_ingest.hpp"
#include "platform/server/platform_services.hpp"
#include "platform/server/report_endpoint.hpp"
#include "platform/server/seed_games.hpp"
#include "platform/server/service_notify.hpp"
#include "platform/store/open_store.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// Written atomically (temp + rename) so a test never reads half a file.
void write_ready_file(const fs::path& path, const nlohmann::json& content) {
    const auto temp = path.string() + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(temp, std::ios::trunc);
        out << content.dump() << "\n";
        if (!out) {
            throw std::runtime_error("cannot write the ready file " + path.string());
        }
    }
    fs::rename(temp, path);
}

std::string database_password(const ServerConfig& config) {
    if (config.database_password_file.empty()) {
        return {};
    }
    auto read = store::read_password_file(config.database_password_file);
    if (const auto* problem = std::get_if<store::StoreError>(&read))
        throw std::runtime_error(problem->message);
    return std::move(std::get<std::string>(read));
}

// The store, after the sweeps a crash may have made necessary, with the
// reference games published on a first start.
std::unique_ptr<store::SqlStore> open_store(const ServerConfig& config, const std::string& password,
                                            ServerMetrics& metrics) {
    fs::create_directories(config.data_dir);
    sweep_upload_leftovers(config.data_dir);

    auto parsed = store::parse_database(config.database, config.data_dir / "gamestore.db");
    if (const auto* problem = std::get_if<std::string>(&parsed))
        throw std::runtime_error(*problem);
    const auto& location = std::get<store::DatabaseLocation>(parsed);

    store::SqlStore::Options options;
    if (config.fast_password_hash) {
        options.hasher = store::PasswordHasher::fast_for_tests();
    }
    options.session_idle_timeout_ms = config.session_idle_timeout.count();
    options.on_operation = [&metrics](bool write, std::chrono::duration<double> took) {
        (write ? metrics.store_writes : metrics.store_reads).observe(took.count());
    };
    auto opened = store::open_store(location, options, password);
    if (!opened) {
        throw std::runtime_error(opened.error().message);
    }
    auto store = std::move(opened).value();
    spdlog::info("store: {} database {}", store->backend_name(), store::describe(location));
    sweep_unreferenced_packages(*store, config.data_dir);
    store_local_packages(*store, config.data_dir);
    if (!config.seed_games_dir.empty()) {
        const int seeded =
            seed_games(*store, config.data_dir, config.seed_games_dir, config.zip_limits);
        if (seeded > 0) {
            spdlog::info("seed: {} game version(s) published from {}", seeded,
                         config.seed_games_dir.string());
        }
    }
    return store;
}

// Lobby connections may use at most half the open files limit: the rest is
// for the control plane, the database, logs and spawning.
ServerConfig within_process_limits(ServerConfig config) {
    if (rlimit files{};
        ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
        const auto allowed =
            std::max<std::size_t>(16, static_cast<std::size_t>(files.rlim_cur / 2));
        if (config.max_connections > allowed) {
            spdlog::warn(
                "--max-connections {} lowered to {}: the open files limit is {} (raise it with "
                "ulimit -n or LimitNOFILE=)",
                config.max_connections, allowed, static_cast<unsigned long long>(files.rlim_cur));
            config.max_connections = allowed;
        }
    }
    return config;
}

ReportEndpointConfig report_endpoint_config(const ServerConfig& config) {
    ReportEndpointConfig report;
    report.listen = config.report_listen;
    report.max_line_bytes = config.max_line_bytes;
    report.idle_timeout = config.report_idle_timeout;
    report.batch_interval = config.report_batch_interval;
    report.abuse.rate_per_sec = config.report_rate_per_sec;
    report.abuse.burst = std::max(10.0, config.report_rate_per_sec * 2.5);
    return report;
}

net::HostPort host_port(const asio::ip::tcp::endpoint& endpoint) {
    return {endpoint.address().to_string(), endpoint.port()};
}

HttpEndpointConfig http_endpoint_config(const ServerConfig& config) {
    HttpEndpointConfig http;
    http.listen = config.http_listen;
    http.max_connections = config.max_connections;
    http.request_deadline = config.auth_deadline;
    http.max_body_bytes = config.max_line_bytes;
    return http;
}

}  // namespace

// Declaration order is construction order; destruction runs backwards, so
// nothing outlives what it points to (the report handler reaches the rooms,
// the rooms reach the lobby and the store).
struct ServerApp::Parts {
    std::unique_ptr<ServerMetrics> metrics;
    launch::Sandbox sandbox;
    std::unique_ptr<store::SqlStore> store;
    asio::io_context io{1};
    LobbyServer lobby;
    CatalogCache catalog;
    PackageCache packages;
    PlatformServices services;
    ChildReaper reaper;
    std::unique_ptr<MatchHost> match_host;
    std::unique_ptr<RoomService> rooms;
    std::unique_ptr<ClusterService> cluster;  // on a cluster node only
    ReportEndpoint reports;
    HttpEndpoint http;
    AdminConsole admin;
    std::optional<asio::signal_set> signals;
    std::atomic<bool> stopping{false};

    Parts(const ServerConfig& config, std::unique_ptr<ServerMetrics> measured,
          launch::Sandbox checked, std::unique_ptr<store::SqlStore> opened)
        : metrics(std::move(measured)),
          sandbox(std::move(checked)),
          store(std::move(opened)),
          lobby(io, config),
          catalog(*store, lobby.blocking_pool(), config.catalog_cache),
          packages(*store, config.data_dir, config.zip_limits),
          services{lobby, *store, lobby.config(), sandbox, *metrics, catalog, packages},
          reaper(io),
          reports(io, report_endpoint_config(config),
                  [this](const protocol::Report& report) { return rooms->handle_report(report); }),
          http(io, http_endpoint_config(config),
               [this](const HttpRequest& request) { return serve_http(request); }),
          admin(lobby.config()) {
        reports.set_idle_allowance([this](const protocol::Report& report) {
            return rooms->report_idle_allowance(report);
        });
    }

    OperationsView operations() {
        return {lobby,   *rooms, reports, http,     *metrics,
                sandbox, *store, catalog, stopping, cluster.get()};
    }

    asio::awaitable<HttpResponse> serve_http(const HttpRequest& request) {
        ++metrics->http_requests;
        // Named, not temporaries of the co_await (GCC 12: docs/ARCHITECTURE.md).
        const OperationsView view = operations();
        if (auto answer = co_await admin.handle(view, request)) {
            co_return std::move(*answer);
        }
        if (request.method != "GET") {
            auto refused = plain_response(405, "only GET is served here\n");
            refused.headers.emplace_back("Allow", "GET");
            co_return refused;
        }
        if (auto answer = co_await handle_operations_request(view, request)) {
            co_return std::move(*answer);
        }
        co_return plain_response(404, "no such page; see /metrics, /livez, /readyz, /admin\n");
    }

    // Matches first (their players still get match.ended), then the lobby,
    // then the control plane; the last reap collects what exited meanwhile.
    void shut_down() {
        if (stopping.exchange(true)) {
            return;
        }
        notify_service_manager("STOPPING=1\nSTATUS=ending matches, closing connections");
        if (signals) {
            signals->cancel();
        }
        rooms->shutdown([this] {
            if (cluster) {
                cluster->leave();
            }
            lobby.stop([this] {
                reports.stop();
                http.stop();
                reaper.reap();
                io.stop();
            });
        });
    }
};

ServerApp::ServerApp(ServerConfig config, RoomTuning tuning, StopSignals stop_signals) {
    // Absolute from here on: game processes run with other working dirs.
    config.data_dir = fs::absolute(config.data_dir).lexically_normal();
    // Before anything else: a server that cannot confine its games refuses
    // to start (the exception says how to fix it).
    launch::Sandbox sandbox(config.sandbox);
    if (sandbox.mode() == launch::SandboxMode::None) {
        spdlog::warn(
            "--sandbox none: game servers run unconfined, as this account, with its view of the "
            "machine; use it only for games you trust (docs/SECURITY.md)");
    } else {
        const auto& limits = config.sandbox.limits;
        spdlog::info(
            "sandbox: bwrap; per game server: {} open files, {} MiB files, {} MiB address space, "
            "{} "
            "processes, {} s CPU, {} MiB writable, nice +{} (0 = unlimited)",
            limits.open_files, limits.file_size_bytes >> 20, limits.address_space_bytes >> 20,
            limits.processes, limits.cpu_seconds, limits.writable_bytes >> 20, limits.nice);
    }
    auto metrics = std::make_unique<ServerMetrics>();
    // Read once: the store and, on a cluster node, the link use it.
    const std::string db_password = database_password(config);
    auto store = open_store(config, db_password, *metrics);

    // Escaped grandchildren of game servers are reparented to us, so their
    // match's stop can still find and kill them.
    if (!launch::become_child_subreaper()) {
        spdlog::warn(
            "could not become a child subreaper; escaped game processes may outlive their match");
    }
    std::signal(SIGPIPE, SIG_IGN);

    parts_ = std::make_unique<Parts>(within_process_limits(std::move(config)), std::move(metrics),
                                     std::move(sandbox), std::move(store));
    auto& p = *parts_;
    register_account_ops(p.services);
    register_catalog_ops(p.services);
    register_developer_ops(p.services);

    p.reports.listen();
    const LocalHostTuning host_tuning{tuning.stop_grace, tuning.end_grace, tuning.kill_wait,
                                      tuning.match_log_cap_bytes};
    p.match_host = std::make_unique<LocalMatchHost>(p.services, p.reaper, host_tuning,
                                                    p.reports.local_endpoint().port());
    p.rooms = std::make_unique<RoomService>(p.services, *p.match_host, tuning);
    register_room_ops(p.services, *p.rooms);
    p.rooms->reconcile_after_restart();
    p.catalog.load();
    p.lobby.add_session_closed_observer([&p](LobbySession& s) { p.rooms->on_session_closed(s); });
    p.lobby.add_signed_in_observer([&p](LobbySession& s) { p.rooms->on_session_signed_in(s); });
    p.lobby.add_signed_out_observer(
        [&p](const SignedIn& who) { p.rooms->on_session_signed_out(who); });

    // Installed before anything can see us (ports, ready file): a SIGTERM
    // that arrives right after the ready file is a clean stop, never the
    // default action.
    if (stop_signals == StopSignals::handled) {
        p.signals.emplace(p.io, SIGINT, SIGTERM);
        p.signals->async_wait([&p](const boost::system::error_code& ec, int signo) {
            if (ec) {
                return;
            }
            spdlog::info(
                "gamestore-server: signal {} received: ending matches, closing connections", signo);
            p.shut_down();
        });
    }
    p.lobby.listen();
    p.http.listen();
    if (!p.services.config.node_id.empty()) {
        // Before serving: a node that cannot join must not take clients.
        const auto& settings = p.services.config;
        auto parsed = store::parse_database(settings.database, settings.data_dir / "gamestore.db");
        const auto* location = std::get_if<store::DatabaseLocation>(&parsed);
        const auto* postgres = location ? std::get_if<store::PostgresLocation>(location) : nullptr;
        if (!postgres) {
            throw std::runtime_error(
                "--node-id needs a PostgreSQL --database the nodes share (docs/SCALING.md)");
        }
        ClusterLinkOptions link;
        link.node_id = settings.node_id;
        link.lobby_address =
            settings.advertise_lobby.empty()
                ? net::HostPort{settings.advertise_host.empty() ? "127.0.0.1"
                                                                : settings.advertise_host,
                                p.lobby.lobby_endpoint().port()}
                      .to_string()
                : settings.advertise_lobby;
        link.conninfo = postgres->uri;
        link.password = db_password;
        p.cluster = std::make_unique<ClusterService>(p.lobby, *p.rooms, p.catalog, *p.store,
                                                     settings, std::move(link));
        p.services.cluster = p.cluster.get();
        p.cluster->join();
        p.rooms->set_room_ids([cluster = p.cluster.get()] { return cluster->next_room_id(); });
    }
}

ServerApp::~ServerApp() = default;

net::HostPort ServerApp::lobby_address() const {
    return host_port(parts_->lobby.lobby_endpoint());
}

net::HostPort ServerApp::report_address() const {
    return host_port(parts_->reports.local_endpoint());
}

net::HostPort ServerApp::http_address() const {
    return host_port(parts_->http.local_endpoint());
}

void ServerApp::run() {
    auto& p = *parts_;
    p.lobby.start();
    p.reports.start();
    p.http.start();
    p.rooms->start_watchdog();

    const auto& config = p.lobby.config();
    spdlog::info("gamestore-server listening: lobby {}, control plane {}, http {} (data dir {})",
                 lobby_address().to_string(), report_address().to_string(),
                 http_address().to_string(), config.data_dir.string());
    if (!config.ready_file.empty()) {
        write_ready_file(config.ready_file, {{"lobby", lobby_address().to_string()},
                                             {"report", report_address().to_string()},
                                             {"http", http_address().to_string()},
                                             {"pid", ::getpid()}});
    }
    // After every listener accepts: a unit ordered after this one may
    // connect at once.
    notify_service_manager(fmt::format("READY=1\nMAINPID={}\nSTATUS=lobby {}, http {}", ::getpid(),
                                       lobby_address().to_string(), http_address().to_string()));
    p.io.run();
    spdlog::info("gamestore-server: stopped");
}

void ServerApp::stop() {
    auto& p = *parts_;
    asio::post(p.io, [&p] { p.shut_down(); });
}

}  // namespace gamestore::server
