#include "platform/net/channel.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>

namespace gamestore::net {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kFileChunk = 256 * 1024;

std::string endpoint_text(const tcp::endpoint& ep) {
    const auto address = ep.address();
    if (address.is_v6()) {
        return "[" + address.to_string() + "]:" + std::to_string(ep.port());
    }
    return address.to_string() + ":" + std::to_string(ep.port());
}
}  // namespace

NdjsonChannel::NdjsonChannel(tcp::socket socket, std::size_t max_line)
    : socket_(std::move(socket)),
      framer_(max_line),
      wake_(socket_.get_executor()),
      read_buffer_(kReadChunk, '\0') {
    boost::system::error_code ec;
    const auto remote = socket_.remote_endpoint(ec);
    if (!ec) {
        remote_ = endpoint_text(remote);
    }
    const auto local = socket_.local_endpoint(ec);
    if (!ec) {
        auto address = local.address();
        // A v4 client reaching a dual-stack socket shows up as ::ffff:a.b.c.d;
        // hand out the plain v4 form, which is what it dialled.
        if (address.is_v6() && address.to_v6().is_v4_mapped()) {
            address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
        }
        local_address_ = address.to_string();
    }
    socket_.set_option(tcp::no_delay(true), ec);
    wake_.expires_at(asio::steady_timer::time_point::max());
}

awaitable<std::optional<protocol::FrameResult>> NdjsonChannel::read_frame() {
    for (;;) {
        auto frame = framer_.next();
        if (frame.kind != protocol::FrameResult::Kind::NeedMore) {
            co_return frame;
        }
        if (!open_ || peer_finished_) {
            co_return std::nullopt;
        }
        boost::system::error_code ec;
        const std::size_t n = co_await socket_.async_read_some(
            asio::buffer(read_buffer_), asio::redirect_error(asio::use_awaitable, ec));
        if (ec || n == 0) {
            if (ec == asio::error::eof || (!ec && n == 0)) {
                peer_finished_ = true;
            }
            if (peer_finished_ && accept_unterminated_) {
                // A peer that sends one message and closes often leaves out
                // the final "\n" (one-shot reports from other people's
                // games). At a clean end of stream the unterminated rest is a
                // line like any other; it is within max_line, since a longer
                // one was reported as TooLarge already and is being skipped
                // (take_raw() gives nothing then).
                std::string rest = framer_.take_raw(framer_.buffered());
                if (!rest.empty() && rest.back() == '\r') {
                    rest.pop_back();
                }
                if (!rest.empty()) {
                    co_return protocol::FrameResult{protocol::FrameResult::Kind::Line,
                                                    std::move(rest)};
                }
            }
            co_return std::nullopt;
        }
        framer_.feed(std::string_view(read_buffer_.data(), n));
    }
}

awaitable<bool> NdjsonChannel::read_raw(std::uint64_t n,
                                        const std::function<void(std::string_view)>& sink) {
    while (n > 0) {
        const std::string buffered =
            framer_.take_raw(static_cast<std::size_t>(std::min<std::uint64_t>(n, kReadChunk)));
        if (!buffered.empty()) {
            sink(buffered);
            n -= buffered.size();
            continue;
        }
        if (!open_) {
            co_return false;
        }
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, kReadChunk));
        boost::system::error_code ec;
        const std::size_t got = co_await socket_.async_read_some(
            asio::buffer(read_buffer_.data(), want), asio::redirect_error(asio::use_awaitable, ec));
        if (ec || got == 0) {
            co_return false;
        }
        sink(std::string_view(read_buffer_.data(), got));
        n -= got;
    }
    co_return true;
}

std::size_t NdjsonChannel::write_now(std::initializer_list<std::string_view> parts) {
    if (!queue_.empty() || writing_) {
        return 0;
    }
    std::array<iovec, 3> vectors{};
    std::size_t count = 0;
    for (const auto part : parts) {
        if (!part.empty() && count < vectors.size()) {
            vectors[count++] = iovec{const_cast<char*>(part.data()), part.size()};
        }
    }
    msghdr message{};
    message.msg_iov = vectors.data();
    message.msg_iovlen = count;
    for (;;) {
        const ssize_t n = ::sendmsg(socket_.native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            return static_cast<std::size_t>(n);
        }
        if (errno != EINTR) {
            // Full (EAGAIN) or failed: the writer coroutine writes it, or
            // meets the same error and closes the channel.
            return 0;
        }
    }
}

void NdjsonChannel::send(std::string line) {
    if (!open_ || close_when_drained_) {
        return;
    }
    const std::size_t written = write_now({line});
    if (written == line.size()) {
        return;
    }
    line.erase(0, written);
    queue_.push_back(Outbound{std::move(line), nullptr, {}, std::nullopt, 0, 0});
    wake_.cancel_one();
}

void NdjsonChannel::send_shared(std::shared_ptr<const std::string> lines) {
    send_wrapped({}, std::move(lines), {});
}

void NdjsonChannel::send_wrapped(std::string head, std::shared_ptr<const std::string> body,
                                 std::string tail) {
    if (!open_ || close_when_drained_) {
        return;
    }
    const std::size_t total = head.size() + body->size() + tail.size();
    const std::size_t written = write_now({head, *body, tail});
    if (written == total) {
        return;
    }
    if (written == 0) {
        queue_.push_back(
            Outbound{std::move(head), std::move(body), std::move(tail), std::nullopt, 0, 0});
    } else {
        // Only part went out: the rest, copied once, is what gets queued.
        std::string rest = head + *body + tail;
        rest.erase(0, written);
        queue_.push_back(Outbound{std::move(rest), nullptr, {}, std::nullopt, 0, 0});
    }
    wake_.cancel_one();
}

void NdjsonChannel::send_file(std::string header_line, std::filesystem::path file,
                              std::uint64_t offset, std::uint64_t length) {
    if (!open_ || close_when_drained_) {
        return;
    }
    queue_.push_back(
        Outbound{std::move(header_line), nullptr, {}, std::move(file), offset, length});
    wake_.cancel_one();
}

awaitable<bool> NdjsonChannel::write_file_range(const Outbound& item) {
    // Local page-cache reads of a bounded chunk are cheap next to the socket
    // write; the chunk size keeps any one pause of the I/O thread short.
    const int fd = ::open(item.file->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        co_return false;
    }
    std::string chunk(kFileChunk, '\0');
    std::uint64_t offset = item.offset;
    std::uint64_t remaining = item.length;
    bool ok = true;
    while (remaining > 0 && open_) {
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining, kFileChunk));
        const ssize_t got = ::pread(fd, chunk.data(), want, static_cast<off_t>(offset));
        if (got <= 0) {
            ok = false;
            break;
        }
        boost::system::error_code ec;
        co_await asio::async_write(socket_,
                                   asio::buffer(chunk.data(), static_cast<std::size_t>(got)),
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            ok = false;
            break;
        }
        offset += static_cast<std::uint64_t>(got);
        remaining -= static_cast<std::uint64_t>(got);
    }
    ::close(fd);
    co_return ok&& remaining == 0;
}

awaitable<void> NdjsonChannel::run_writer() {
    while (open_) {
        if (queue_.empty()) {
            if (close_when_drained_) {
                close();
                break;
            }
            boost::system::error_code ec;
            co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        Outbound item = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        boost::system::error_code ec;
        const std::array<asio::const_buffer, 3> bytes = {
            asio::buffer(item.header),
            item.shared ? asio::buffer(*item.shared) : asio::const_buffer(),
            asio::buffer(item.trailer)};
        co_await asio::async_write(socket_, bytes, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            writing_ = false;
            close();
            break;
        }
        if (item.file && !co_await write_file_range(item)) {
            // The peer was promised N bytes; a short blob cannot be repaired
            // in-band, so the connection ends and the client resumes later.
            writing_ = false;
            close();
            break;
        }
        writing_ = false;
    }
}

void NdjsonChannel::close() {
    if (!open_) {
        return;
    }
    open_ = false;
    queue_.clear();
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    wake_.cancel();
}

void NdjsonChannel::close_after_flush() {
    close_when_drained_ = true;
    wake_.cancel_one();
}

std::string HostPort::to_string() const {
    if (host.find(':') != std::string::npos) {
        return "[" + host + "]:" + std::to_string(port);
    }
    return host + ":" + std::to_string(port);
}

std::optional<HostPort> parse_host_port(std::string_view text, std::string* error) {
    auto fail = [&](std::string message) -> std::optional<HostPort> {
        if (error) {
            *error = std::move(message);
        }
        return std::nullopt;
    };
    std::string_view host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return fail("expected [IPV6]:PORT, got '" + std::string(text) + "'");
        }
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return fail("expected HOST:PORT, got '" + std::string(text) + "'");
        }
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            return fail("an IPv6 host must be written in brackets, e.g. [::1]:16534");
        }
    }
    if (host.empty()) {
        return fail("the host is empty in '" + std::string(text) + "'");
    }
    unsigned value = 0;
    const auto [ptr, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port_text.empty() ||
        value > 65535) {
        return fail("the port must be a number from 0 to 65535, got '" + std::string(port_text) +
                    "'");
    }
    return HostPort{std::string(host), static_cast<std::uint16_t>(value)};
}

void open_listener(tcp::acceptor& acceptor, const HostPort& where, const std::string& what) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(where.host, ec);
    if (ec) {
        throw std::runtime_error(what + ": '" + where.host + "' is not an IP address");
    }
    const tcp::endpoint endpoint(address, where.port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint, ec);
    if (ec) {
        throw std::runtime_error(what + ": cannot listen on " + where.to_string() + ": " +
                                 ec.message());
    }
    acceptor.listen(asio::socket_base::max_listen_connections);
}

}  // namespace gamestore::net
