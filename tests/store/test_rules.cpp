#include <catch2/catch.hpp>

#include "platform/store/rules.hpp"
#include "platform/store/types.hpp"

using namespace gamestore::store;

TEST_CASE("UTF-8 validation counts code points", "[store][rules]") {
    CHECK(utf8_code_points("") == std::optional<std::size_t>(0));
    CHECK(utf8_code_points("abc") == std::optional<std::size_t>(3));
    CHECK(utf8_code_points("caf\xc3\xa9") == std::optional<std::size_t>(4));
    CHECK(utf8_code_points("\xe2\x82\xac") == std::optional<std::size_t>(1));      // euro sign
    CHECK(utf8_code_points("\xf0\x9f\x8e\xb2") == std::optional<std::size_t>(1));  // game die
    CHECK_FALSE(utf8_code_points("\xc3"));                                         // truncated
    CHECK_FALSE(utf8_code_points("\xc0\xaf"));                                     // overlong '/'
    CHECK_FALSE(utf8_code_points("\xe0\x80\xaf"));      // overlong, 3 bytes
    CHECK_FALSE(utf8_code_points("\xed\xa0\x80"));      // surrogate U+D800
    CHECK_FALSE(utf8_code_points("\xf4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(utf8_code_points("\x80"));              // lone continuation
}

TEST_CASE("text rules", "[store][rules]") {
    CHECK_FALSE(check_game_name("Big Two"));
    CHECK(check_game_name("Tab\tbed"));
    CHECK(check_game_name(std::string(65, 'g')));
    CHECK_FALSE(check_game_name(std::string(64, 'g')));
    CHECK(check_game_name("trailing "));
    CHECK_FALSE(check_long_text("line\nline", "the description"));
    const auto too_long = check_long_text(std::string(4001, 'x'), "the description");
    REQUIRE(too_long);
    CHECK(*too_long == "the description may be at most 4000 characters long (it has 4001)");
}

TEST_CASE("enum spellings round-trip", "[store][rules]") {
    for (const auto status :
         {MatchStatus::Open, MatchStatus::End, MatchStatus::Error, MatchStatus::Aborted,
          MatchStatus::Timeout, MatchStatus::Crashed, MatchStatus::LaunchFailed}) {
        CHECK(parse_match_status(to_string(status)) == status);
    }
    CHECK(to_string(MatchStatus::LaunchFailed) == "LAUNCH_FAILED");
    CHECK(parse_role("developer") == Role::Developer);
    CHECK_FALSE(parse_role("admin"));
    CHECK(parse_game_type("GUI") == GameType::Gui);
    CHECK_FALSE(parse_game_type("gui"));
}
