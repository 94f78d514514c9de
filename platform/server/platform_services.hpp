#pragma once
// What the op handlers share: the lobby (sessions, op table, blocking pool),
// the store and the configuration. Owned by gamestore-server's main.

#include "platform/launch/sandbox.hpp"
#include "platform/server/catalog_cache.hpp"
#include "platform/server/lobby_server.hpp"
#include "platform/server/package_cache.hpp"
#include "platform/server/server_config.hpp"
#include "platform/server/server_metrics.hpp"
#include "platform/store/store.hpp"

namespace gamestore::server {

class ClusterService;
class RoomService;

struct PlatformServices {
    LobbyServer& lobby;
    store::Store& store;
    const ServerConfig& config;
    const launch::Sandbox& sandbox;  // every game server runs in it
    ServerMetrics& metrics;
    CatalogCache& catalog;
    PackageCache& packages;  // the local copies of package bytes
    // Set on a cluster node (docs/SCALING.md); null on a single server.
    ClusterService* cluster = nullptr;
};

void register_account_ops(PlatformServices& services);
void register_catalog_ops(PlatformServices& services);
void register_developer_ops(PlatformServices& services);
// The rooms' state and its operations stay in `rooms`; these ops parse and answer.
void register_room_ops(PlatformServices& services, RoomService& rooms);

}  // namespace gamestore::server
