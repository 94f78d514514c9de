// The pure parts of fakegame: move parsing, scoring, fault payloads.
#include <catch2/catch.hpp>

#include "fakegames/control_plane_abuse.hpp"
#include "fakegames/scoreboard.hpp"

namespace fg = gamestore::fakegames;
namespace sdk = gamestore::sdk;

TEST_CASE("parse_move accepts {\"move\":int} only", "[fakegame][unit]") {
    CHECK(fg::parse_move(R"({"move":7})") == 7);
    CHECK(fg::parse_move(R"({"move":-3,"extra":true})") == -3);
    CHECK_FALSE(fg::parse_move(R"({"move":"7"})"));
    CHECK_FALSE(fg::parse_move(R"({"move":1.5})"));
    CHECK_FALSE(fg::parse_move(R"({"mov":7})"));
    CHECK_FALSE(fg::parse_move("[7]"));
    CHECK_FALSE(fg::parse_move("garbage"));
    CHECK_FALSE(fg::parse_move(R"({"move":99999999999})"));
}

TEST_CASE("score_moves ranks by move, ties share a rank, leavers and cheats are unranked",
          "[fakegame][unit]") {
    const std::vector<fg::PlayerMove> moves = {
        {"dave", 3, std::nullopt, true},  // left
        {"bob", 1, 9, false},
        {"alice", 0, 5, false},
        {"carol", 2, 9, false},
        {"erin", 4, std::nullopt, false},  // sent garbage
    };
    const auto results = fg::score_moves(moves);
    REQUIRE(results.size() == 5);
    // Seat order.
    CHECK(results[0].player == "alice");
    CHECK(results[1].player == "bob");
    CHECK(results[4].player == "erin");

    CHECK(results[1].outcome == sdk::Outcome::Draw);
    CHECK(results[1].rank == 1);
    CHECK(results[2].outcome == sdk::Outcome::Draw);
    CHECK(results[2].rank == 1);
    CHECK(results[0].outcome == sdk::Outcome::Lose);
    CHECK(results[0].rank == 3);
    CHECK(results[0].score == 5.0);
    CHECK(results[3].outcome == sdk::Outcome::Quit);
    CHECK_FALSE(results[3].rank);
    CHECK_FALSE(results[3].score);
    CHECK(results[4].outcome == sdk::Outcome::Error);
    CHECK_FALSE(results[4].rank);
}

TEST_CASE("A single best move wins", "[fakegame][unit]") {
    const auto results = fg::score_moves({{"alice", 0, 1, false}, {"bob", 1, 2, false}});
    CHECK(results[1].outcome == sdk::Outcome::Win);
    CHECK(results[0].outcome == sdk::Outcome::Lose);
    const auto line = nlohmann::json::parse(fg::scoreboard_line(results, "bob"));
    CHECK(line["you"] == "bob");
    CHECK(line["outcome"] == "WIN");
    CHECK(line["scoreboard"].size() == 2);
}

TEST_CASE("The oversized line has exactly the requested size and no secret", "[fakegame][unit]") {
    for (const std::size_t n : {std::size_t{1}, std::size_t{10}, std::size_t{60},
                                std::size_t{65537}, std::size_t{100000}}) {
        const auto line = fg::make_oversized_line(n, "m-1");
        CHECK(line.size() == n);
        CHECK(line.find('\n') == std::string::npos);
    }
    const auto big = fg::make_oversized_line(100000, "m-1");
    const auto parsed = nlohmann::json::parse(big);
    CHECK(parsed["match_id"] == "m-1");
    CHECK(parsed["status"] == "HEARTBEAT");
    CHECK_FALSE(parsed.contains("report_token"));
}

TEST_CASE("Every malformed line really is malformed JSON", "[fakegame][unit]") {
    for (const auto& line : fg::malformed_lines()) {
        INFO(line);
        CHECK(nlohmann::json::parse(line, nullptr, false).is_discarded());
        CHECK(line.find('\n') == std::string::npos);
    }
}
