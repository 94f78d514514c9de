#pragma once
// The seam between rooms and the machinery that runs their game servers
// (docs/SCALING.md, "The match host seam"). Rooms decide when a match
// starts, judge its reports and decide when it is over; a MatchHost only
// places, starts and stops game servers and says when one has exited. The
// host on this machine is LocalMatchHost (sandboxed processes, a port pool);
// a host that allocates game servers elsewhere implements the same calls and
// leaves room logic untouched.
//
// Every call is made on the lobby's I/O thread, and callbacks come back on it.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "platform/asio/asio.hpp"
#include "platform/packages/command_template.hpp"
#include "platform/packages/manifest.hpp"
#include "platform/store/types.hpp"

namespace gamestore::server {

// Match ids: "m-" and 24 random lowercase hex digits (match_lifecycle.cpp).
std::string new_match_id();
// The first match id in `text` (an environment entry, a command line).
std::optional<std::string> match_id_in(std::string_view text);

// Where a match's game server will listen; known before it is started,
// because STARTED must echo the port it was given.
struct MatchPlacement {
    std::uint16_t port = 0;
};

// Everything a host needs to start one match's game server.
struct MatchSpec {
    std::int64_t room_id = 0;
    std::string match_id;
    packages::Manifest manifest;
    std::filesystem::path package_root;  // the read-only extracted package
    std::vector<std::string> players;    // seat order
    std::string client_token;
    std::string report_token;
};

struct MatchLaunch {
    enum class Result {
        Started,    // the game server runs; on_exit will be called once
        Failed,     // it could not be started: `error` says why
        Cancelled,  // still_wanted() turned false before anything was started
    };
    Result result = Result::Failed;
    std::string error;
    bool sandbox_failure = false;  // the sandbox itself refused to start
    // What the game server was told (host, ports, paths as it sees them):
    // the diagnostic healthcheck probes from it.
    packages::LaunchContext context;
    // A local process id, for the admin view; -1 when the host has none.
    std::int64_t pid = -1;
};

struct MatchLaunchHooks {
    // Asked once preparation is done, right before the game server is
    // started: false when the room gave up on the match meanwhile.
    std::function<bool()> still_wanted;
    // The game server ended, with a sentence that describes how ("exit code 3").
    std::function<void(std::string how)> on_exit;
};

class MatchHost {
  public:
    virtual ~MatchHost() = default;

    // A place (a game port) for a new match, or why there is none.
    virtual std::variant<MatchPlacement, std::string> reserve(const std::string& match_id) = 0;
    // Prepares and starts the game server of a reserved match.
    virtual boost::asio::awaitable<MatchLaunch> launch(MatchSpec spec, MatchLaunchHooks hooks) = 0;
    // Stops whatever launch() started (after END/ERROR the game first gets a
    // moment to exit by itself), then frees the match's place and files.
    // Called exactly once for every reserved match, also when the launch
    // failed or was cancelled.
    virtual boost::asio::awaitable<void> stop(std::string match_id, bool after_end) = 0;
    // After a crash, before serving: ends what the previous run left of
    // `open` (the matches still open in the store) and calls `close` for
    // each with a sentence saying what was done, so the room side records
    // it; then ends whatever else of past matches is left on this host.
    // Blocking.
    virtual void reconcile(
        const std::vector<store::Match>& open,
        const std::function<void(const store::Match&, const std::string& done)>& close) = 0;
    // Places handed out and not yet freed.
    virtual std::size_t in_use() const = 0;
};

}  // namespace gamestore::server
