#pragma once
// A whole platform for match tests: the real server on loopback with its own
// game-port range, a developer who publishes fakegame packages, and players
// that follow their room through pushed events (never by sleeping).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/client/sync_client.hpp"
#include "platform/protocol/lobby_mirror.hpp"
#include "tests/support/server_fixture.hpp"

namespace gamestore::testing {

// A game-port range no other concurrently running test server uses.
std::vector<std::string> unique_game_ports_args();

// Zips a package directory into `out_dir` and returns the zip.
std::filesystem::path zip_package_dir(const std::filesystem::path& dir, const std::filesystem::path& out_dir);

class TestPlayer {
public:
    TestPlayer(const ServerFixture& server, const std::string& name);

    // Both follow a cluster node's MOVED answer as a client should: connect
    // to the node named, resume the session there (auth.resume), take a
    // fresh lobby snapshot and repeat the request; at most twice.
    protocol::Response call(const std::string& op, nlohmann::json args = nlohmann::json::object());
    nlohmann::json require(const std::string& op, nlohmann::json args = nlohmann::json::object());
    // One request on the current connection, a MOVED answer returned as is.
    protocol::Response call_here(const std::string& op,
                                 nlohmann::json args = nlohmann::json::object());
    // host:port of the node this player is connected to now.
    const std::string& address() const { return address_; }
    std::size_t redirects_followed() const { return redirects_; }
    const std::string& token() const { return token_; }

    // Consumes events until a room.updated snapshot satisfies `accept`;
    // returns it, or nullopt at the deadline. Every event is kept in events().
    std::optional<nlohmann::json> wait_room(const std::function<bool(const nlohmann::json&)>& accept,
                                            std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // Consumes events until one called `name` satisfies `accept`.
    std::optional<nlohmann::json> wait_for(const std::string& name,
                                           const std::function<bool(const nlohmann::json&)>& accept,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // A room of `game` in this player's copy of the lobby (with every member
    // ready when `all_ready`), waiting for lobby deltas until there is one.
    std::optional<nlohmann::json> wait_lobby_room(const std::string& game, bool all_ready,
                                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));
    std::optional<nlohmann::json> wait_event(const std::string& name,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // Consumes events until this player's copy of the lobby satisfies `accept`.
    bool wait_lobby(const std::function<bool(const protocol::LobbyMirror&)>& accept,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // The lobby as this player's deltas built it (a snapshot after sign-in,
    // and again after any gap in the sequence numbers).
    const protocol::LobbyMirror& lobby() const { return lobby_; }
    // Asks for a snapshot and rebuilds lobby() from it.
    void resync_lobby();
    // Takes an event read from client() directly: kept in events(), and a
    // lobby delta is applied to lobby().
    void observe(const protocol::Event& event);
    std::size_t deltas_seen() const { return deltas_seen_; }
    std::size_t gaps_seen() const { return gaps_seen_; }
    const std::vector<protocol::Event>& events() const { return events_; }
    const std::string& name() const { return name_; }
    client::SyncLobbyClient& client() { return client_; }

private:
  void follow(const std::string& address);

  std::string name_;
  std::string token_;
  std::string address_;
  std::size_t redirects_ = 0;
  client::SyncLobbyClient client_;
  std::vector<protocol::Event> events_;
  protocol::LobbyMirror lobby_;
  std::size_t deltas_seen_ = 0;
  std::size_t gaps_seen_ = 0;
};

class TestDeveloper {
public:
    TestDeveloper(const ServerFixture& server, const std::string& name);
    // Publishes the fakegame package of `profile` (built by fakegame_packages)
    // under `game_name`; returns the game name.
    std::string publish_fakegame(const std::string& profile, const std::string& game_name,
                                 const std::string& version = "1.0.0", int min_players = 1);
    protocol::Response publish_zip(const std::filesystem::path& zip);

private:
    TempDir temp_;
    client::SyncLobbyClient client_;
};

// The launch environment a player's launcher gives a game client, from the
// room's launch info (docs/MANIFEST.md "Environment variables"), rendered from the package's
// manifest.
struct ClientLaunch {
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;
    std::filesystem::path cwd;
};
ClientLaunch client_launch_for(const std::filesystem::path& package_dir, const nlohmann::json& launch,
                               const std::string& player_name, const std::filesystem::path& match_dir);

}  // namespace gamestore::testing
