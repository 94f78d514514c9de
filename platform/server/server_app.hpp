#pragma once
// The whole platform server in one object: opens the store, binds the lobby
// and control-plane listeners, wires the op handlers, rooms and matches
// together, and owns the shutdown order. gamestore-server's main only turns
// flags into a ServerConfig; tests run a ServerApp in-process the same way.

#include <memory>

#include "platform/net/channel.hpp"
#include "platform/server/room_service.hpp"
#include "platform/server/server_config.hpp"

namespace gamestore::server {

class ServerApp {
  public:
    // Whether SIGINT/SIGTERM stop this server (the program) or only stop()
    // does (a test that runs the server inside its own process).
    enum class StopSignals { handled, ignored };

    // Prepares the data dir (leftover sweeps, schema migrations, seeding),
    // reconciles matches a crashed predecessor left open, and binds both
    // listeners, so the addresses are known before run(). Throws
    // std::runtime_error with a sentence when any of it fails.
    ServerApp(ServerConfig config, RoomTuning tuning, StopSignals signals = StopSignals::handled);
    ~ServerApp();
    ServerApp(const ServerApp&) = delete;
    ServerApp& operator=(const ServerApp&) = delete;

    // The bound addresses (with port 0 in the config, the real ports).
    net::HostPort lobby_address() const;
    net::HostPort report_address() const;
    net::HostPort http_address() const;

    // Starts accepting, writes the ready file when configured, and runs the
    // I/O thread until a stop has ended every match and closed every
    // connection. Returns normally after a stop; throws what the I/O
    // thread could not handle.
    void run();

    // Safe from any thread and more than once: ends running matches (their
    // players are told), closes the lobby, then the control plane, then
    // reaps what is left, and run() returns.
    void stop();

  private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
};

}  // namespace gamestore::server
