#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "platform/protocol/text.hpp"

using namespace gamestore::protocol;

TEST_CASE("in_quotes: plain text in single quotes", "[text]") {
    CHECK(in_quotes("serve.py") == "'serve.py'");
    CHECK(in_quotes("") == "''");
    CHECK(in_quotes("Big Two") == "'Big Two'");
    CHECK(in_quotes("say \"hi\"") == "'say \"hi\"'");
    CHECK(in_quotes("caf\xC3\xA9") == "'caf\xC3\xA9'");  // valid UTF-8 is kept
}

TEST_CASE("in_quotes: untrusted text cannot break or forge a line", "[text]") {
    CHECK(in_quotes("a\nb") == "'a?b'");
    CHECK(in_quotes("evil\r\n[info] forged") == "'evil??[info] forged'");
    CHECK(in_quotes(std::string_view("nul\0byte", 8)) == "'nul?byte'");
    CHECK(in_quotes("tab\there") == "'tab?here'");
    CHECK(in_quotes("\x7f") == "'?'");
    CHECK(in_quotes("bad \xC3 utf8") == "'bad ? utf8'");
}

TEST_CASE("in_quotes: long text is cut at a character boundary", "[text]") {
    const std::string ellipsis = "\xE2\x80\xA6";
    CHECK(in_quotes(std::string(10, 'x'), 10) == "'" + std::string(10, 'x') + "'");
    CHECK(in_quotes(std::string(11, 'x'), 10) == "'" + std::string(10, 'x') + ellipsis + "'");
    // A two-byte character that does not fit whole is left out whole.
    CHECK(in_quotes(std::string(9, 'x') + "\xC3\xA9", 10) ==
          "'" + std::string(9, 'x') + ellipsis + "'");
    // The default keeps a long zip path or manifest command whole.
    const std::string path = std::string(200, 'd') + "/file.txt";
    CHECK(in_quotes(path) == "'" + path + "'");
    const std::string huge(kQuotedMaxBytes + 1, 'y');
    CHECK(in_quotes(huge) == "'" + std::string(kQuotedMaxBytes, 'y') + ellipsis + "'");
}

TEST_CASE("join: separators go between the items only", "[text]") {
    const std::vector<std::string> none;
    const std::vector<std::string> one{"alice"};
    const std::vector<std::string> three{"alice", "bob", "carol"};
    CHECK(join(none, ", ").empty());
    CHECK(join(one, ", ") == "alice");
    CHECK(join(three, ", ") == "alice, bob, carol");
    CHECK(join(three, " then ") == "alice then bob then carol");
    CHECK(join(three, "") == "alicebobcarol");
    // Empty items keep their place: the count of separators is exact.
    CHECK(join(std::vector<std::string>{"", "a", ""}, ",") == ",a,");
    const std::array<std::string_view, 3> names{"END", "ERROR", "CRASHED"};
    CHECK(join(names, ", ") == "END, ERROR, CRASHED");
    CHECK(join(std::span<const std::string_view>(), "|").empty());
}
