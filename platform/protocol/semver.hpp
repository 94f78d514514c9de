#pragma once
// Strict Semantic Versioning 2.0.0 (https://semver.org): game versions are
// published once and ordered by these rules, so "1.0" or "v1.0.0" is refused
// rather than guessed at.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gamestore::protocol {

struct SemVer {
    std::uint64_t major = 0;
    std::uint64_t minor = 0;
    std::uint64_t patch = 0;
    std::vector<std::string> prerelease;  // dot-separated identifiers after '-'
    std::string build;                    // text after '+', without it; ignored in ordering

    // Canonical text; parse_semver(v.to_string()) gives v back.
    std::string to_string() const;
};

// nullopt for anything that is not a valid SemVer 2.0.0 string.
std::optional<SemVer> parse_semver(std::string_view text);

// As parse_semver, with the reason on failure, e.g.
// "\"01.0.0\" is not a valid semantic version: major version has a leading zero".
std::variant<SemVer, std::string> parse_semver_detailed(std::string_view text);

// Precedence per SemVer 2.0.0 section 11: numeric major/minor/patch; a
// pre-release sorts before its release; pre-release identifiers compare left
// to right, numeric ones numerically and below alphanumeric ones (ASCII
// order), a shorter list of equal leading identifiers first. Build metadata is
// ignored. Returns <0, 0 or >0.
int compare(const SemVer& a, const SemVer& b);

// Precedence comparisons: 1.0.0+a == 1.0.0+b (equal precedence). Compare
// to_string() where build metadata must count too.
inline std::weak_ordering operator<=>(const SemVer& a, const SemVer& b) {
    const int c = compare(a, b);
    return c < 0 ? std::weak_ordering::less
                 : (c > 0 ? std::weak_ordering::greater : std::weak_ordering::equivalent);
}
inline bool operator==(const SemVer& a, const SemVer& b) {
    return compare(a, b) == 0;
}

}  // namespace gamestore::protocol
