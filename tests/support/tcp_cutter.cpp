#include "tests/support/tcp_cutter.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace gamestore::testing {

namespace {

struct Pair {
    int client = -1;
    int server = -1;
};

void close_hard(int fd) {
    if (fd < 0)
        return;
    // SO_LINGER 0: the peer sees a reset, as after a real network failure.
    linger hard{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    ::close(fd);
}

int connect_to(const std::string& host, std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    if (fd < 0 || ::inet_pton(AF_INET, host.c_str(), &to.sin_addr) != 1 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
        if (fd >= 0)
            ::close(fd);
        return -1;
    }
    return fd;
}

// Copies what `from` has to `to`; false when either side is done.
bool pump(int from, int to) {
    char buffer[16384];
    const ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n <= 0)
        return false;
    ssize_t sent = 0;
    while (sent < n) {
        const ssize_t w = ::write(to, buffer + sent, static_cast<std::size_t>(n - sent));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        sent += w;
    }
    return true;
}

}  // namespace

TcpCutter::TcpCutter(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof at;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&at), &length) != 0 ||
        ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
        throw std::runtime_error(std::string("TcpCutter: ") + std::strerror(errno));
    }
    listen_port_ = ntohs(at.sin_port);
    thread_ = std::thread([this] { run(); });
}

TcpCutter::~TcpCutter() {
    stop_ = true;
    const char byte = 's';
    [[maybe_unused]] const auto written = ::write(wake_[1], &byte, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
}

void TcpCutter::cut(bool refuse) {
    {
        std::lock_guard lock(mutex_);
        cut_requested_ = true;
        refusing_ = refuse;
    }
    const char byte = 'c';
    [[maybe_unused]] const auto written = ::write(wake_[1], &byte, 1);
}

void TcpCutter::allow() {
    std::lock_guard lock(mutex_);
    refusing_ = false;
}

void TcpCutter::run() {
    std::vector<Pair> pairs;
    while (!stop_) {
        std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
        for (const auto& pair : pairs) {
            fds.push_back({pair.client, POLLIN, 0});
            fds.push_back({pair.server, POLLIN, 0});
        }
        if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR)
            break;
        bool refusing = false;
        {
            std::lock_guard lock(mutex_);
            if (cut_requested_) {
                cut_requested_ = false;
                for (auto& pair : pairs) {
                    close_hard(pair.client);
                    close_hard(pair.server);
                }
                pairs.clear();
            }
            refusing = refusing_;
        }
        char drain[64];
        while (::read(wake_[0], drain, sizeof drain) > 0) {
        }
        if (fds[0].revents & POLLIN) {
            const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client >= 0) {
                const int server = refusing ? -1 : connect_to(host_, port_);
                if (server < 0) {
                    close_hard(client);
                } else {
                    pairs.push_back({client, server});
                    ++forwarded_;
                }
            }
        }
        // Pairs are only touched by this thread; the poll set was built before
        // a cut could clear them, so it is read only when nothing was cut.
        if (fds.size() != 2 + 2 * pairs.size())
            continue;
        std::vector<Pair> alive;
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            const auto& from_client = fds[2 + 2 * i];
            const auto& from_server = fds[3 + 2 * i];
            bool ok = true;
            if (from_client.revents & (POLLIN | POLLHUP | POLLERR))
                ok = pump(pairs[i].client, pairs[i].server);
            if (ok && (from_server.revents & (POLLIN | POLLHUP | POLLERR)))
                ok = pump(pairs[i].server, pairs[i].client);
            if (ok) {
                alive.push_back(pairs[i]);
            } else {
                ::close(pairs[i].client);
                ::close(pairs[i].server);
            }
        }
        pairs = std::move(alive);
    }
    for (auto& pair : pairs) {
        ::close(pair.client);
        ::close(pair.server);
    }
}

}  // namespace gamestore::testing
