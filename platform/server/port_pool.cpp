#include "platform/server/port_pool.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gamestore::server {

bool port_is_bindable(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

std::optional<std::uint16_t> PortPool::acquire() {
    // Round-robin from where we stopped: a just-released port (maybe still in
    // TIME_WAIT on a client) is the last to be reused.
    const std::uint32_t span = static_cast<std::uint32_t>(last_) - first_ + 1;
    for (std::uint32_t i = 0; i < span; ++i) {
        const std::uint16_t port = next_;
        next_ = (next_ == last_) ? first_ : static_cast<std::uint16_t>(next_ + 1);
        if (in_use_.count(port) || !port_is_bindable(port)) {
            continue;
        }
        in_use_.insert(port);
        return port;
    }
    return std::nullopt;
}

}  // namespace gamestore::server
