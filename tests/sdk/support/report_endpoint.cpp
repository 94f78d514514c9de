#include "tests/sdk/support/report_endpoint.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "platform/protocol/line_framer.hpp"

namespace gamestore::sdk_test {
namespace {

struct Connection {
    int id = 0;
    int fd = -1;
    protocol::LineFramer framer;
    int lines = 0;
    Connection(int id_, int fd_, std::size_t max_line) : id(id_), fd(fd_), framer(max_line) {}
};

void send_reply(int fd, const std::string& reply) {
    // Replies are tiny; a peer that does not read them (a flood) just misses some.
    [[maybe_unused]] auto n = ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

ReportEndpoint::ReportEndpoint(EndpointOptions options) : options_(std::move(options)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<unsigned short>(options_.port));
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
        const std::string error = std::strerror(errno);
        ::close(listen_fd_);
        throw std::runtime_error("ReportEndpoint: cannot listen: " + error);
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        throw std::runtime_error("ReportEndpoint: pipe2 failed");
    }
    wake_read_ = fds[0];
    wake_write_ = fds[1];
    thread_ = std::thread([this] { run(); });
}

ReportEndpoint::~ReportEndpoint() {
    const char byte = 1;
    [[maybe_unused]] auto n = ::write(wake_write_, &byte, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_read_);
    ::close(wake_write_);
}

void ReportEndpoint::run() {
    std::vector<std::unique_ptr<Connection>> conns;
    char buffer[64 * 1024];
    for (;;) {
        std::vector<pollfd> fds{{wake_read_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
        for (const auto& c : conns) {
            fds.push_back({c->fd, POLLIN, 0});
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (fds[0].revents != 0) {
            break;
        }
        std::vector<std::unique_ptr<Connection>> keep;
        for (std::size_t i = 0; i < conns.size(); ++i) {
            auto& c = *conns[i];
            if (fds[2 + i].revents == 0) {
                keep.push_back(std::move(conns[i]));
                continue;
            }
            const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                keep.push_back(std::move(conns[i]));
                continue;
            }
            bool close_now = n <= 0;
            if (n > 0) {
                c.framer.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
                for (;;) {
                    auto frame = c.framer.next();
                    if (frame.kind == protocol::FrameResult::Kind::NeedMore) {
                        break;
                    }
                    ReceivedLine rec;
                    rec.connection = c.id;
                    rec.at = std::chrono::steady_clock::now();
                    std::string reply;
                    if (frame.kind == protocol::FrameResult::Kind::TooLarge) {
                        rec.parse_error = "line too large";
                        reply = protocol::encode_report_reply_error("line too large");
                    } else {
                        rec.line = std::move(frame.line);
                        auto parsed = protocol::parse_report(rec.line);
                        if (auto* report = std::get_if<protocol::Report>(&parsed)) {
                            rec.report = *report;
                            reply =
                                options_.reject_reason
                                    ? protocol::encode_report_reply_error(*options_.reject_reason)
                                    : protocol::encode_report_reply_ok();
                        } else {
                            rec.parse_error = std::get<protocol::ReportError>(parsed).message;
                            reply = protocol::encode_report_reply_error(rec.parse_error);
                        }
                    }
                    ++c.lines;
                    const bool first = c.id == 1 && c.lines == 1;
                    const bool drop = options_.close_first_connection_after_first_line && first;
                    const bool ignore = options_.ignore_first_line && first;
                    // Record before replying: a game that saw the reply may
                    // already be asking what arrived.
                    {
                        std::lock_guard lock(mutex_);
                        lines_.push_back(std::move(rec));
                    }
                    changed_.notify_all();
                    if (!ignore && (!drop || options_.reply_before_close)) {
                        send_reply(c.fd, reply);
                    }
                    if (drop) {
                        close_now = true;
                        break;
                    }
                }
            }
            {
                std::lock_guard lock(mutex_);
                partial_[c.id] = close_now ? 0 : c.framer.buffered();
            }
            if (close_now) {
                ::close(c.fd);
            } else {
                keep.push_back(std::move(conns[i]));
            }
            changed_.notify_all();
        }
        conns = std::move(keep);
        if (fds[1].revents & POLLIN) {
            for (;;) {
                const int fd =
                    ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) {
                    break;
                }
                std::lock_guard lock(mutex_);
                conns.push_back(std::make_unique<Connection>(++accepted_, fd, options_.max_line));
                changed_.notify_all();
            }
        }
    }
    for (const auto& c : conns) {
        ::close(c->fd);
    }
}

ReportEndpoint::Lines ReportEndpoint::lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
}

std::vector<ReceivedLine> ReportEndpoint::reports() const {
    std::vector<ReceivedLine> out;
    for (auto& l : lines()) {
        if (l.report) {
            out.push_back(std::move(l));
        }
    }
    return out;
}

std::vector<ReceivedLine> ReportEndpoint::reports_with(protocol::ReportStatus status) const {
    std::vector<ReceivedLine> out;
    for (auto& l : reports()) {
        if (l.report->status == status) {
            out.push_back(std::move(l));
        }
    }
    return out;
}

int ReportEndpoint::connections_accepted() const {
    std::lock_guard lock(mutex_);
    return accepted_;
}

std::map<int, std::size_t> ReportEndpoint::partial_bytes() const {
    std::lock_guard lock(mutex_);
    return partial_;
}

bool ReportEndpoint::wait_until(const std::function<bool(const Lines&)>& done,
                                std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done(lines_); });
}

bool ReportEndpoint::wait_for_status(protocol::ReportStatus status, std::size_t count,
                                     std::chrono::milliseconds timeout) const {
    return wait_until(
        [&](const Lines& lines) {
            std::size_t n = 0;
            for (const auto& l : lines) {
                n += l.report && l.report->status == status ? 1 : 0;
            }
            return n >= count;
        },
        timeout);
}

bool ReportEndpoint::wait_for_partial(std::size_t bytes, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
        for (const auto& [id, n] : partial_) {
            if (n >= bytes) {
                return true;
            }
        }
        return false;
    });
}

}  // namespace gamestore::sdk_test
