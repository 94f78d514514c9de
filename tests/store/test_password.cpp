#include <catch2/catch.hpp>

#include "platform/store/password.hpp"

using namespace gamestore::store;

TEST_CASE("argon2id hashes verify and reject", "[store][password]") {
    const auto hasher = PasswordHasher::fast_for_tests();
    CHECK(hasher.is_fast_for_tests());
    const auto hash = hasher.hash("s3cret-password");
    REQUIRE(hash.ok());
    CHECK(hash->rfind("$argon2id$", 0) == 0);
    CHECK(hasher.verify(*hash, "s3cret-password"));
    CHECK_FALSE(hasher.verify(*hash, "s3cret-passwore"));
    CHECK_FALSE(hasher.verify(*hash, ""));
    // Salted: the same password never gives the same string twice.
    CHECK(*hasher.hash("s3cret-password") != *hash);
    CHECK_FALSE(hasher.verify("", "s3cret-password"));
    CHECK_FALSE(hasher.verify("$argon2id$garbage", "s3cret-password"));
    CHECK(hasher.needs_rehash("$argon2id$garbage"));
}

TEST_CASE("the interactive setting is the production default and is detected",
          "[store][password]") {
    const auto interactive = PasswordHasher::interactive();
    const auto fast = PasswordHasher::fast_for_tests();
    CHECK(interactive.strength() == PasswordHasher::Strength::Interactive);
    CHECK_FALSE(interactive.is_fast_for_tests());
    const auto hash = interactive.hash("production-password");
    REQUIRE(hash.ok());
    // 64 MiB and 2 passes are encoded in the hash string itself.
    CHECK(hash->find("m=65536,t=2") != std::string::npos);
    CHECK(fast.verify(*hash, "production-password"));  // verify reads parameters from the hash
    CHECK_FALSE(interactive.needs_rehash(*hash));
    CHECK(fast.needs_rehash(*hash));
}
