#include "platform/server/lobby_session.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "platform/protocol/error_code.hpp"
#include "platform/protocol/lobby.hpp"
#include "platform/server/lobby_error.hpp"
#include "platform/server/blocking.hpp"
#include "platform/server/lobby_server.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
using protocol::ErrorCode;

LobbySession::LobbySession(LobbyServer& server, asio::ip::tcp::socket socket, std::uint64_t id)
    : server_(server),
      channel_(std::move(socket), server.config().max_line_bytes),
      id_(id),
      deadline_(channel_.socket().get_executor()),
      last_activity_(std::chrono::steady_clock::now()) {}

void LobbySession::set_signed_in(SignedIn who) {
    signed_in_ = std::move(who);
    arm_deadline();
    server_.session_signed_in(*this);
}

void LobbySession::clear_signed_in() {
    if (!signed_in_) {
        return;
    }
    const SignedIn who = std::move(*signed_in_);
    signed_in_.reset();
    server_.session_signed_out(who);
}

void LobbySession::arm_deadline() {
    // Before sign-in the deadline is the authentication deadline, counted from
    // the connection's start; afterwards it is the idle timeout.
    const auto& config = server_.config();
    if (signed_in_) {
        deadline_.expires_at(last_activity_ + config.idle_timeout);
    }
}

asio::awaitable<void> LobbySession::run() {
    auto self = shared_from_this();
    const auto& config = server_.config();
    spdlog::debug("lobby: session {} opened from {}", id_, channel_.remote_endpoint_text());

    asio::co_spawn(
        channel_.socket().get_executor(),
        [self]() -> asio::awaitable<void> { co_await self->channel_.run_writer(); },
        asio::detached);

    deadline_.expires_after(config.auth_deadline);
    asio::co_spawn(
        channel_.socket().get_executor(),
        [self]() -> asio::awaitable<void> {
            while (self->channel_.is_open()) {
                boost::system::error_code ec;
                co_await self->deadline_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                if (!self->channel_.is_open()) {
                    break;
                }
                if (ec == asio::error::operation_aborted) {
                    continue;  // re-armed
                }
                const auto now = std::chrono::steady_clock::now();
                if (self->deadline_.expiry() > now) {
                    continue;  // re-armed while the wait completed
                }
                // A request does not move the timer (that would cost a
                // cancel and a wake-up per request); the idle deadline is
                // checked against the last activity when it comes due.
                if (self->signed_in_) {
                    const auto idle_until =
                        self->last_activity_ + self->server_.config().idle_timeout;
                    if (idle_until > now) {
                        self->deadline_.expires_at(idle_until);
                        continue;
                    }
                }
                if (!self->signed_in_) {
                    spdlog::info("lobby: session {} closed: not authenticated within {} ms", self->id_,
                                 self->server_.config().auth_deadline.count());
                    self->channel_.send(protocol::encode_error(
                        std::nullopt, ErrorCode::Timeout,
                        fmt::format("authenticate within {:g} s of connecting (auth.login or "
                                    "auth.resume); closing the connection",
                                    self->server_.config().auth_deadline.count() / 1000.0)));
                } else {
                    spdlog::info("lobby: session {} closed after {} ms idle", self->id_,
                                 self->server_.config().idle_timeout.count());
                }
                self->channel_.close_after_flush();
                break;
            }
        },
        asio::detached);

    try {
        while (channel_.is_open()) {
            auto frame = co_await channel_.read_frame();
            if (!frame) {
                break;
            }
            last_activity_ = std::chrono::steady_clock::now();
            if (frame->kind == protocol::FrameResult::Kind::TooLarge) {
                spdlog::warn("lobby: session {} sent a line over {} bytes; closing", id_,
                             config.max_line_bytes);
                channel_.send(protocol::encode_error(
                    std::nullopt, ErrorCode::TooLarge,
                    "request line exceeds the " + std::to_string(config.max_line_bytes) +
                        "-byte limit; closing the connection"));
                channel_.close_after_flush();
                break;
            }
            co_await handle_line(frame->line);
        }
    } catch (const std::exception& e) {
        spdlog::error("lobby: session {} failed: {}", id_, e.what());
    }
    if (!channel_.queued()) {
        channel_.close();
    } else {
        channel_.close_after_flush();
    }
    deadline_.cancel();
    server_.session_ended(*this);
    spdlog::debug("lobby: session {} ended", id_);
}

namespace {

// Writes all of `bytes` to `fd`; false on any error (EINTR is retried).
bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace

asio::awaitable<std::optional<std::filesystem::path>> LobbySession::receive_blob(std::uint64_t bytes) {
    static std::uint64_t counter = 0;
    const auto dir = server_.config().data_dir / "tmp";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    const auto path = dir / ("upload-" + std::to_string(::getpid()) + "-" + std::to_string(id_) +
                             "-" + std::to_string(++counter) + ".part");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        throw LobbyError(ErrorCode::Internal, "the server could not store the upload");
    }
    // The bytes are gathered a slice at a time on this (I/O) thread and
    // written on the blocking pool: a disk that stalls (dirty-page
    // throttling, a full device) then holds a pool thread, never the lobby.
    // Meanwhile the kernel keeps filling the socket buffer, so reading and
    // writing still overlap.
    constexpr std::uint64_t kSlice = 1024 * 1024;
    std::string slice;
    slice.reserve(static_cast<std::size_t>(std::min(bytes, kSlice)));
    bool complete = true;
    bool write_failed = false;
    // Named, not a temporary of the co_await (GCC 12: docs/ARCHITECTURE.md).
    const std::function<void(std::string_view)> gather = [&](std::string_view piece) {
        slice.append(piece);
        last_activity_ = std::chrono::steady_clock::now();
    };
    for (std::uint64_t left = bytes; left > 0 && complete && !write_failed;) {
        const std::uint64_t want = std::min(left, kSlice);
        slice.clear();
        complete = co_await channel_.read_raw(want, gather);
        left -= want;
        if (complete) {
            write_failed = !co_await run_blocking(server_.blocking_pool(), [&] { return write_all(fd, slice); });
        }
    }
    ::close(fd);
    if (!complete || write_failed) {
        std::filesystem::remove(path, ec);
        if (write_failed) {
            throw LobbyError(ErrorCode::Internal, "the server could not store the upload (disk full?)");
        }
        co_return std::nullopt;
    }
    co_return path;
}

asio::awaitable<void> LobbySession::handle_line(const std::string& line) {
    auto parsed = protocol::parse_request(line);
    if (auto* bad = std::get_if<protocol::RequestError>(&parsed)) {
        channel_.send(protocol::encode_error(bad->id, bad->code, bad->message));
        co_return;
    }
    const auto& request = std::get<protocol::Request>(parsed);
    const OpSpec* spec = server_.ops().find(request.op);
    const std::uint64_t blob = request.blob_bytes.value_or(0);

    // A blob that the op cannot take still occupies the stream; the only safe
    // answer is to refuse and end the connection.
    auto refuse_and_close = [&](ErrorCode code, const std::string& message) {
        channel_.send(protocol::encode_error(request.id, code, message));
        channel_.close_after_flush();
    };

    if (!spec) {
        if (blob > 0) {
            refuse_and_close(ErrorCode::UnknownOp, "unknown op '" + request.op + "'");
        } else {
            channel_.send(protocol::encode_error(request.id, ErrorCode::UnknownOp,
                                                 "unknown op '" + request.op + "'"));
        }
        co_return;
    }
    if (const auto& why = server_.unavailable_because(); why && request.op != "ping") {
        if (blob > 0) {
            refuse_and_close(ErrorCode::Unavailable, *why);
        } else {
            channel_.send(protocol::encode_error(request.id, ErrorCode::Unavailable, *why));
        }
        co_return;
    }
    std::optional<std::string> denied;
    ErrorCode denied_code = ErrorCode::Unauthenticated;
    switch (spec->access) {
        case Access::Anyone:
            break;
        case Access::Authenticated:
            if (!signed_in_) denied = "sign in first (auth.login or auth.resume)";
            break;
        case Access::Player:
            if (!signed_in_) {
                denied = "sign in as a player first";
            } else if (signed_in_->role != AccountRole::Player) {
                denied_code = ErrorCode::Forbidden;
                denied = "'" + request.op + "' is for player accounts; this is a developer account";
            }
            break;
        case Access::Developer:
            if (!signed_in_) {
                denied = "sign in as a developer first";
            } else if (signed_in_->role != AccountRole::Developer) {
                denied_code = ErrorCode::Forbidden;
                denied = "'" + request.op + "' is for developer accounts; this is a player account";
            }
            break;
    }
    if (denied) {
        if (blob > 0) {
            refuse_and_close(denied_code, *denied);
        } else {
            channel_.send(protocol::encode_error(request.id, denied_code, *denied));
        }
        co_return;
    }
    if (blob > 0 && spec->max_blob_bytes == 0) {
        refuse_and_close(ErrorCode::BadRequest, "'" + request.op + "' takes no blob");
        co_return;
    }
    if (blob > spec->max_blob_bytes) {
        refuse_and_close(ErrorCode::TooLarge,
                         "the upload is " + std::to_string(blob) + " bytes; the limit is " +
                             std::to_string(spec->max_blob_bytes) + " bytes");
        co_return;
    }

    RequestContext context{*this, request, std::nullopt};
    try {
        if (spec->max_blob_bytes > 0 && request.blob_bytes) {
            context.upload = co_await receive_blob(blob);
            if (!context.upload) {
                spdlog::info("lobby: session {} upload for '{}' was cut after connecting", id_, request.op);
                channel_.close();
                co_return;
            }
        }
        Reply reply = co_await spec->handler(context);
        if (reply.blob) {
            channel_.send_file(protocol::encode_ok(request.id, reply.data, reply.blob->length),
                               reply.blob->file, reply.blob->offset, reply.blob->length);
        } else if (reply.data_text) {
            channel_.send_wrapped(protocol::encode_ok_text_head(request.id),
                                  std::move(reply.data_text), std::string(protocol::kOkTextTail));
        } else {
            channel_.send(protocol::encode_ok(request.id, reply.data));
        }
    } catch (const LobbyError& e) {
        channel_.send(protocol::encode_error(request.id, e.code(), e.what(), e.details()));
    } catch (const std::exception& e) {
        spdlog::error("lobby: op '{}' failed on session {}: {}", request.op, id_, e.what());
        channel_.send(protocol::encode_error(request.id, ErrorCode::Internal,
                                             "the server failed to handle '" + request.op +
                                                 "'; the error is in its log"));
    }
    if (context.upload) {
        std::error_code ec;
        std::filesystem::remove(*context.upload, ec);
    }
}

void LobbySession::push_event(std::string_view name, const nlohmann::json& data) {
    channel_.send(protocol::encode_event(name, data));
}

bool LobbySession::push_lobby_deltas(std::shared_ptr<const std::string> lines) {
    if (channel_.queued() >= kMaxQueuedFramesForDeltas) {
        return false;
    }
    channel_.send_shared(std::move(lines));
    return true;
}

void LobbySession::close_with_event(std::string_view name, const nlohmann::json& data) {
    channel_.send(protocol::encode_event(name, data));
    channel_.close_after_flush();
}

void LobbySession::close() {
    channel_.close();
    deadline_.cancel();
}

}  // namespace gamestore::server
