// Minimal gamestore game server: every player sends {"number":n}; the highest
// number wins. Shows the whole protocol v1 life cycle with the C++ SDK:
// read the launch env, listen, report STARTED, admit players by handshake,
// play, report END with a result per player, exit cleanly on SIGTERM.
#include <algorithm>
#include <chrono>
#include <iostream>

#include "gamestore/sdk.hpp"

namespace sdk = gamestore::sdk;
using namespace std::chrono_literals;

int main() try {
    auto& stop = sdk::StopSignal::install();          // SIGTERM -> pollable fd
    const auto ctx = sdk::ServerContext::from_env();  // names every missing variable
    sdk::GameServerSocket listener(ctx.bind_host(), ctx.port());
    sdk::HandshakeValidator validator(ctx);
    sdk::Reporter reporter(ctx);
    // Listening and able to validate handshakes: now, and not before, STARTED.
    reporter.started(listener.port());  // also starts heartbeats

    auto joined =
        sdk::accept_players(listener, validator, {.timeout = 60s, .interrupt_fd = stop.fd()});
    if (joined.status == sdk::AcceptStatus::Interrupted) {
        return 0;  // the platform stopped the match
    }
    if (joined.status != sdk::AcceptStatus::AllJoined) {
        reporter.error("not every player joined within 60 s");
        reporter.flush(5s);
        return 1;
    }

    std::vector<sdk::PlayerResult> results;
    for (auto& p : joined.players) {
        auto line = p.connection.read_line(30s, stop.fd());
        const auto msg = nlohmann::json::parse(line.line, nullptr, false);
        if (!line || !msg.is_object() || !msg.contains("number") || !msg["number"].is_number()) {
            results.push_back({.player = p.name, .outcome = sdk::Outcome::Quit});
            continue;
        }
        results.push_back({.player = p.name, .score = msg["number"].get<double>()});
    }
    double best = -1e300;
    for (const auto& r : results) {
        best = std::max(best, r.score.value_or(-1e300));
    }
    const auto winners = std::count_if(results.begin(), results.end(),
                                       [&](const auto& r) { return r.score && *r.score == best; });
    for (auto& r : results) {
        if (r.score) {
            r.outcome = *r.score < best ? sdk::Outcome::Lose
                                        : (winners > 1 ? sdk::Outcome::Draw : sdk::Outcome::Win);
            r.rank = *r.score < best ? 2 : 1;
        }
    }
    auto board = nlohmann::json::array();
    for (const auto& r : results) {
        board.push_back(r.to_json());
    }
    for (auto& p : joined.players) {
        (void)p.connection.try_send_line(nlohmann::json{{"results", board}}.dump(), 2s);
    }
    reporter.end(results, {{"reason", "every number received"}});
    reporter.flush(5s);  // deliver END before exiting
    return 0;
} catch (const std::exception& e) {
    std::cerr << "minimal_server: " << e.what() << '\n';
    return 1;
}
