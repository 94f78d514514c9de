#pragma once
// An NDJSON channel over one TCP socket, shared by the lobby server, the lobby
// client and the control-plane endpoints. Reading goes through the pure
// LineFramer; writing goes through a queue drained by one writer coroutine, so
// any coroutine on the channel's executor may send without waiting. A frame
// sent while nothing is queued is first offered to the socket at once (one
// non-blocking send); only what the kernel does not take is queued. Pushing
// one event to thousands of connections then costs one system call each, not
// a coroutine round trip each.
//
// Blob frames (docs/PROTOCOL.md "Blob frames"): a header line announcing "bytes":N is followed
// by exactly N raw bytes. read_raw() consumes them (framer buffer first, then
// the socket); send_file() queues a header line plus a byte range of a file.

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "platform/asio/asio.hpp"
#include "platform/protocol/line_framer.hpp"

namespace gamestore::net {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

class NdjsonChannel {
  public:
    NdjsonChannel(tcp::socket socket, std::size_t max_line);

    NdjsonChannel(const NdjsonChannel&) = delete;
    NdjsonChannel& operator=(const NdjsonChannel&) = delete;

    // Next Line or TooLarge frame; nullopt once the peer closed or the channel
    // was closed locally.
    awaitable<std::optional<protocol::FrameResult>> read_frame();

    // With this on, when the peer ends the stream cleanly (EOF) after an
    // unterminated last line, read_frame() returns that line as a Line before
    // nullopt: a one-shot sender need not end its only message with "\n"
    // (the control plane, where other people's games send one-shot reports).
    // A reset or other read error drops such a fragment: it may be cut
    // anywhere. Off by default: the lobby protocol's lines end with "\n".
    void accept_unterminated_last_line(bool on) { accept_unterminated_ = on; }

    // Reads exactly n raw bytes and hands them to sink in pieces. False if the
    // connection ended first (the sink has seen what arrived).
    awaitable<bool> read_raw(std::uint64_t n, const std::function<void(std::string_view)>& sink);

    // Queue a complete line (it must end with '\n').
    void send(std::string line);
    // The same for bytes shared with other channels (one encoded batch queued
    // on many connections): queued by reference, never copied.
    void send_shared(std::shared_ptr<const std::string> lines);
    // The line head + *body + tail, `body` shared and never copied (an answer
    // kept serialised, wrapped in the envelope of one request): written
    // with one gathering send when the socket takes it all.
    void send_wrapped(std::string head, std::shared_ptr<const std::string> body, std::string tail);
    // Queue a header line followed by `length` bytes of `file` from `offset`.
    void send_file(std::string header_line, std::filesystem::path file, std::uint64_t offset,
                   std::uint64_t length);

    // Drains the queue until close(); run it once per channel (co_spawn).
    awaitable<void> run_writer();

    // Closes the socket and wakes the writer; pending frames are dropped.
    void close();
    // Closes once everything queued so far has been written (graceful goodbye).
    void close_after_flush();

    bool is_open() const { return open_; }
    // Frames not yet completely written, the one being written included.
    std::size_t queued() const { return queue_.size() + (writing_ ? 1 : 0); }
    tcp::socket& socket() { return socket_; }
    std::string remote_endpoint_text() const { return remote_; }
    std::string local_address_text() const { return local_address_; }

  private:
    struct Outbound {
        std::string header;
        std::shared_ptr<const std::string> shared;  // written after header when set
        std::string trailer;                        // written after shared
        std::optional<std::filesystem::path> file;
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };

    awaitable<bool> write_file_range(const Outbound& item);
    // With nothing queued or being written, writes what the socket takes of
    // `parts` (in order, one gathering send) without blocking and returns how
    // many bytes; 0 otherwise.
    std::size_t write_now(std::initializer_list<std::string_view> parts);

    tcp::socket socket_;
    protocol::LineFramer framer_;
    std::deque<Outbound> queue_;
    asio::steady_timer wake_;
    std::string read_buffer_;
    std::string remote_;
    std::string local_address_;
    bool open_ = true;
    bool close_when_drained_ = false;
    bool writing_ = false;        // run_writer() is in the middle of a frame
    bool peer_finished_ = false;  // the peer closed its side (EOF was read)
    bool accept_unterminated_ = false;
};

// "HOST:PORT" parsing shared by every flag that takes an endpoint. IPv6 hosts
// go in brackets: "[::1]:16534".
struct HostPort {
    std::string host;
    std::uint16_t port = 0;
    std::string to_string() const;
};
std::optional<HostPort> parse_host_port(std::string_view text, std::string* error = nullptr);

// Opens, binds (SO_REUSEADDR) and listens; throws std::runtime_error naming
// `what` (e.g. "--listen") and the address when that fails.
void open_listener(tcp::acceptor& acceptor, const HostPort& where, const std::string& what);

}  // namespace gamestore::net
