#pragma once
// A plain blocking TCP connection for tests that speak the wire format by
// hand (oversized lines, silence, malformed input). Every read has a deadline.

#include <chrono>
#include <optional>
#include <string>

namespace gamestore::testing {

class RawConnection {
public:
    RawConnection(const std::string& host, unsigned short port);
    ~RawConnection();
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    // Sends everything; false if the peer is gone.
    bool send(const std::string& bytes);
    // The next '\n'-terminated line (without it); nullopt on timeout or close.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    // True once the peer has closed (EOF or reset) within the timeout; bytes
    // that arrive before the close are skipped.
    bool wait_closed(std::chrono::milliseconds timeout);
    int fd() const { return fd_; }

private:
    int fd_ = -1;
    std::string buffer_;
};

}  // namespace gamestore::testing
