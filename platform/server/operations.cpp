#include "platform/server/operations.hpp"

#include <chrono>

#include <nlohmann/json.hpp>

#include "platform/protocol/report_rules.hpp"
#include "platform/server/blocking.hpp"
#include "platform/server/lobby_server.hpp"
#include "platform/server/lobby_session.hpp"
#include "platform/server/report_endpoint.hpp"
#include "platform/server/room_service.hpp"
#include "platform/store/sql_store.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

double seconds_since_epoch(std::chrono::system_clock::time_point at) {
    return std::chrono::duration<double>(at.time_since_epoch()).count();
}

HttpResponse json_response(int status, const json& body) {
    return json_text_response(status,
                              body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

void counter(Exposition& out, std::string_view name, std::string_view help, double value) {
    out.family(name, MetricType::Counter, help);
    out.sample(value);
}

void gauge(Exposition& out, std::string_view name, std::string_view help, double value) {
    out.family(name, MetricType::Gauge, help);
    out.sample(value);
}

void histogram(Exposition& out, std::string_view name, std::string_view help,
               const Histogram& source) {
    out.family(name, MetricType::Histogram, help);
    out.histogram(source.snapshot());
}

}  // namespace

std::string render_metrics(const OperationsView& view) {
    Exposition out;
    const auto sandbox_mode = std::string(launch::sandbox_mode_name(view.sandbox.mode()));
    out.family("gamestore_build_info", MetricType::Gauge,
               "Always 1; the labels say which build runs and how it confines games.");
    out.sample(1, {{"version", GAMESTORE_VERSION}, {"sandbox", sandbox_mode}});
    gauge(out, "gamestore_start_time_seconds", "When the server started, in Unix seconds.",
          seconds_since_epoch(view.metrics.started_at));

    std::size_t signed_in = 0;
    view.lobby.for_each_session([&signed_in](LobbySession& session) {
        if (session.signed_in()) {
            ++signed_in;
        }
    });
    gauge(out, "gamestore_lobby_connections", "Open lobby connections, signed in or not.",
          static_cast<double>(view.lobby.session_count()));
    gauge(out, "gamestore_lobby_sessions", "Signed-in lobby connections (players and developers).",
          static_cast<double>(signed_in));
    counter(out, "gamestore_lobby_connections_refused_total",
            "Lobby connections turned away at --max-connections.",
            static_cast<double>(view.lobby.turned_away()));
    gauge(out, "gamestore_http_connections", "Open connections on the HTTP port.",
          static_cast<double>(view.http.open_connections()));
    counter(out, "gamestore_http_requests_total", "Requests answered on the HTTP port.",
            static_cast<double>(view.metrics.http_requests.load()));

    out.family("gamestore_rooms", MetricType::Gauge, "Rooms by state.");
    const auto by_state = view.rooms.rooms_by_state();
    for (std::size_t i = 0; i < by_state.size(); ++i) {
        out.sample(static_cast<double>(by_state[i]),
                   {{"state", std::string(to_string(static_cast<RoomState>(i)))}});
    }

    const auto& counters = view.rooms.counters();
    counter(out, "gamestore_match_launches_total", "Matches started by a host (room.start).",
            static_cast<double>(counters.launched));
    counter(out, "gamestore_match_in_game_total",
            "Matches whose game server reported STARTED (IN_GAME).",
            static_cast<double>(counters.started));
    out.family("gamestore_matches_ended_total", MetricType::Counter,
               "Matches that ended, by terminal status.");
    for (std::size_t i = 1; i < ServerMetrics::kMatchStatusCount; ++i) {
        out.sample(static_cast<double>(view.metrics.matches_ended[i].load()),
                   {{"status", std::string(store::to_string(static_cast<store::MatchStatus>(i)))}});
    }
    histogram(out, "gamestore_match_launch_duration_seconds",
              "From room.start to IN_GAME (the game server's STARTED).",
              view.metrics.launch_latency);
    histogram(out, "gamestore_heartbeat_lateness_seconds",
              "How much later than the manifest's interval each heartbeat came.",
              view.metrics.heartbeat_lateness);
    counter(out, "gamestore_sandbox_failures_total", "Game servers the sandbox could not start.",
            static_cast<double>(counters.sandbox_failures));
    out.family("gamestore_healthchecks_total", MetricType::Counter,
               "Diagnostic TCP healthchecks of game servers, by result.");
    out.sample(static_cast<double>(counters.healthchecks_passed), {{"result", "passed"}});
    out.sample(static_cast<double>(counters.healthchecks_failed), {{"result", "failed"}});
    out.sample(static_cast<double>(counters.healthchecks_abandoned), {{"result", "abandoned"}});
    gauge(out, "gamestore_game_ports_in_use", "Game server ports handed out.",
          static_cast<double>(view.rooms.ports_in_use()));
    gauge(out, "gamestore_match_cleanups", "Ended matches whose processes are still being stopped.",
          static_cast<double>(view.rooms.cleanups_in_flight()));

    out.family("gamestore_report_refusals_total", MetricType::Counter,
               "Control-plane reports refused, by reason.");
    for (const auto reason : protocol::kReportRefusals) {
        out.sample(static_cast<double>(counters.refusals(reason)),
                   {{"reason", std::string(protocol::to_string(reason))}});
    }
    const auto& reports = view.reports.stats();
    counter(out, "gamestore_report_connections_total", "Control-plane connections accepted.",
            static_cast<double>(reports.connections));
    counter(out, "gamestore_report_lines_total", "Control-plane lines received.",
            static_cast<double>(reports.lines));
    counter(out, "gamestore_report_rate_limited_total",
            "Control-plane lines dropped by the per-connection rate limit.",
            static_cast<double>(reports.rate_dropped));
    counter(out, "gamestore_report_abuse_disconnects_total",
            "Control-plane connections closed for sustained abuse.",
            static_cast<double>(reports.disconnected_for_abuse));
    out.family("gamestore_report_malformed_total", MetricType::Counter,
               "Control-plane lines that were not a report, by problem.");
    out.sample(static_cast<double>(reports.oversized), {{"problem", "oversized"}});
    out.sample(static_cast<double>(reports.malformed), {{"problem", "bad_json"}});
    out.sample(static_cast<double>(reports.unknown_status), {{"problem", "unknown_status"}});

    counter(out, "gamestore_publishes_total", "Package versions published.",
            static_cast<double>(view.metrics.publishes.load()));
    counter(out, "gamestore_published_bytes_total", "Bytes of published packages.",
            static_cast<double>(view.metrics.published_bytes.load()));
    counter(out, "gamestore_downloads_total", "Package downloads served (store.download).",
            static_cast<double>(view.metrics.downloads.load()));
    counter(out, "gamestore_downloaded_bytes_total", "Package bytes sent by store.download.",
            static_cast<double>(view.metrics.downloaded_bytes.load()));

    out.family("gamestore_store_operation_duration_seconds", MetricType::Histogram,
               "Database operations, lock and connection waits included, by kind.");
    out.histogram(view.metrics.store_reads.snapshot(), {{"kind", "read"}});
    out.histogram(view.metrics.store_writes.snapshot(), {{"kind", "write"}});
    gauge(out, "gamestore_blocking_jobs",
          "Jobs queued or running on the blocking and password-hashing pools.",
          static_cast<double>(blocking_jobs_in_flight().load()));
    gauge(out, "gamestore_auth_jobs", "Sign-ups and logins waiting for password hashing.",
          static_cast<double>(view.lobby.auth_in_flight()));
    return out.text();
}

asio::awaitable<std::optional<HttpResponse>> handle_operations_request(const OperationsView& view,
                                                                       const HttpRequest& request) {
    if (request.path == "/metrics") {
        HttpResponse response;
        response.content_type = "text/plain; version=0.0.4; charset=utf-8";
        response.body = render_metrics(view);
        co_return response;
    }
    if (request.path == "/livez") {
        // Answered at all means the I/O thread runs.
        co_return json_response(
            200, {{"live", true},
                  {"uptime_seconds", std::chrono::duration<double>(
                                         std::chrono::system_clock::now() - view.metrics.started_at)
                                         .count()}});
    }
    if (request.path == "/readyz") {
        auto& store = view.store;
        const auto written = co_await run_blocking(view.lobby.blocking_pool(),
                                                   [&store] { return store.check_writable(); });
        const bool database = static_cast<bool>(written);
        const bool listeners =
            view.lobby.listening() && view.http.listening() && view.reports.listening();
        const bool stopping = view.stopping.load();
        const bool ready = database && listeners && !stopping;
        json checks = {
            {"database", {{"ok", database}}},
            {"listeners", {{"ok", listeners}}},
            // A server whose sandbox failed its probe does not start at all.
            {"sandbox", {{"ok", true}, {"mode", launch::sandbox_mode_name(view.sandbox.mode())}}},
            {"shutting_down", stopping},
        };
        if (!database) {
            checks["database"]["error"] = written.error().message;
        }
        co_return json_response(ready ? 200 : 503, {{"ready", ready}, {"checks", checks}});
    }
    co_return std::nullopt;
}

}  // namespace gamestore::server
