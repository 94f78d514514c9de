#pragma once
// The game-port range (--game-ports). A port is handed out only if nothing on
// this machine holds it (checked by binding it), and comes back on every exit
// path of its match. Lives on the lobby thread.

#include <cstdint>
#include <optional>
#include <set>

namespace gamestore::server {

class PortPool {
public:
    PortPool(std::uint16_t first, std::uint16_t last) : first_(first), last_(last), next_(first) {}

    // A free port, or nullopt when the whole range is in use.
    std::optional<std::uint16_t> acquire();
    void release(std::uint16_t port) { in_use_.erase(port); }
    std::size_t in_use() const { return in_use_.size(); }
    bool is_in_use(std::uint16_t port) const { return in_use_.count(port) > 0; }

private:
    std::uint16_t first_;
    std::uint16_t last_;
    std::uint16_t next_;
    std::set<std::uint16_t> in_use_;
};

// True when a TCP socket can bind 0.0.0.0:port right now.
bool port_is_bindable(std::uint16_t port);

}  // namespace gamestore::server
