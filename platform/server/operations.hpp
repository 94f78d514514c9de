#pragma once
// What the HTTP port serves for operators (docs/OPERATIONS.md): GET /metrics
// (Prometheus text), GET /livez and GET /readyz (JSON). Everything is read
// on the I/O thread, where the rooms and sessions live; the database check
// of /readyz runs on the blocking pool.

#include <atomic>
#include <string>

#include "platform/launch/sandbox.hpp"
#include "platform/server/http_endpoint.hpp"
#include "platform/server/server_metrics.hpp"

namespace gamestore::store {
class SqlStore;
}

namespace gamestore::server {

class LobbyServer;
class ClusterService;
class RoomService;
class CatalogCache;
class ReportEndpoint;

struct OperationsView {
    LobbyServer& lobby;
    RoomService& rooms;
    ReportEndpoint& reports;
    HttpEndpoint& http;
    ServerMetrics& metrics;
    const launch::Sandbox& sandbox;
    store::SqlStore& store;
    CatalogCache& catalog;
    const std::atomic<bool>& stopping;
    ClusterService* cluster = nullptr;  // on a cluster node (docs/SCALING.md)
};

// The exposition of every metric (I/O thread).
std::string render_metrics(const OperationsView& view);

// Answers /metrics, /livez and /readyz; nullopt for any other path.
boost::asio::awaitable<std::optional<HttpResponse>> handle_operations_request(
    const OperationsView& view, const HttpRequest& request);

}  // namespace gamestore::server
