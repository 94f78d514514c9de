#include "platform/packages/sha256.hpp"

#include "tests/packages/zip_fixture.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace gamestore::packages;
using gamestore::packages::testing::TempDir;

namespace {
constexpr const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
// FIPS 180-2 test vector: one million 'a'.
constexpr const char* kMillionA =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
}  // namespace

TEST_CASE("sha256_hex matches the standard test vectors", "[sha256]") {
    CHECK(sha256_hex("") == kEmpty);
    CHECK(sha256_hex("abc") == kAbc);
    CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(sha256_hex(std::string(1000000, 'a')) == kMillionA);
}

TEST_CASE("Sha256 hashes incrementally and resets after a digest", "[sha256]") {
    Sha256 hasher;
    const std::string million(1000000, 'a');
    // Uneven chunks cross OpenSSL's 64-byte block boundaries.
    std::size_t offset = 0;
    std::size_t chunk = 1;
    while (offset < million.size()) {
        const std::size_t n = std::min(chunk, million.size() - offset);
        hasher.update(million.data() + offset, n);
        offset += n;
        chunk = chunk * 3 + 1;
    }
    CHECK(hasher.hex_digest() == kMillionA);
    // After hex_digest the hasher starts a new message.
    hasher.update("abc");
    CHECK(hasher.hex_digest() == kAbc);
    CHECK(hasher.hex_digest() == kEmpty);

    Sha256 moved = std::move(hasher);
    moved.update(std::string_view("a"));
    moved.update(std::string_view("bc"));
    CHECK(moved.hex_digest() == kAbc);
}

TEST_CASE("sha256_file hashes a file and reports unreadable paths", "[sha256]") {
    TempDir dir;
    testing::write_file(dir / "empty", "");
    testing::write_file(dir / "abc", "abc");
    testing::write_file(dir / "big", std::string(3 * 1024 * 1024 + 7, 'a'));
    CHECK(sha256_file(dir / "empty") == kEmpty);
    CHECK(sha256_file(dir / "abc") == kAbc);
    CHECK(sha256_file(dir / "big") == sha256_hex(std::string(3 * 1024 * 1024 + 7, 'a')));
    CHECK_THROWS_WITH(sha256_file(dir / "missing"), Catch::Contains("missing"));
}
