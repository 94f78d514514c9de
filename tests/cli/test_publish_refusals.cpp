// Everything dev.publish must refuse, sent through the client library so the
// server's own checks are exercised (the CLI would stop most of these
// locally, which is tested too). Each refusal names its reason and leaves
// nothing behind in the server's tmp/, packages/ or games/.

#include <catch2/catch.hpp>

#include "tests/cli/cli_harness.hpp"
#include "tests/packages/zip_fixture.hpp"

using namespace gamestore::cli_test;
using gamestore::testing::ServerFixture;
using nlohmann::json;
namespace zipfx = gamestore::packages::testing;

namespace {

constexpr std::uint32_t kFile = 0100644;
constexpr std::uint32_t kScript = 0100755;
constexpr std::uint32_t kLink = 0120777;

// A valid package's entries; attacks are added to them.
std::vector<zipfx::RawEntry> valid_entries(const std::string& game, const std::string& version) {
    return {{"manifest.json", manifest_text(game, version), kFile},
            {"server.py", "print('server')\n", kScript},
            {"client.py", "print('client')\n", kScript}};
}

std::string describe(const json& reasons) {
    return reasons.dump(2);
}

// The INVALID_PACKAGE reasons, or fails the test.
json refusal_reasons(const gamestore::protocol::Response& response) {
    INFO(response.error_code << ": " << response.message);
    REQUIRE_FALSE(response.ok);
    REQUIRE(response.error_code == "INVALID_PACKAGE");
    REQUIRE(response.details.contains("reasons"));
    const auto reasons = response.details.at("reasons");
    REQUIRE(reasons.is_array());
    REQUIRE_FALSE(reasons.empty());
    for (const auto& reason : reasons) {
        CHECK(reason.at("message").is_string());
        CHECK_FALSE(reason.at("message").get<std::string>().empty());
        CHECK(reason.at("source").is_string());
        CHECK(reason.at("code").is_string());
    }
    return reasons;
}

bool has_reason(const json& reasons, const std::string& source, const std::string& code) {
    for (const auto& reason : reasons) {
        if (reason.value("source", "") == source && reason.value("code", "") == code) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("the server refuses unsafe and invalid packages and keeps nothing", "[cli][integration]") {
    // A small entry cap keeps the "too many entries" archive small.
    ServerFixture server({"--fast-password-hash", "--max-package-entries", "40"});
    zipfx::TempDir dir;
    auto dev = sign_in(server, "developer", "mallory");

    // One good version first, so refusals are also checked not to disturb it.
    const auto good = dir / "good.zip";
    zipfx::write_zip(good, valid_entries("Solid", "1.0.0"));
    auto response = publish(*dev, good);
    INFO(response.message);
    REQUIRE(response.ok);
    const auto before = stored_files(server.data_dir());

    struct Attack {
        std::string name;
        std::function<void(const fs::path&)> build;
        std::string source;
        std::string code;
    };
    const std::vector<Attack> attacks = {
        {"a ../ path",
         [](const fs::path& zip) {
             auto entries = valid_entries("Evil", "1.0.0");
             entries.push_back({"../escape.txt", "x", kFile});
             zipfx::write_zip(zip, entries);
         },
         "zip", "dot_dot"},
        {"an absolute path",
         [](const fs::path& zip) {
             auto entries = valid_entries("Evil", "1.0.0");
             entries.push_back({"/etc/evil.txt", "x", kFile});
             zipfx::write_zip(zip, entries);
         },
         "zip", "absolute_path"},
        {"a symlink",
         [](const fs::path& zip) {
             auto entries = valid_entries("Evil", "1.0.0");
             entries.push_back({"link", "/etc/passwd", kLink});
             zipfx::write_zip(zip, entries);
         },
         "zip", "symlink"},
        {"duplicate names",
         [](const fs::path& zip) {
             auto entries = valid_entries("Evil", "1.0.0");
             entries.push_back({"data/a.txt", "one", kFile});
             entries.push_back({"data/b.txt", "two", kFile});
             zipfx::write_zip(zip, entries);
             zipfx::patch_name(zip, "data/b.txt", "data/a.txt");
         },
         "zip", "duplicate_name"},
        {"a 1000:1 bomb",
         [](const fs::path& zip) {
             auto entries = valid_entries("Evil", "1.0.0");
             entries.push_back({"zeros.bin", std::string(10u << 20, '\0'), kFile});
             zipfx::write_zip(zip, entries);
         },
         "zip", "ratio"},
        {"more entries than the cap",
         [](const fs::path& zip) {
             auto entries = valid_entries("Evil", "1.0.0");
             for (int i = 0; i < 50; ++i) {
                 entries.push_back({"many/" + std::to_string(i) + ".txt", "x", kFile});
             }
             zipfx::write_zip(zip, entries);
         },
         "zip", "too_many_entries"},
        {"a declared size smaller than the real one",
         [](const fs::path& zip) {
             auto entries = valid_entries("Evil", "1.0.0");
             entries.push_back({"noise.bin", zipfx::incompressible(300 * 1024), kFile, true});
             zipfx::write_zip(zip, entries);
             zipfx::patch_declared_size(zip, "noise.bin", 200 * 1024);
         },
         "zip", "size_mismatch"},
        {"a version that is not semver",
         [](const fs::path& zip) { zipfx::write_zip(zip, valid_entries("Evil", "1.0")); }, "manifest", "invalid"},
        {"a missing referenced file",
         [](const fs::path& zip) {
             auto entries = valid_entries("Evil", "1.0.0");
             entries.erase(entries.begin() + 1);  // server.py
             zipfx::write_zip(zip, entries);
         },
         "files", "missing"},
        {"not a zip at all", [](const fs::path& zip) { zipfx::write_file(zip, "just some text\n"); }, "zip",
         "not_a_zip"},
    };
    for (const auto& attack : attacks) {
        DYNAMIC_SECTION(attack.name) {
            const auto zip = dir / "attack.zip";
            attack.build(zip);
            const auto reasons = refusal_reasons(publish(*dev, zip));
            INFO(describe(reasons));
            CHECK(has_reason(reasons, attack.source, attack.code));
            CHECK(temp_files(server.data_dir()).empty());
            CHECK(stored_files(server.data_dir()) == before);
        }
    }

    SECTION("a token placeholder in a command names server.command") {
        const auto zip = dir / "token.zip";
        auto entries = valid_entries("Evil", "1.0.0");
        entries[0].data = manifest_text("Evil", "1.0.0", "python3 server.py --token {report_token}");
        zipfx::write_zip(zip, entries);
        const auto reasons = refusal_reasons(publish(*dev, zip));
        INFO(describe(reasons));
        bool named = false;
        for (const auto& reason : reasons) {
            named = named || (reason.value("source", "") == "manifest" &&
                              reason.value("where", "").rfind("server.command", 0) == 0);
        }
        CHECK(named);
        CHECK(stored_files(server.data_dir()) == before);
    }

    SECTION("one answer lists the archive's and the files' problems together") {
        const auto zip = dir / "several.zip";
        auto entries = valid_entries("Evil", "1.0.0");
        entries.erase(entries.begin() + 1);  // server.py
        entries.push_back({"link", "/etc/passwd", kLink});
        zipfx::write_zip(zip, entries);
        const auto reasons = refusal_reasons(publish(*dev, zip));
        INFO(describe(reasons));
        CHECK(has_reason(reasons, "zip", "symlink"));
        CHECK(has_reason(reasons, "files", "missing"));
        CHECK(temp_files(server.data_dir()).empty());
        CHECK(stored_files(server.data_dir()) == before);
    }

    SECTION("a bad semver names the version field") {
        const auto zip = dir / "semver.zip";
        zipfx::write_zip(zip, valid_entries("Evil", "01.2.3"));
        const auto reasons = refusal_reasons(publish(*dev, zip));
        INFO(describe(reasons));
        bool named = false;
        for (const auto& reason : reasons) {
            named = named || (reason.value("source", "") == "manifest" && reason.value("where", "") == "version");
        }
        CHECK(named);
    }

    SECTION("a sha256 that does not match the bytes") {
        const auto zip = dir / "checksum.zip";
        zipfx::write_zip(zip, valid_entries("Evil", "1.0.0"));
        const auto reasons = refusal_reasons(publish(*dev, zip, std::string(64, '0')));
        CHECK(has_reason(reasons, "checksum", "sha256_mismatch"));
        CHECK(stored_files(server.data_dir()) == before);
    }

    SECTION("the same version twice is a CONFLICT, an older one too") {
        auto again = publish(*dev, good);
        CHECK(again.error_code == "CONFLICT");
        CHECK_FALSE(again.message.empty());
        const auto older = dir / "older.zip";
        zipfx::write_zip(older, valid_entries("Solid", "0.9.0"));
        auto response_older = publish(*dev, older);
        CHECK(response_older.error_code == "CONFLICT");
        CHECK(stored_files(server.data_dir()) == before);
    }

    SECTION("another developer may not touch the game") {
        auto other = sign_in(server, "developer", "trudy");
        const auto zip = dir / "takeover.zip";
        zipfx::write_zip(zip, valid_entries("Solid", "2.0.0"));
        CHECK(publish(*other, zip).error_code == "FORBIDDEN");
        CHECK(other->call("dev.set_live", {{"game", "Solid"}, {"version", "1.0.0"}}).error_code == "FORBIDDEN");
        CHECK(other->call("dev.delist", {{"game", "Solid"}}).error_code == "FORBIDDEN");
        CHECK(other->call("dev.versions", {{"game", "Solid"}}).error_code == "FORBIDDEN");
        CHECK(stored_files(server.data_dir()) == before);
    }

    SECTION("gamestore-dev prints every reason the server gives") {
        // The server's entry cap (40) is below the tool's default, so the
        // local check passes and the server's refusal reaches the user.
        CliHarness cli(server);
        REQUIRE(cli.dev({"--user", "mallory2", "account", "register"}).code == 0);
        const auto package = make_package_dir(cli.work(), "Crowded", "1.0.0");
        for (int i = 0; i < 50; ++i) {
            gamestore::testing::write_file(package / "many" / (std::to_string(i) + ".txt"), "x");
        }
        const auto r = cli.dev({"--user", "mallory2", "publish", package.string()});
        INFO(r.text());
        CHECK(r.code == 1);
        CHECK(r.err.find("The server refused Crowded 1.0.0:") != std::string::npos);
        CHECK(r.err.find("[zip]") != std::string::npos);
        CHECK(r.err.find("(too_many_entries)") != std::string::npos);
        CHECK(temp_files(server.data_dir()).empty());
        CHECK(stored_files(server.data_dir()) == before);
    }

    SECTION("a player may not publish") {
        auto player = sign_in(server, "player", "peggy");
        const auto zip = dir / "player.zip";
        zipfx::write_zip(zip, valid_entries("PlayerGame", "1.0.0"));
        const auto refused = publish(*player, zip);
        CHECK(refused.error_code == "FORBIDDEN");
        CHECK_FALSE(refused.message.empty());
        // The server closes a connection whose blob it refused unread; the
        // role check holds on a fresh one too.
        auto again = sign_in(server, "player", "peggy", /*register_first=*/false);
        CHECK(again->call("dev.games").error_code == "FORBIDDEN");
        CHECK(stored_files(server.data_dir()) == before);
    }
}

TEST_CASE("gamestore-dev checks locally, lists every problem and uploads nothing", "[cli][integration]") {
    ServerFixture server({"--fast-password-hash"});
    CliHarness cli(server);
    REQUIRE(cli.dev({"--user", "olga", "account", "register"}).code == 0);
    const auto before = stored_files(server.data_dir());

    SECTION("a directory with a token in argv, a bad version and a missing client") {
        const auto dir = cli.work() / "broken";
        fs::create_directories(dir);
        gamestore::testing::write_file(dir / "manifest.json",
                                       manifest_text("Broken", "1.0", "python3 server.py {client_token}"));
        gamestore::testing::write_file(dir / "server.py", "print('x')\n");
        const auto r = cli.dev({"--user", "olga", "publish", dir.string()});
        INFO(r.text());
        CHECK(r.code == 2);
        CHECK(r.err.find("nothing was uploaded") != std::string::npos);
        CHECK(r.err.find("server.command") != std::string::npos);
        CHECK(r.err.find("version") != std::string::npos);
    }
    SECTION("a zip with a ../ entry") {
        const auto zip = cli.work() / "escape.zip";
        auto entries = valid_entries("Escape", "1.0.0");
        entries.push_back({"../x.txt", "x", kFile});
        zipfx::write_zip(zip, entries);
        const auto r = cli.dev({"--user", "olga", "publish", zip.string()});
        INFO(r.text());
        CHECK(r.code == 2);
        CHECK(r.err.find("dot_dot") != std::string::npos);
    }
    SECTION("a zip whose entry lies about its size is caught by unpacking it") {
        const auto zip = cli.work() / "liar.zip";
        auto entries = valid_entries("Liar", "1.0.0");
        entries.push_back({"noise.bin", zipfx::incompressible(300 * 1024), kFile, true});
        zipfx::write_zip(zip, entries);
        zipfx::patch_declared_size(zip, "noise.bin", 200 * 1024);
        const auto r = cli.dev({"--user", "olga", "publish", zip.string()});
        INFO(r.text());
        CHECK(r.code == 2);
        CHECK(r.err.find("size_mismatch") != std::string::npos);
    }
    SECTION("a path that is not a package") {
        const auto r = cli.dev({"--user", "olga", "publish", (cli.work() / "nothing-here").string()});
        CHECK(r.code == 2);
        CHECK(r.err.find("neither a package directory nor a zip file") != std::string::npos);
    }
    CHECK(stored_files(server.data_dir()) == before);

    SECTION("server refusals print every reason and exit 1") {
        REQUIRE(cli.dev({"--user", "olga", "publish", make_package_dir(cli.work(), "Mine", "1.0.0").string()})
                    .code == 0);
        // Same version again: CONFLICT.
        auto r = cli.dev({"--user", "olga", "publish", make_package_zip(cli.work() / "again", "Mine", "1.0.0").string()});
        INFO(r.text());
        CHECK(r.code == 1);
        CHECK(r.err.find("Publishing Mine 1.0.0 failed:") != std::string::npos);
        // Another developer: FORBIDDEN, as a sentence.
        REQUIRE(cli.dev({"--user", "oscar", "account", "register"}).code == 0);
        r = cli.dev({"--user", "oscar", "publish", make_package_dir(cli.work() / "o", "Mine", "2.0.0").string()});
        CHECK(r.code == 1);
        CHECK(r.err.find("another developer") != std::string::npos);
        r = cli.dev({"--user", "oscar", "set-live", "Mine", "1.0.0"});
        CHECK(r.code == 1);
        r = cli.dev({"--user", "oscar", "delist", "Mine"});
        CHECK(r.code == 1);
        r = cli.dev({"--user", "olga", "set-live", "Mine", "7.7.7"});
        CHECK(r.code == 1);
    }
}
