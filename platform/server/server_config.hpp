#pragma once
// Everything an admin can set on gamestore-server (docs/SERVER.md), except the
// match timings of RoomTuning. Flags, GAMESTORE_* environment variables and
// the --config TOML file all land here; platform/server/main.cpp maps them.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "platform/launch/sandbox.hpp"
#include "platform/net/channel.hpp"
#include "platform/packages/zip.hpp"

namespace gamestore::server {

struct ServerConfig {
    net::HostPort listen{"0.0.0.0", 16534};
    net::HostPort report_listen{"127.0.0.1", 16535};
    // Metrics, health and the admin dashboard (docs/OPERATIONS.md).
    net::HostPort http_listen{"127.0.0.1", 16536};
    // The /admin token; empty: the one in DATA/admin_token, created (0600)
    // on the first start.
    std::string admin_token;
    std::string advertise_host;  // empty: the local address of each player's own connection
    std::string bind_host = "0.0.0.0";
    std::filesystem::path data_dir = "var";
    // --database: a path, sqlite:PATH or postgresql://... (store/open_store.hpp);
    // empty: DATA/gamestore.db.
    std::string database;
    // The PostgreSQL password, read from this file (0600) rather than argv.
    std::filesystem::path database_password_file;
    // Set: this server is a node of a cluster on the PostgreSQL database
    // (docs/SCALING.md), with this id, unique in the installation.
    std::string node_id;
    // host:port other nodes send clients to; empty: the advertised host (or
    // 127.0.0.1) and the lobby's port.
    std::string advertise_lobby;
    // Where a cluster node puts new rooms: false sends them to the node with
    // the least load (--room-placement least-loaded), true keeps them on the
    // node the player reached (--room-placement local).
    bool pin_rooms_locally = false;
    // How long a cluster node may stay dead before another node closes its
    // open match records as ABORTED (--dead-node-matches-after).
    std::chrono::milliseconds dead_node_matches_after{600'000};
    std::uint16_t game_port_first = 17000;
    std::uint16_t game_port_last = 17999;
    std::filesystem::path seed_games_dir;
    std::filesystem::path ready_file;

    std::size_t max_line_bytes = 64 * 1024;
    std::chrono::milliseconds auth_deadline{10'000};
    // Signed-in lobby connections that stay silent this long are closed
    // (before sign-in the auth deadline applies).
    std::chrono::milliseconds idle_timeout{30 * 60 * 1000};
    // Control-plane connections that stay silent this long are closed.
    std::chrono::milliseconds report_idle_timeout{60'000};
    // Open control-plane connections are read this often, all at once
    // (ReportEndpointConfig::batch_interval); zero: as each report arrives.
    std::chrono::milliseconds report_batch_interval{0};
    // Control-plane messages per second allowed per connection (a token
    // bucket with a burst of 2.5 s worth, at least 10).
    double report_rate_per_sec = 20.0;
    int blocking_threads = 2;
    // Password hashing (argon2id on register and login) has its own pool, so
    // a flood of sign-ups cannot queue launches and SQLite writes behind it.
    int auth_threads = 1;
    // Sign-ups and logins waiting for or running their password hash at
    // most; one more is answered UNAVAILABLE at once (the client retries)
    // instead of queueing behind minutes of hashing. Each connection has at
    // most one request in flight, so the queue serves connections in turn.
    // 16 keeps the last one's wait (16 hashes of 0.1-0.5 s on a busy
    // 2-core machine) well inside a client's 30 s timeout.
    std::size_t max_auth_queue = 16;
    // Open lobby connections (signed in or not) at most; one more is told
    // UNAVAILABLE and closed. gamestore-server lowers it to half the open
    // files limit when that is smaller, so accept() never runs out of fds.
    std::size_t max_connections = 4096;
    // store.list and store.show from the catalogue kept in memory
    // (platform/server/catalog_cache.hpp); off reads the database each time.
    bool catalog_cache = true;

    // argon2id at libsodium's INTERACTIVE cost unless a test asks for speed.
    bool fast_password_hash = false;
    std::chrono::milliseconds session_idle_timeout{7LL * 24 * 60 * 60 * 1000};
    packages::ZipLimits zip_limits;
    // How game servers are confined (docs/SECURITY.md).
    launch::SandboxSettings sandbox;
};

}  // namespace gamestore::server
