#include <catch2/catch.hpp>

#include <string>
#include <variant>
#include <vector>

#include "platform/protocol/semver.hpp"

using namespace gamestore::protocol;

namespace {

SemVer v(const char* text) {
    auto parsed = parse_semver_detailed(text);
    if (const auto* error = std::get_if<std::string>(&parsed)) {
        FAIL(*error);
    }
    return std::get<SemVer>(parsed);
}

std::string why(const std::string& text) {
    auto parsed = parse_semver_detailed(text);
    REQUIRE(std::holds_alternative<std::string>(parsed));
    CHECK_FALSE(parse_semver(text));
    return std::get<std::string>(parsed);
}

void check_strictly_increasing(const std::vector<const char*>& chain) {
    for (std::size_t i = 0; i < chain.size(); ++i) {
        for (std::size_t j = 0; j < chain.size(); ++j) {
            INFO(chain[i] << " vs " << chain[j]);
            const int expected = i < j ? -1 : (i > j ? 1 : 0);
            CHECK(compare(v(chain[i]), v(chain[j])) == expected);
            CHECK((v(chain[i]) < v(chain[j])) == (i < j));
            CHECK((v(chain[i]) == v(chain[j])) == (i == j));
        }
    }
}

}  // namespace

TEST_CASE("semver: parse", "[semver]") {
    const SemVer a = v("1.2.3-rc.1+build.5");
    CHECK(a.major == 1);
    CHECK(a.minor == 2);
    CHECK(a.patch == 3);
    CHECK(a.prerelease == std::vector<std::string>{"rc", "1"});
    CHECK(a.build == "build.5");
    CHECK(a.to_string() == "1.2.3-rc.1+build.5");

    for (const char* text :
         {"0.0.0", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--", "1.0.0+20130313144700",
          "1.0.0-beta+exp.sha.5114f85", "1.0.0+21AF26D3----117B344092BD", "1.0.0+001",
          "18446744073709551615.18446744073709551615.18446744073709551615"}) {
        INFO(text);
        CHECK(v(text).to_string() == text);
    }
}

TEST_CASE("semver: the spec's precedence chain", "[semver]") {
    check_strictly_increasing({"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                               "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"});
    check_strictly_increasing({"1.0.0", "2.0.0", "2.1.0", "2.1.1"});
    check_strictly_increasing({"0.9.9", "0.10.0", "1.0.0-0", "1.0.0-1", "1.0.0-9", "1.0.0-10",
                               "1.0.0-99999999999999999999999", "1.0.0-A", "1.0.0-a", "1.0.0-a.b"});
}

TEST_CASE("semver: build metadata is ignored in precedence", "[semver]") {
    CHECK(compare(v("1.0.0+a"), v("1.0.0+b")) == 0);
    CHECK(v("1.0.0+a") == v("1.0.0"));
    CHECK(v("1.0.0-rc.1+x") < v("1.0.0"));
    CHECK(v("1.0.0+a").to_string() != v("1.0.0+b").to_string());
}

TEST_CASE("semver: invalid versions are refused with a reason", "[semver]") {
    CHECK(why("01.0.0") ==
          "\"01.0.0\" is not a valid semantic version: major version has a leading zero");
    CHECK(why("1.01.0").find("minor version has a leading zero") != std::string::npos);
    CHECK(why("1.0").find("exactly three numbers") != std::string::npos);
    CHECK(why("1.0.0.0").find("exactly three numbers") != std::string::npos);
    CHECK(why("v1.0.0").find("major version \"v1\" is not a decimal number") != std::string::npos);
    CHECK(why("1.0.0-").find("pre-release after '-' is empty") != std::string::npos);
    CHECK(why("1.0.0+").find("build metadata after '+' is empty") != std::string::npos);
    CHECK(why("1.0.0-01").find("pre-release identifier \"01\" has a leading zero") !=
          std::string::npos);
    CHECK(why("1.0.0-alpha..1").find("empty identifier") != std::string::npos);
    CHECK(why("1.0.0-al_pha").find("may only contain") != std::string::npos);
    CHECK(why("1.0.0+b..1").find("empty identifier") != std::string::npos);
    CHECK(why("18446744073709551616.0.0").find("major version is too large") != std::string::npos);
    CHECK(why("1.0.99999999999999999999").find("patch version is too large") != std::string::npos);
    CHECK(why("") == "\"\" is not a valid semantic version: it is empty");
    for (const char* text : {" 1.0.0", "1.0.0 ", "1.0.0\n", "1. 0.0", "1.0.0-a b", "-1.0.0",
                             "+1.0.0", "1.0.-0", "1..0", "a.b.c", "1.0.0+b+c", "1.0.0-\xC3\xA9"}) {
        INFO(text);
        CHECK_FALSE(parse_semver(text));
    }
    // The reason stays on one line whatever was typed.
    CHECK(why("1.0\n0").find('\n') == std::string::npos);
}
