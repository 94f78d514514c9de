#include "validator/output_capture.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>


namespace gamestore::validator {

namespace {
constexpr std::size_t kTailBytes = 64 * 1024;
}

struct OutputCapture::State {
    State(asio::io_context& io, int read_fd) : stream(io, read_fd) {}

    asio::posix::stream_descriptor stream;
    std::filesystem::path log_file;
    int file_fd = -1;
    int write_fd = -1;
    std::size_t cap = 0;
    std::size_t written = 0;
    bool truncated = false;
    mutable std::mutex mutex;
    std::string tail;  // the last kTailBytes of output

    ~State() {
        if (file_fd >= 0) ::close(file_fd);
        if (write_fd >= 0) ::close(write_fd);
    }

    void append(const char* data, std::size_t n) {
        if (written < cap) {
            const std::size_t take = std::min(n, cap - written);
            std::size_t done = 0;
            while (done < take) {
                const ssize_t w = ::write(file_fd, data + done, take - done);
                if (w <= 0) {
                    break;
                }
                done += static_cast<std::size_t>(w);
            }
            written += take;
            if (take < n && !truncated) {
                truncated = true;
                const std::string note = "\n[validate_game_package: log capped at " + std::to_string(cap) +
                                         " bytes; the rest was dropped]\n";
                [[maybe_unused]] auto ignored = ::write(file_fd, note.data(), note.size());
            }
        }
        std::lock_guard lock(mutex);
        tail.append(data, n);
        if (tail.size() > kTailBytes) {
            tail.erase(0, tail.size() - kTailBytes);
        }
    }
};

OutputCapture::OutputCapture(asio::io_context& io, std::filesystem::path log_file, std::size_t file_cap) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    const int file_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (file_fd < 0) {
        const int err = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        throw std::runtime_error("cannot create " + log_file.string() + ": " + std::strerror(err));
    }
    state_ = std::make_shared<State>(io, fds[0]);
    state_->log_file = std::move(log_file);
    state_->file_fd = file_fd;
    state_->write_fd = fds[1];
    state_->cap = file_cap;
    asio::co_spawn(
        io,
        [state = state_]() -> asio::awaitable<void> {
            std::string buffer(16 * 1024, '\0');
            for (;;) {
                boost::system::error_code ec;
                const std::size_t n = co_await state->stream.async_read_some(
                    asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
                if (ec || n == 0) {
                    break;
                }
                state->append(buffer.data(), n);
            }
        },
        asio::detached);
}

OutputCapture::~OutputCapture() {
    // The drain coroutine owns the state too; closing the stream on its own
    // thread ends it.
    asio::post(state_->stream.get_executor(), [state = state_] {
        boost::system::error_code ec;
        state->stream.close(ec);
    });
}

int OutputCapture::write_fd() const {
    return state_->write_fd;
}

void OutputCapture::writer_spawned() {
    if (state_->write_fd >= 0) {
        ::close(state_->write_fd);
        state_->write_fd = -1;
    }
}

std::vector<std::string> OutputCapture::tail(std::size_t max_lines) const {
    std::string text;
    {
        std::lock_guard lock(state_->mutex);
        text = state_->tail;
    }
    std::vector<std::string> lines;
    std::size_t end = text.size();
    if (end > 0 && text[end - 1] == '\n') {
        --end;
    }
    while (end > 0 && lines.size() < max_lines) {
        const auto start = text.rfind('\n', end - 1);
        const std::size_t from = start == std::string::npos ? 0 : start + 1;
        lines.push_back(text.substr(from, std::min<std::size_t>(end - from, 4096)));
        if (start == std::string::npos) {
            break;
        }
        end = start;
    }
    return {lines.rbegin(), lines.rend()};
}

const std::filesystem::path& OutputCapture::log_file() const {
    return state_->log_file;
}

}  // namespace gamestore::validator
