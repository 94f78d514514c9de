#include "platform/protocol/semver.hpp"

#include <algorithm>
#include <charconv>

#include "platform/protocol/redact.hpp"

namespace gamestore::protocol {

namespace {

struct Invalid {
    std::string why;
};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_identifier_char(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

bool all_digits(std::string_view s) {
    return std::all_of(s.begin(), s.end(), is_digit);
}

std::uint64_t parse_core_number(std::string_view part, const char* name) {
    if (part.empty()) {
        throw Invalid{std::string(name) + " version is empty"};
    }
    if (!all_digits(part)) {
        throw Invalid{std::string(name) + " version \"" + printable(part) +
                      "\" is not a decimal number"};
    }
    if (part.size() > 1 && part[0] == '0') {
        throw Invalid{std::string(name) + " version has a leading zero"};
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (ec != std::errc() || end != part.data() + part.size()) {
        throw Invalid{std::string(name) + " version is too large"};
    }
    return value;
}

// Splits on '.', checking each identifier's characters. Pre-release numeric
// identifiers must not have leading zeros; build identifiers may.
std::vector<std::string> parse_identifiers(std::string_view text, const char* what,
                                           bool numeric_no_leading_zero) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = text.find('.', start);
        const std::string_view id = text.substr(
            start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (id.empty()) {
            throw Invalid{std::string(what) + " has an empty identifier"};
        }
        if (!std::all_of(id.begin(), id.end(), is_identifier_char)) {
            throw Invalid{std::string(what) + " identifier \"" + printable(id) +
                          "\" may only contain [0-9A-Za-z-]"};
        }
        if (numeric_no_leading_zero && id.size() > 1 && id[0] == '0' && all_digits(id)) {
            throw Invalid{std::string(what) + " identifier \"" + printable(id) +
                          "\" has a leading zero"};
        }
        out.emplace_back(id);
        if (dot == std::string_view::npos) {
            return out;
        }
        start = dot + 1;
    }
}

SemVer parse_or_throw(std::string_view text) {
    if (text.empty()) {
        throw Invalid{"it is empty"};
    }
    SemVer v;
    std::string_view rest = text;

    // Build metadata first: '+' cannot occur before it, while '-' can occur
    // inside both pre-release and build identifiers.
    if (const std::size_t plus = rest.find('+'); plus != std::string_view::npos) {
        const std::string_view build = rest.substr(plus + 1);
        if (build.empty()) {
            throw Invalid{"build metadata after '+' is empty"};
        }
        parse_identifiers(build, "build metadata", false);
        v.build = std::string(build);
        rest = rest.substr(0, plus);
    }
    if (const std::size_t dash = rest.find('-'); dash != std::string_view::npos) {
        const std::string_view pre = rest.substr(dash + 1);
        if (pre.empty()) {
            throw Invalid{"pre-release after '-' is empty"};
        }
        v.prerelease = parse_identifiers(pre, "pre-release", true);
        rest = rest.substr(0, dash);
    }

    const std::size_t dot1 = rest.find('.');
    const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : rest.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || rest.find('.', dot2 + 1) != std::string_view::npos) {
        throw Invalid{"it must have exactly three numbers MAJOR.MINOR.PATCH"};
    }
    v.major = parse_core_number(rest.substr(0, dot1), "major");
    v.minor = parse_core_number(rest.substr(dot1 + 1, dot2 - dot1 - 1), "minor");
    v.patch = parse_core_number(rest.substr(dot2 + 1), "patch");
    return v;
}

int compare_numbers(std::uint64_t a, std::uint64_t b) {
    return a < b ? -1 : (a > b ? 1 : 0);
}

int compare_identifiers(const std::string& a, const std::string& b) {
    const bool a_numeric = all_digits(a);
    const bool b_numeric = all_digits(b);
    if (a_numeric && b_numeric) {
        // No leading zeros, so a longer digit string is a larger number; this
        // also orders identifiers too long for any integer type.
        if (a.size() != b.size()) {
            return a.size() < b.size() ? -1 : 1;
        }
        const int c = a.compare(b);
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (a_numeric != b_numeric) {
        return a_numeric ? -1 : 1;
    }
    const int c = a.compare(b);  // ASCII order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

std::string SemVer::to_string() const {
    std::string out =
        std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    for (std::size_t i = 0; i < prerelease.size(); ++i) {
        out += (i == 0 ? '-' : '.');
        out += prerelease[i];
    }
    if (!build.empty()) {
        out += '+';
        out += build;
    }
    return out;
}

std::variant<SemVer, std::string> parse_semver_detailed(std::string_view text) {
    try {
        return parse_or_throw(text);
    } catch (const Invalid& invalid) {
        // The text may be anything a user typed; keep the sentence one line.
        return "\"" + printable(text) + "\" is not a valid semantic version: " + invalid.why;
    }
}

std::optional<SemVer> parse_semver(std::string_view text) {
    auto result = parse_semver_detailed(text);
    if (auto* v = std::get_if<SemVer>(&result)) {
        return std::move(*v);
    }
    return std::nullopt;
}

int compare(const SemVer& a, const SemVer& b) {
    if (int c = compare_numbers(a.major, b.major)) {
        return c;
    }
    if (int c = compare_numbers(a.minor, b.minor)) {
        return c;
    }
    if (int c = compare_numbers(a.patch, b.patch)) {
        return c;
    }
    // A release has higher precedence than any of its pre-releases.
    if (a.prerelease.empty() != b.prerelease.empty()) {
        return a.prerelease.empty() ? 1 : -1;
    }
    const std::size_t n = std::min(a.prerelease.size(), b.prerelease.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (int c = compare_identifiers(a.prerelease[i], b.prerelease[i])) {
            return c;
        }
    }
    return compare_numbers(a.prerelease.size(), b.prerelease.size());
}

}  // namespace gamestore::protocol
