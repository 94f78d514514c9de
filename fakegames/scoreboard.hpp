#pragma once
// The rules of fakegame's scripted exchange, kept free of I/O so they can be
// tested directly: every player sends {"move":n}; the highest n wins.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gamestore/sdk/reporter.hpp"

namespace gamestore::fakegames {

struct PlayerMove {
    std::string player;
    int index = -1;           // seat from the handshake
    std::optional<int> move;  // nullopt when the player sent nothing usable
    bool left = false;        // connection closed or timed out: QUIT
};

// Parses one move line {"move":<int>}; nullopt if it is anything else.
std::optional<int> parse_move(std::string_view line);

// Results in seat order. Players with a move get score = move and a
// competition rank (1224 style: ties share a rank, the next rank skips);
// the single best is WIN, several best are DRAW, the rest LOSE. A player who
// left is QUIT and one who sent garbage is ERROR, both unranked and unscored.
std::vector<sdk::PlayerResult> score_moves(const std::vector<PlayerMove>& moves);

// The line the server sends each player after the exchange.
std::string scoreboard_line(const std::vector<sdk::PlayerResult>& results, std::string_view player);

}  // namespace gamestore::fakegames
