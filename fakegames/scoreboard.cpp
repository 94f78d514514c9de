#include "fakegames/scoreboard.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace gamestore::fakegames {

std::optional<int> parse_move(std::string_view line) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) {
        return std::nullopt;
    }
    const auto it = j.find("move");
    if (it == j.end() || !it->is_number_integer()) {
        return std::nullopt;
    }
    const auto value = it->get<long long>();
    if (value < -1000000000LL || value > 1000000000LL) {
        return std::nullopt;
    }
    return static_cast<int>(value);
}

std::vector<sdk::PlayerResult> score_moves(const std::vector<PlayerMove>& moves) {
    std::vector<PlayerMove> seated = moves;
    std::sort(seated.begin(), seated.end(),
              [](const PlayerMove& a, const PlayerMove& b) { return a.index < b.index; });

    std::optional<int> best;
    for (const auto& m : seated) {
        if (m.move && !m.left) {
            best = best ? std::max(*best, *m.move) : *m.move;
        }
    }
    const auto best_count = std::count_if(seated.begin(), seated.end(), [&](const PlayerMove& m) {
        return m.move && !m.left && m.move == best;
    });

    std::vector<sdk::PlayerResult> results;
    for (const auto& m : seated) {
        sdk::PlayerResult r;
        r.player = m.player;
        if (m.left) {
            r.outcome = sdk::Outcome::Quit;
        } else if (!m.move) {
            r.outcome = sdk::Outcome::Error;
        } else {
            // Competition rank: one plus the number of strictly better moves.
            const auto better = std::count_if(
                seated.begin(), seated.end(),
                [&](const PlayerMove& o) { return o.move && !o.left && *o.move > *m.move; });
            r.rank = static_cast<int>(better) + 1;
            r.score = *m.move;
            if (*m.move == *best) {
                r.outcome = best_count > 1 ? sdk::Outcome::Draw : sdk::Outcome::Win;
            } else {
                r.outcome = sdk::Outcome::Lose;
            }
        }
        results.push_back(std::move(r));
    }
    return results;
}

std::string scoreboard_line(const std::vector<sdk::PlayerResult>& results,
                            std::string_view player) {
    nlohmann::json board = nlohmann::json::array();
    std::string outcome;
    for (const auto& r : results) {
        board.push_back(r.to_json());
        if (r.player == player) {
            outcome = sdk::to_string(r.outcome);
        }
    }
    return nlohmann::json{{"scoreboard", board}, {"you", player}, {"outcome", outcome}}.dump();
}

}  // namespace gamestore::fakegames
