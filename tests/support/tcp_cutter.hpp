#pragma once
// A loopback TCP forwarder a test puts between a client and a server, to
// cut the client's connections on demand (a network drop, a suspended
// laptop) and to refuse new ones for a while. One thread polls every socket
// pair; nothing is buffered beyond one read.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gamestore::testing {

class TcpCutter {
  public:
    // Forwards 127.0.0.1:<port()> to host:port.
    TcpCutter(std::string host, std::uint16_t port);
    ~TcpCutter();
    TcpCutter(const TcpCutter&) = delete;
    TcpCutter& operator=(const TcpCutter&) = delete;

    std::uint16_t port() const { return listen_port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(listen_port_); }
    // Closes every forwarded connection (both sides, with RST to the
    // client); with `refuse`, connections that come later are accepted and
    // closed at once until allow() is called.
    void cut(bool refuse);
    void allow();
    // Connections accepted and forwarded so far.
    int forwarded() const { return forwarded_.load(); }

  private:
    void run();

    std::string host_;
    std::uint16_t port_;
    int listen_fd_ = -1;
    int wake_[2] = {-1, -1};
    std::uint16_t listen_port_ = 0;
    std::mutex mutex_;
    bool cut_requested_ = false;
    bool refusing_ = false;
    std::atomic<bool> stop_{false};
    std::atomic<int> forwarded_{0};
    std::thread thread_;
};

}  // namespace gamestore::testing
