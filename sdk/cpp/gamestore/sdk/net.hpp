#pragma once
// Small POSIX socket layer for games: an owned fd, NDJSON line connections
// with deadlines, a TCP connect with timeout, and a listening socket.
//
// Every socket is non-blocking and close-on-exec; blocking behaviour is
// emulated with poll() so every wait has a deadline and can be cut short by
// an "interrupt fd" (for example StopSignal::fd()) becoming readable.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace gamestore::sdk {

// The line limit of every gamestore NDJSON protocol (docs/PROTOCOL.md "Framing").
inline constexpr std::size_t kMaxLineBytes = 64 * 1024;

class NetError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Owns one file descriptor; closes it on destruction. Move-only.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset(std::exchange(other.fd_, -1));
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = fd;
    }

  private:
    int fd_ = -1;
};

namespace detail {

using Clock = std::chrono::steady_clock;

inline std::string errno_text(int err) {
    return std::error_code(err, std::generic_category()).message();
}

inline int poll_timeout_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
        return 0;
    }
    // Round up so a 0.4 ms remainder does not turn into a busy loop.
    return static_cast<int>(std::min<long long>(left.count() + 1, 24LL * 3600 * 1000));
}

enum class WaitResult { Ready, Timeout, Interrupted, Error };

// Waits until `fd` reports `events`, `interrupt_fd` becomes readable, or the
// deadline passes. EINTR is retried against the same deadline.
inline WaitResult wait_fd(int fd, short events, Clock::time_point deadline, int interrupt_fd,
                          int* error = nullptr) {
    for (;;) {
        pollfd fds[2] = {{fd, events, 0}, {interrupt_fd, POLLIN, 0}};
        const nfds_t count = interrupt_fd >= 0 ? 2 : 1;
        const int rc = ::poll(fds, count, poll_timeout_ms(deadline));
        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (error) {
                *error = errno;
            }
            return WaitResult::Error;
        }
        if (count == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            return WaitResult::Interrupted;
        }
        if (rc > 0 && fds[0].revents != 0) {
            return WaitResult::Ready;
        }
        if (Clock::now() >= deadline) {
            return WaitResult::Timeout;
        }
    }
}

inline bool interrupted(int interrupt_fd) {
    if (interrupt_fd < 0) {
        return false;
    }
    pollfd p{interrupt_fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

inline void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL, 0);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        throw NetError("fcntl(O_NONBLOCK) failed: " + errno_text(errno));
    }
}

inline std::string format_address(const sockaddr* addr) {
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (addr->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
        ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        return std::string(host) + ":" + std::to_string(port);
    }
    if (addr->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        return "[" + std::string(host) + "]:" + std::to_string(port);
    }
    return "?";
}

inline std::string peer_of(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        return "?";
    }
    return format_address(reinterpret_cast<const sockaddr*>(&addr));
}

struct AddrInfoList {
    addrinfo* head = nullptr;
    ~AddrInfoList() {
        if (head) {
            ::freeaddrinfo(head);
        }
    }
};

inline void resolve(const std::string& host, int port, bool passive, AddrInfoList& out) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    const std::string service = std::to_string(port);
    const char* node = host.empty() ? nullptr : host.c_str();
    const int rc = ::getaddrinfo(node, service.c_str(), &hints, &out.head);
    if (rc != 0) {
        throw NetError("cannot resolve \"" + host + "\": " + ::gai_strerror(rc));
    }
}

}  // namespace detail

// Connects to host:port within `timeout`, trying every resolved address.
// Throws NetError naming the address and the reason (refused, timed out...).
inline UniqueFd connect_tcp(const std::string& host, int port, std::chrono::milliseconds timeout,
                            int interrupt_fd = -1) {
    if (port < 1 || port > 65535) {
        throw NetError("cannot connect to " + host + ":" + std::to_string(port) +
                       ": port out of range");
    }
    const auto deadline = detail::Clock::now() + timeout;
    detail::AddrInfoList addresses;
    detail::resolve(host, port, false, addresses);
    std::string last_error = "no address";
    for (addrinfo* ai = addresses.head; ai != nullptr; ai = ai->ai_next) {
        UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                             ai->ai_protocol));
        if (!fd) {
            last_error = detail::errno_text(errno);
            continue;
        }
        if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                last_error = detail::errno_text(errno);
                continue;
            }
            int wait_error = 0;
            const auto waited =
                detail::wait_fd(fd.get(), POLLOUT, deadline, interrupt_fd, &wait_error);
            if (waited == detail::WaitResult::Interrupted) {
                throw NetError("connect to " + host + ":" + std::to_string(port) + " interrupted");
            }
            if (waited == detail::WaitResult::Timeout) {
                last_error = "timed out after " + std::to_string(timeout.count()) + " ms";
                continue;
            }
            if (waited == detail::WaitResult::Error) {
                last_error = detail::errno_text(wait_error);
                continue;
            }
            int so_error = 0;
            socklen_t len = sizeof so_error;
            ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
            if (so_error != 0) {
                last_error = detail::errno_text(so_error);
                continue;
            }
        }
        const int one = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
    }
    throw NetError("cannot connect to " + host + ":" + std::to_string(port) + ": " + last_error);
}

enum class ReadStatus {
    Line,         // `line` holds one complete line (without '\n' or a trailing '\r')
    Timeout,      // no complete line before the deadline (buffered bytes are kept)
    Closed,       // the peer closed the connection (a partial last line is dropped)
    TooLong,      // a line exceeded the limit; it is skipped up to its newline
    Interrupted,  // the interrupt fd became readable
    Error,        // socket error; `error` says which
};

struct ReadResult {
    ReadStatus status = ReadStatus::Timeout;
    std::string line;
    std::string error;

    bool ok() const noexcept { return status == ReadStatus::Line; }
    explicit operator bool() const noexcept { return ok(); }
};

inline const char* to_string(ReadStatus status) {
    switch (status) {
        case ReadStatus::Line:
            return "line";
        case ReadStatus::Timeout:
            return "timed out";
        case ReadStatus::Closed:
            return "connection closed";
        case ReadStatus::TooLong:
            return "line too long";
        case ReadStatus::Interrupted:
            return "interrupted";
        case ReadStatus::Error:
            return "socket error";
    }
    return "unknown";
}

// One NDJSON connection: send whole lines, read whole lines with a deadline.
// Not thread-safe; give each connection one owner.
class LineConnection {
  public:
    LineConnection() = default;
    explicit LineConnection(UniqueFd fd, std::size_t max_line_bytes = kMaxLineBytes)
        : fd_(std::move(fd)), max_line_(max_line_bytes) {
        if (fd_) {
            detail::set_nonblocking(fd_.get());
            peer_ = detail::peer_of(fd_.get());
        }
    }

    bool is_open() const noexcept { return fd_.valid(); }
    int fd() const noexcept { return fd_.get(); }
    // "ip:port" of the other side, for log lines.
    const std::string& peer() const noexcept { return peer_; }
    void close() noexcept {
        fd_.reset();
        buffer_.clear();
        discarding_ = false;
        eof_ = false;
    }

    // Sends `line` plus '\n'. Throws NetError when the line contains a newline,
    // the peer is gone, or the socket stays full past the timeout.
    void send_line(std::string_view line,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        if (auto error = try_send_line(line, timeout); !error.empty()) {
            throw NetError(error);
        }
    }

    // Like send_line, but returns the failure reason instead of throwing
    // (empty string on success).
    std::string try_send_line(std::string_view line, std::chrono::milliseconds timeout,
                              int interrupt_fd = -1) {
        if (line.find('\n') != std::string_view::npos) {
            return "refusing to send a line that contains a newline";
        }
        std::string framed;
        framed.reserve(line.size() + 1);
        framed.append(line);
        framed.push_back('\n');
        return try_send_raw(framed, timeout, interrupt_fd);
    }

    // Sends bytes exactly as given, no framing. Empty string on success.
    std::string try_send_raw(std::string_view bytes, std::chrono::milliseconds timeout,
                             int interrupt_fd = -1) {
        if (!fd_) {
            return "connection is closed";
        }
        const auto deadline = detail::Clock::now() + timeout;
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n > 0) {
                bytes.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                int wait_error = 0;
                switch (detail::wait_fd(fd_.get(), POLLOUT, deadline, interrupt_fd, &wait_error)) {
                    case detail::WaitResult::Ready:
                        continue;
                    case detail::WaitResult::Timeout:
                        return "send to " + peer_ + " timed out (peer is not reading)";
                    case detail::WaitResult::Interrupted:
                        return "send interrupted";
                    case detail::WaitResult::Error:
                        return "poll: " + detail::errno_text(wait_error);
                }
            }
            return "send to " + peer_ + " failed: " + detail::errno_text(errno);
        }
        return {};
    }

    // Waits up to `timeout` for one complete line.
    ReadResult read_line(std::chrono::milliseconds timeout, int interrupt_fd = -1) {
        const auto deadline = detail::Clock::now() + timeout;
        for (;;) {
            if (auto buffered = take_line()) {
                return std::move(*buffered);
            }
            if (!fd_) {
                return {ReadStatus::Closed, {}, "connection is closed"};
            }
            if (eof_) {
                return {ReadStatus::Closed, {}, "peer closed the connection"};
            }
            int wait_error = 0;
            switch (detail::wait_fd(fd_.get(), POLLIN, deadline, interrupt_fd, &wait_error)) {
                case detail::WaitResult::Ready:
                    break;
                case detail::WaitResult::Timeout:
                    return {ReadStatus::Timeout, {}, {}};
                case detail::WaitResult::Interrupted:
                    return {ReadStatus::Interrupted, {}, {}};
                case detail::WaitResult::Error:
                    return {ReadStatus::Error, {}, "poll: " + detail::errno_text(wait_error)};
            }
            if (auto failure = fill()) {
                return std::move(*failure);
            }
        }
    }

    // Reads what the socket already holds, without waiting. Returns a Line if
    // one is complete, Timeout if not yet, or Closed/TooLong/Error.
    ReadResult poll_line() {
        if (auto buffered = take_line()) {
            return std::move(*buffered);
        }
        if (!fd_ || eof_) {
            return {ReadStatus::Closed, {}, "peer closed the connection"};
        }
        if (auto failure = fill()) {
            return std::move(*failure);
        }
        if (auto buffered = take_line()) {
            return std::move(*buffered);
        }
        if (eof_) {
            return {ReadStatus::Closed, {}, "peer closed the connection"};
        }
        return {ReadStatus::Timeout, {}, {}};
    }

    // Bytes received but not yet returned as a line.
    std::size_t buffered_bytes() const noexcept { return buffer_.size(); }

  private:
    // Returns a Line (or TooLong) if the buffer allows, else nullopt.
    std::optional<ReadResult> take_line() {
        for (;;) {
            const auto newline = buffer_.find('\n');
            if (discarding_) {
                if (newline == std::string::npos) {
                    buffer_.clear();
                    return std::nullopt;
                }
                buffer_.erase(0, newline + 1);
                discarding_ = false;
                continue;
            }
            if (newline == std::string::npos) {
                if (buffer_.size() > max_line_) {
                    buffer_.clear();
                    discarding_ = true;
                    return ReadResult{ReadStatus::TooLong,
                                      {},
                                      "line longer than " + std::to_string(max_line_) + " bytes"};
                }
                return std::nullopt;
            }
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            if (line.size() > max_line_) {
                return ReadResult{ReadStatus::TooLong,
                                  {},
                                  "line longer than " + std::to_string(max_line_) + " bytes"};
            }
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            return ReadResult{ReadStatus::Line, std::move(line), {}};
        }
    }

    // One non-blocking recv into the buffer. Returns a failure result, or
    // nullopt when data arrived, nothing was there, or the peer closed.
    std::optional<ReadResult> fill() {
        char chunk[16 * 1024];
        for (;;) {
            const ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
            if (n > 0) {
                buffer_.append(chunk, static_cast<std::size_t>(n));
                return std::nullopt;
            }
            if (n == 0) {
                eof_ = true;
                return std::nullopt;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return std::nullopt;
            }
            if (errno == ECONNRESET) {
                eof_ = true;
                return ReadResult{ReadStatus::Closed, {}, "connection reset by peer"};
            }
            return ReadResult{ReadStatus::Error, {}, "recv: " + detail::errno_text(errno)};
        }
    }

    UniqueFd fd_;
    std::size_t max_line_ = kMaxLineBytes;
    std::string buffer_;
    std::string peer_;
    bool discarding_ = false;
    bool eof_ = false;
};

// A listening TCP socket for the game server: bind BIND_HOST:PORT with
// SO_REUSEADDR (so a restarted server can rebind at once), listen, accept.
class GameServerSocket {
  public:
    // Binds and listens; throws NetError ("cannot listen on host:port: ...").
    // Port 0 picks a free port; port() tells which.
    GameServerSocket(const std::string& bind_host, int port, int backlog = 64) : host_(bind_host) {
        if (port < 0 || port > 65535) {
            throw NetError("cannot listen on port " + std::to_string(port) + ": out of range");
        }
        detail::AddrInfoList addresses;
        detail::resolve(bind_host, port, true, addresses);
        std::string last_error = "no address";
        for (addrinfo* ai = addresses.head; ai != nullptr; ai = ai->ai_next) {
            UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                                 ai->ai_protocol));
            if (!fd) {
                last_error = detail::errno_text(errno);
                continue;
            }
            const int one = 1;
            ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 ||
                ::listen(fd.get(), backlog) != 0) {
                last_error = detail::errno_text(errno);
                continue;
            }
            sockaddr_storage bound{};
            socklen_t len = sizeof bound;
            ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
            port_ = bound.ss_family == AF_INET6
                        ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                        : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
            fd_ = std::move(fd);
            return;
        }
        throw NetError("cannot listen on " + bind_host + ":" + std::to_string(port) + ": " +
                       last_error);
    }

    // The port actually bound: report this one in STARTED.
    int port() const noexcept { return port_; }
    int fd() const noexcept { return fd_.get(); }
    const std::string& bind_host() const noexcept { return host_; }
    void close() noexcept { fd_.reset(); }

    // Waits up to `timeout` for a connection. nullopt on timeout or interrupt.
    std::optional<LineConnection> accept(std::chrono::milliseconds timeout, int interrupt_fd = -1) {
        const auto deadline = detail::Clock::now() + timeout;
        for (;;) {
            if (auto conn = try_accept()) {
                return conn;
            }
            int wait_error = 0;
            const auto waited =
                detail::wait_fd(fd_.get(), POLLIN, deadline, interrupt_fd, &wait_error);
            if (waited == detail::WaitResult::Error) {
                throw NetError("poll on listening socket: " + detail::errno_text(wait_error));
            }
            if (waited != detail::WaitResult::Ready) {
                return std::nullopt;
            }
        }
    }

    // Accepts one already-pending connection, never waits.
    std::optional<LineConnection> try_accept() {
        for (;;) {
            const int fd = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd >= 0) {
                const int one = 1;
                ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                return LineConnection(UniqueFd(fd));
            }
            // The client gave up between SYN and accept: not our problem.
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return std::nullopt;
            }
            throw NetError("accept on " + host_ + ":" + std::to_string(port_) + ": " +
                           detail::errno_text(errno));
        }
    }

  private:
    UniqueFd fd_;
    std::string host_;
    int port_ = 0;
};

}  // namespace gamestore::sdk
