// Fuzzing the SemVer parser: accepted text is canonical (to_string gives the
// input back, since SemVer 2.0.0 allows exactly one spelling), comparison is
// reflexive and antisymmetric against a fixed set of versions.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "platform/protocol/semver.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace gamestore::protocol;
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    auto parsed = parse_semver_detailed(input);
    if (const auto* error = std::get_if<std::string>(&parsed)) {
        FUZZ_CHECK(error->find("is not a valid semantic version") != std::string::npos);
        FUZZ_CHECK(error->find('\n') == std::string::npos);
        FUZZ_CHECK(!parse_semver(input).has_value());
        return 0;
    }
    const SemVer& v = std::get<SemVer>(parsed);
    FUZZ_CHECK(v.to_string() == input);
    FUZZ_CHECK(compare(v, v) == 0);
    for (const char* text : {"0.0.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0", "1.0.0+b",
                             "2.1.1-rc.11", "18446744073709551615.0.0"}) {
        const SemVer other = *parse_semver(text);
        FUZZ_CHECK(compare(v, other) == -compare(other, v));
    }
    return 0;
}
