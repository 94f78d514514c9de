#pragma once
// Client <-> game server handshake v1: the first line on a game connection.
//   client -> server {"room_id":int,"match_id":str,"player_name":str,
//                     "client_token":str,"client_protocol_version":1}
//   server -> client {"ok":bool,"reason":str?,"assigned_player_index":int?,
//                     "game_protocol_version":int?}

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gamestore/sdk/context.hpp"
#include "gamestore/sdk/net.hpp"

namespace gamestore::sdk {

// The handshake went wrong on the wire (connect failed, no or malformed
// reply). A clean rejection by the server is not an error: see
// HandshakeResponse::ok.
class HandshakeError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct HandshakeRequest {
    std::int64_t room_id = 0;
    std::string match_id;
    std::string player_name;
    std::string client_token;  // secret
    int client_protocol_version = kProtocolVersion;

    static HandshakeRequest from(const ClientContext& ctx) {
        return {ctx.room_id(), ctx.match_id(), ctx.player_name(), ctx.client_token(),
                kProtocolVersion};
    }

    std::string to_line() const {
        return nlohmann::json{{"room_id", room_id},
                              {"match_id", match_id},
                              {"player_name", player_name},
                              {"client_token", client_token},
                              {"client_protocol_version", client_protocol_version}}
            .dump();
    }
};

struct HandshakeResponse {
    bool ok = false;
    std::string reason;  // why the server refused (may be empty when ok)
    std::optional<int> assigned_player_index;
    std::optional<int> game_protocol_version;

    std::string to_line() const {
        nlohmann::json j{{"ok", ok}};
        if (!reason.empty()) {
            j["reason"] = reason;
        }
        if (assigned_player_index) {
            j["assigned_player_index"] = *assigned_player_index;
        }
        if (game_protocol_version) {
            j["game_protocol_version"] = *game_protocol_version;
        }
        return j.dump();
    }

    // Throws HandshakeError when the line is not a v1 handshake response.
    static HandshakeResponse parse(std::string_view line) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            throw HandshakeError("handshake response is not a JSON object");
        }
        const auto ok = j.find("ok");
        if (ok == j.end() || !ok->is_boolean()) {
            throw HandshakeError("handshake response lacks a boolean \"ok\"");
        }
        HandshakeResponse out;
        out.ok = ok->get<bool>();
        if (auto it = j.find("reason"); it != j.end() && it->is_string()) {
            out.reason = it->get<std::string>();
        }
        if (auto it = j.find("assigned_player_index"); it != j.end() && it->is_number_integer()) {
            out.assigned_player_index = it->get<int>();
        }
        if (auto it = j.find("game_protocol_version"); it != j.end() && it->is_number_integer()) {
            out.game_protocol_version = it->get<int>();
        }
        return out;
    }
};

// A connected, handshaken game connection as seen by the client.
struct ClientConnection {
    LineConnection connection;
    HandshakeResponse response;  // check response.ok before playing
};

// Connects to host:port, sends `request` and reads the reply, all within
// `timeout`. Returns the server's answer, accepted or not; throws
// HandshakeError when there is no usable answer.
inline ClientConnection connect_and_handshake(const std::string& host, int port,
                                              const HandshakeRequest& request,
                                              std::chrono::milliseconds timeout) {
    const auto deadline = detail::Clock::now() + timeout;
    const auto left = [&] {
        return std::max(
            std::chrono::milliseconds(1),
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - detail::Clock::now()));
    };
    const std::string where = host + ":" + std::to_string(port);
    ClientConnection out;
    try {
        out.connection = LineConnection(connect_tcp(host, port, timeout));
    } catch (const NetError& e) {
        throw HandshakeError(e.what());
    }
    if (auto error = out.connection.try_send_line(request.to_line(), left()); !error.empty()) {
        throw HandshakeError("sending the handshake to " + where + " failed: " + error);
    }
    auto reply = out.connection.read_line(left());
    if (!reply) {
        throw HandshakeError("no handshake reply from " + where + " (" + to_string(reply.status) +
                             (reply.error.empty() ? "" : ": " + reply.error) + ")");
    }
    out.response = HandshakeResponse::parse(reply.line);
    return out;
}

// Sends the handshake built from `ctx` (its player name and client token).
inline ClientConnection connect_and_handshake(const std::string& host, int port,
                                              const ClientContext& ctx,
                                              std::chrono::milliseconds timeout) {
    return connect_and_handshake(host, port, HandshakeRequest::from(ctx), timeout);
}

// Uses the advertised HOST and PORT of the launch context.
inline ClientConnection connect_and_handshake(const ClientContext& ctx,
                                              std::chrono::milliseconds timeout) {
    return connect_and_handshake(ctx.host(), ctx.port(), ctx, timeout);
}

// The server's verdict on one handshake line.
struct HandshakeDecision {
    bool ok = false;
    std::string reason;       // set when !ok; safe to send to the client and to log
    int player_index = -1;    // seat in the player list when ok
    std::string player_name;  // as claimed by the request (empty if unreadable)

    HandshakeResponse response(int game_protocol_version = kProtocolVersion) const {
        HandshakeResponse r;
        r.ok = ok;
        r.reason = reason;
        r.game_protocol_version = game_protocol_version;
        if (ok) {
            r.assigned_player_index = player_index;
        }
        return r;
    }
};

namespace detail {

// Compares secrets without an early exit, so response time does not reveal
// how many leading characters were right.
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = std::max(a.size(), b.size());
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

}  // namespace detail

// Checks handshakes against the match this server was launched for and
// remembers who has joined. Thread-safe.
class HandshakeValidator {
  public:
    HandshakeValidator(std::int64_t room_id, std::string match_id, std::string client_token,
                       std::vector<std::string> players)
        : room_id_(room_id),
          match_id_(std::move(match_id)),
          client_token_(std::move(client_token)),
          players_(std::move(players)),
          joined_(players_.size(), false) {}

    explicit HandshakeValidator(const ServerContext& ctx)
        : HandshakeValidator(ctx.room_id(), ctx.match_id(), ctx.client_token(), ctx.players()) {}

    // Validates one request line; on success the player counts as joined.
    HandshakeDecision validate(std::string_view request_line) {
        HandshakeDecision d;
        const auto j = nlohmann::json::parse(request_line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            d.reason = "handshake is not a JSON object";
            return d;
        }
        const auto field = [&](const char* name, bool (nlohmann::json::*is)() const noexcept,
                               const char* type) -> const nlohmann::json* {
            const auto it = j.find(name);
            if (it == j.end() || !((*it).*is)()) {
                if (d.reason.empty()) {
                    d.reason = std::string("handshake field \"") + name + "\" must be " + type;
                }
                return nullptr;
            }
            return &*it;
        };
        // Liberal like the platform's codec: room_id may be a decimal string
        // (clients forward ROOM_ID from their environment) and a missing
        // client_protocol_version means 1.
        std::optional<std::int64_t> room;
        if (const auto it = j.find("room_id"); it != j.end() && it->is_number_integer()) {
            room = it->get<std::int64_t>();
        } else if (it != j.end() && it->is_string()) {
            room = detail::parse_int<std::int64_t>(it->get<std::string>());
        }
        if (!room) {
            d.reason = "handshake field \"room_id\" must be an integer";
        }
        const auto* match = field("match_id", &nlohmann::json::is_string, "a string");
        const auto* name = field("player_name", &nlohmann::json::is_string, "a string");
        const auto* token = field("client_token", &nlohmann::json::is_string, "a string");
        std::int64_t version = kProtocolVersion;
        if (const auto it = j.find("client_protocol_version"); it != j.end()) {
            if (!it->is_number_integer()) {
                if (d.reason.empty()) {
                    d.reason = "handshake field \"client_protocol_version\" must be an integer";
                }
                return d;
            }
            version = it->get<std::int64_t>();
        }
        if (name) {
            d.player_name = name->get<std::string>();
        }
        if (!room || !match || !name || !token) {
            return d;
        }
        if (version != kProtocolVersion) {
            d.reason = "unsupported client_protocol_version " + std::to_string(version) +
                       " (this server speaks " + std::to_string(kProtocolVersion) + ")";
            return d;
        }
        if (match->get<std::string>() != match_id_) {
            d.reason = "stale or unknown match_id (this server runs another match)";
            return d;
        }
        if (*room != room_id_) {
            d.reason = "wrong room_id";
            return d;
        }
        if (!detail::constant_time_equal(token->get<std::string>(), client_token_)) {
            d.reason = "invalid client_token";
            return d;
        }
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < players_.size(); ++i) {
            if (players_[i] != d.player_name) {
                continue;
            }
            if (joined_[i]) {
                d.reason = "player \"" + d.player_name + "\" has already joined";
                return d;
            }
            joined_[i] = true;
            d.ok = true;
            d.player_index = static_cast<int>(i);
            return d;
        }
        d.reason = "player \"" + d.player_name + "\" is not in this match";
        return d;
    }

    // The player's connection is gone before the game began; they may join again.
    void release(std::string_view player) {
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < players_.size(); ++i) {
            if (players_[i] == player) {
                joined_[i] = false;
            }
        }
    }

    const std::vector<std::string>& players() const noexcept { return players_; }
    std::size_t joined_count() const {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::count(joined_.begin(), joined_.end(), true));
    }
    bool all_joined() const { return joined_count() == players_.size(); }

  private:
    std::int64_t room_id_;
    std::string match_id_;
    std::string client_token_;
    std::vector<std::string> players_;
    mutable std::mutex mutex_;
    std::vector<bool> joined_;
};

// A player whose handshake was accepted.
struct PlayerConnection {
    int index = -1;
    std::string name;
    LineConnection connection;
};

enum class AcceptStatus {
    AllJoined,    // every expected player handshook
    TimedOut,     // the overall timeout passed first
    Interrupted,  // the interrupt fd became readable (e.g. SIGTERM)
};

struct AcceptResult {
    AcceptStatus status = AcceptStatus::TimedOut;
    std::vector<PlayerConnection> players;  // sorted by index
    std::size_t rejected = 0;               // handshakes answered with ok:false
    std::size_t unanswered = 0;             // accepted, but the reply could not be sent
};

struct AcceptOptions {
    // How long to wait for all players in total.
    std::chrono::milliseconds timeout{std::chrono::seconds(60)};
    // How long one connection may take to send its handshake line; a client
    // that connects and says nothing must not hold a seat.
    std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
    int interrupt_fd = -1;
    int game_protocol_version = kProtocolVersion;
    // Connections waiting for their handshake at once; more are refused.
    std::size_t max_pending = 64;
    // Called for every answered handshake (for logging); never sees tokens.
    std::function<void(const std::string& peer, const HandshakeDecision&)> on_decision{};
};

// Decides on one handshake line. The default is HandshakeValidator::validate.
using AdmitFunction = std::function<HandshakeDecision(std::string_view request_line)>;
// Gives back the seat of a player whom `admit` accepted but who never got the
// {"ok":true} reply (the connection failed while it was sent). The default is
// HandshakeValidator::release. Without it the player could never reconnect:
// every later handshake would be refused as "already joined".
using ReleaseFunction = std::function<void(const std::string& player_name)>;

// Accepts connections and answers handshakes, several at a time, until
// `expected` players were admitted, the timeout passes, or interrupt_fd fires.
// Rejected connections get their {"ok":false,...} reply and are closed. An
// accepted player whose reply cannot be sent is handed to `release` (may be
// empty when `admit` keeps no seats) and the connection is closed.
inline AcceptResult accept_players(GameServerSocket& listener, std::size_t expected,
                                   const AdmitFunction& admit, const ReleaseFunction& release,
                                   const AcceptOptions& options = {}) {
    using detail::Clock;
    struct Pending {
        LineConnection connection;
        Clock::time_point deadline;
    };
    AcceptResult result;
    std::vector<Pending> pending;
    const auto deadline = Clock::now() + options.timeout;

    const auto answer = [&](Pending& p, const HandshakeDecision& d) {
        if (options.on_decision) {
            options.on_decision(p.connection.peer(), d);
        }
        const auto error = p.connection.try_send_line(
            d.response(options.game_protocol_version).to_line(), std::chrono::seconds(2));
        if (d.ok && error.empty()) {
            result.players.push_back({d.player_index, d.player_name, std::move(p.connection)});
        } else {
            if (!d.ok) {
                ++result.rejected;
            } else {
                ++result.unanswered;
                if (release) {
                    release(d.player_name);
                }
            }
            p.connection.close();
        }
    };

    while (result.players.size() < expected) {
        if (detail::interrupted(options.interrupt_fd)) {
            result.status = AcceptStatus::Interrupted;
            break;
        }
        const auto now = Clock::now();
        if (now >= deadline) {
            result.status = AcceptStatus::TimedOut;
            break;
        }
        // Drop connections that stayed silent past their handshake deadline.
        auto next_wake = deadline;
        for (auto& p : pending) {
            if (p.connection.is_open() && now >= p.deadline) {
                HandshakeDecision silent;
                silent.reason = "no handshake within " +
                                std::to_string(options.handshake_timeout.count()) + " ms";
                answer(p, silent);
            }
            if (p.connection.is_open()) {
                next_wake = std::min(next_wake, p.deadline);
            }
        }
        std::erase_if(pending, [](const Pending& p) { return !p.connection.is_open(); });

        std::vector<pollfd> fds;
        fds.push_back({listener.fd(), POLLIN, 0});
        if (options.interrupt_fd >= 0) {
            fds.push_back({options.interrupt_fd, POLLIN, 0});
        }
        const std::size_t first_pending = fds.size();
        for (const auto& p : pending) {
            fds.push_back({p.connection.fd(), POLLIN, 0});
        }
        const int rc = ::poll(fds.data(), fds.size(), detail::poll_timeout_ms(next_wake));
        if (rc < 0 && errno != EINTR) {
            throw NetError("poll while accepting players: " + detail::errno_text(errno));
        }
        if (rc <= 0) {
            continue;
        }
        for (std::size_t i = 0; i < pending.size(); ++i) {
            if (fds[first_pending + i].revents == 0) {
                continue;
            }
            auto& p = pending[i];
            auto read = p.connection.poll_line();
            if (read.status == ReadStatus::Timeout) {
                continue;  // partial line so far
            }
            if (read.status != ReadStatus::Line) {
                if (read.status == ReadStatus::TooLong) {
                    HandshakeDecision too_long;
                    too_long.reason = "handshake line too long";
                    answer(p, too_long);
                } else {
                    p.connection.close();
                }
                continue;
            }
            answer(p, admit(read.line));
        }
        if (fds[0].revents & POLLIN) {
            while (auto conn = listener.try_accept()) {
                if (pending.size() >= options.max_pending) {
                    continue;  // refused: the LineConnection closes as it goes out of scope
                }
                pending.push_back({std::move(*conn), Clock::now() + options.handshake_timeout});
            }
        }
    }
    if (result.players.size() >= expected) {
        result.status = AcceptStatus::AllJoined;
    }
    std::sort(
        result.players.begin(), result.players.end(),
        [](const PlayerConnection& a, const PlayerConnection& b) { return a.index < b.index; });
    return result;
}

// Admits exactly the players of `validator`'s list.
inline AcceptResult accept_players(GameServerSocket& listener, HandshakeValidator& validator,
                                   const AcceptOptions& options = {}) {
    return accept_players(
        listener, validator.players().size(),
        [&validator](std::string_view line) { return validator.validate(line); },
        [&validator](const std::string& player) { validator.release(player); }, options);
}

}  // namespace gamestore::sdk
