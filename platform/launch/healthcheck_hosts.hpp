#pragma once
// Where a diagnostic TCP healthcheck connects (docs/MANIFEST.md, the
// `healthcheck.*` fields; docs/MATCHES.md on readiness): shared by the platform, which probes every
// match it spawns, and by validate_game_package, so both pick the same hosts.
//
// The healthcheck is diagnostic only: STARTED is the sole readiness signal.
// A bind-only address (0.0.0.0, ::) is never a connect target: it is what a
// game server binds ({bind_host}), not where anyone reaches it.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gamestore::launch {

// True for the unspecified addresses, in any spelling: "0.0.0.0", "::",
// "[::]", "0:0:0:0:0:0:0:0", "::0" (also with surrounding brackets).
bool is_unspecified_address(std::string_view host);

struct HealthcheckHosts {
    std::vector<std::string> connect;  // in the order to try, no duplicates
    std::vector<std::string> skipped;  // named, but bind-only: never connected to
};

// 127.0.0.1 first; then the manifest's rendered healthcheck.host when it is
// set and connectable, else the advertised host (what players are told).
// Empty names are ignored; a bind-only name lands in `skipped`.
HealthcheckHosts healthcheck_hosts(const std::optional<std::string>& declared_host,
                                   std::string_view advertised_host);

}  // namespace gamestore::launch
