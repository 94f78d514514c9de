// `fakegame client`: handshakes with the game server, sends one move, prints
// one JSON result line on stdout and exits 0; on failure it prints a result
// line too and exits non-zero (options.hpp lists the codes).
#include <poll.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "fakegames/options.hpp"
#include "gamestore/sdk.hpp"

namespace gamestore::fakegames {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

void log(const std::string& line) {
    const std::string text = "fakegame client: " + line + "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
}

int print_result(nlohmann::json result, int code) {
    result["exit_code"] = code;
    std::cout << result.dump() << std::endl;
    return code;
}

// The move a player makes when --move is not given: stable per name, so a
// test can predict the winner.
int default_move(const std::string& name) {
    unsigned sum = 0;
    for (const unsigned char c : name) {
        sum = sum * 31 + c;
    }
    return static_cast<int>(sum % 100);
}

std::chrono::milliseconds left_until(Clock::time_point deadline) {
    return std::max(1ms,
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

// Waits a little before the next connect attempt. False when the deadline
// passed or a stop was requested: give up.
bool retry_pause(Clock::time_point deadline, int stop_fd) {
    if (Clock::now() >= deadline) {
        return false;
    }
    pollfd p{stop_fd, POLLIN, 0};
    const auto wait = std::min(100ms, left_until(deadline));
    return ::poll(&p, 1, static_cast<int>(wait.count())) == 0;
}

}  // namespace

int run_client(const ClientOptions& o) {
    auto& stop = sdk::StopSignal::install();
    sdk::ClientOverrides overrides;
    overrides.host = o.host;
    overrides.port = o.port;
    overrides.player_name = o.player_name;
    std::optional<sdk::ClientContext> loaded;
    try {
        loaded = sdk::ClientContext::from_env(overrides);
    } catch (const sdk::ContextError& e) {
        log(e.what());
        return print_result({{"result", "bad_environment"}, {"error", e.what()}}, kExitUsage);
    }
    const auto& ctx = *loaded;
    const std::string where = ctx.host() + ":" + std::to_string(ctx.port());
    nlohmann::json base{
        {"player", ctx.player_name()}, {"match_id", ctx.match_id()}, {"server", where}};

    if (o.no_handshake) {
        // Connect and say nothing: a correct server drops us after its
        // handshake timeout and keeps serving everyone else.
        sdk::LineConnection conn;
        std::string error;
        const auto deadline = Clock::now() + o.connect_timeout;
        while (!conn.is_open()) {
            try {
                conn = sdk::LineConnection(
                    sdk::connect_tcp(ctx.host(), ctx.port(), left_until(deadline), stop.fd()));
            } catch (const sdk::NetError& e) {
                error = e.what();
                if (o.connect_before_in_game || !retry_pause(deadline, stop.fd())) {
                    base["result"] = "connect_failed";
                    base["error"] = error;
                    return print_result(base, kExitTimeout);
                }
            }
        }
        log("connected to " + where + "; holding the socket without a handshake");
        const auto start = Clock::now();
        auto r = conn.read_line(o.hold, stop.fd());
        // Whatever the server sends (a rejection line, then EOF) counts as closing.
        while (r.ok()) {
            base["server_said"] = r.line.substr(0, 200);
            r = conn.read_line(left_until(start + o.hold), stop.fd());
        }
        base["result"] = "no_handshake";
        base["server_closed"] = r.status == sdk::ReadStatus::Closed;
        base["held_ms"] =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
        return print_result(base, kExitOk);
    }

    sdk::HandshakeRequest request = sdk::HandshakeRequest::from(ctx);
    if (o.wrong_token) {
        request.client_token = "fakegame-wrong-client-token";
    }
    // A normal client retries refused connects for a moment (the server may
    // still be coming up); --connect-before-in-game makes exactly one attempt.
    const auto deadline = Clock::now() + o.connect_timeout;
    std::optional<sdk::ClientConnection> session;
    std::string last_error;
    int attempts = 0;
    for (;;) {
        ++attempts;
        try {
            session =
                sdk::connect_and_handshake(ctx.host(), ctx.port(), request, left_until(deadline));
            break;
        } catch (const std::exception& e) {
            last_error = e.what();
        }
        if (o.connect_before_in_game || !retry_pause(deadline, stop.fd())) {
            break;
        }
    }
    base["attempts"] = attempts;
    if (!session) {
        log(last_error);
        base["result"] = "connect_failed";
        base["error"] = last_error;
        return print_result(base, kExitTimeout);
    }
    if (!session->response.ok) {
        log("the server refused the handshake: " + session->response.reason);
        base["result"] = "rejected";
        base["reason"] = session->response.reason;
        return print_result(base, kExitRejected);
    }
    base["player_index"] = session->response.assigned_player_index.value_or(-1);
    if (o.connect_before_in_game) {
        // The sim asks "could a client get in before IN_GAME?": it could.
        base["result"] = "accepted";
        return print_result(base, kExitOk);
    }

    if (o.think.count() > 0) {
        log("in the game as player " + std::to_string(base["player_index"].get<int>()) + "; thinking for " +
            std::to_string(o.think.count()) + " ms before moving");
        pollfd p{stop.fd(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(o.think.count())) != 0) {
            base["result"] = "stopped";
            return print_result(base, kExitProtocol);
        }
    }
    const int move = o.move.value_or(default_move(ctx.player_name()));
    if (auto error = session->connection.try_send_line(nlohmann::json{{"move", move}}.dump(), 5s);
        !error.empty()) {
        base["result"] = "protocol_error";
        base["error"] = "sending the move failed: " + error;
        return print_result(base, kExitProtocol);
    }
    auto reply = session->connection.read_line(o.result_timeout, stop.fd());
    if (reply.status == sdk::ReadStatus::Interrupted) {
        base["result"] = "stopped";
        return print_result(base, kExitOk);
    }
    const auto board = nlohmann::json::parse(reply.line, nullptr, false);
    if (!reply.ok() || !board.is_object() || !board.contains("scoreboard")) {
        base["result"] = "protocol_error";
        base["error"] = reply.ok() ? "unexpected reply: " + reply.line.substr(0, 200)
                                   : std::string("no scoreboard: ") + sdk::to_string(reply.status);
        return print_result(base, kExitProtocol);
    }
    base["result"] = "finished";
    base["move"] = move;
    base["outcome"] = board.value("outcome", "");
    base["scoreboard"] = board["scoreboard"];
    return print_result(base, kExitOk);
}

}  // namespace gamestore::fakegames
