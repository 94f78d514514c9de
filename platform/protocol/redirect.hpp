#pragma once
// MOVED answers of a cluster node (docs/PROTOCOL.md, error codes): which node
// holds the room asked about and where its lobby listens. Clients that follow
// redirects reconnect there, resume their session and repeat the request.

#include <cstdint>
#include <optional>
#include <string>

#include "platform/protocol/lobby.hpp"

namespace gamestore::protocol {

struct Redirect {
    std::string node_id;
    std::string address;                  // "host:port" of the node's lobby
    std::optional<std::int64_t> room_id;  // absent when a new room is placed there
};

// The redirect a response carries: nullopt when it is not a MOVED error.
// A MOVED error whose details lack a node id or address is malformed:
// nullopt with `error` set, so the caller reports it instead of following.
std::optional<Redirect> redirect_of(const Response& response, std::string* error = nullptr);

// How many redirects one request follows before giving up: a room moves at
// most once (its node died and it was recreated), and a placement adds one.
inline constexpr int kMaxRedirects = 2;

}  // namespace gamestore::protocol
