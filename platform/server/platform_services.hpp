#pragma once
// What the op handlers share: the lobby (sessions, op table, blocking pool),
// the store and the configuration. Owned by gamestore-server's main.

#include "platform/server/lobby_server.hpp"
#include "platform/server/server_config.hpp"
#include "platform/store/store.hpp"

namespace gamestore::server {

struct PlatformServices {
    LobbyServer& lobby;
    store::Store& store;
    const ServerConfig& config;
};

void register_account_ops(PlatformServices& services);
void register_catalog_ops(PlatformServices& services);
void register_developer_ops(PlatformServices& services);

}  // namespace gamestore::server
