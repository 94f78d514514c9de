#include <catch2/catch.hpp>

#include <string>

#include "platform/protocol/redact.hpp"

using namespace gamestore::protocol;

TEST_CASE("redact: tokens show a 6-character prefix and an ellipsis", "[redact]") {
    const std::string token = "3f9a1c0e5b7d42a8a1b2c3d4e5f60718";
    CHECK(redact_token(token) == "3f9a1c\xE2\x80\xA6");
    CHECK(redact_token(token).find(token.substr(6, 4)) == std::string::npos);
    CHECK(redact_token("abcdefghijkl") == "abcdef\xE2\x80\xA6");  // 12: 6 shown
}

TEST_CASE("redact: short tokens never show more than half", "[redact]") {
    CHECK(redact_token("abcdefghijk") == "abcde\xE2\x80\xA6");  // 11: 5 shown
    CHECK(redact_token("abcdef") == "abc\xE2\x80\xA6");
    CHECK(redact_token("abcd") == "ab\xE2\x80\xA6");
    CHECK(redact_token("ab") == "a\xE2\x80\xA6");
    CHECK(redact_token("a") == "\xE2\x80\xA6");
    CHECK(redact_token("") == "(empty)");
    for (std::size_t n = 1; n <= 20; ++n) {
        const std::string t(n, 'k');
        const std::string r = redact_token(t);
        const std::size_t shown = r.size() - 3;  // minus the ellipsis bytes
        CHECK(shown * 2 <= n);
        CHECK(shown <= 6);
    }
}

TEST_CASE("redact: forged tokens cannot inject into a log line", "[redact]") {
    CHECK(redact_token("a\nb\x1b[31mcdef") == "a?b?[3\xE2\x80\xA6");
    CHECK(redact_token("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9") == "????\xE2\x80\xA6");
}

TEST_CASE("printable: untrusted text made safe for one log line", "[redact]") {
    CHECK(printable("m-42") == "m-42");
    CHECK(printable("a\nb\tc\x7f") == "a?b?c?");
    CHECK(printable("Jos\xC3\xA9") == "Jos\xC3\xA9");  // valid UTF-8 is kept
    CHECK(printable("bad \xFF\xC3") == "bad ??");
    CHECK(printable("\xED\xA0\x80") == "???");  // a UTF-16 surrogate is not UTF-8
    CHECK(printable(std::string(100, 'x'), 10) == std::string(10, 'x') + "\xE2\x80\xA6");
    // Truncation never splits a character.
    CHECK(printable("abcdefghi\xC3\xA9", 10) == "abcdefghi\xE2\x80\xA6");
    CHECK(printable("abcdefgh\xC3\xA9", 10) == "abcdefgh\xC3\xA9");
}
