// The generated fault packages: one directory per profile, manifest v2,
// bin/fakegame, no token in any command.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/fakegames/fakegame_run.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
nlohmann::json load(const fs::path& path) {
    std::ifstream in(path);
    REQUIRE(in);
    return nlohmann::json::parse(in);
}
}  // namespace

TEST_CASE("Every fault profile has a runnable package", "[fakegame][packages]") {
    const char* build = std::getenv("GAMESTORE_BUILD_DIR");
    const char* source = std::getenv("GAMESTORE_SOURCE_DIR");
    REQUIRE(build);
    REQUIRE(source);
    const auto table = load(fs::path(source) / "fakegames/packages/profiles.json");
    const auto root = fs::path(build) / "fakegames/packages";
    REQUIRE(table["profiles"].size() >= 20);
    for (const auto& profile : table["profiles"]) {
        const std::string name = profile["name"];
        INFO("profile " << name);
        const auto dir = root / name;
        const auto manifest = load(dir / "manifest.json");
        CHECK(manifest["game_name"] == "fakegame-" + name);
        CHECK(manifest["version"] == "1.0.0");
        CHECK(manifest["type"] == "CLI");
        CHECK(manifest["max_players"] == 8);
        CHECK(manifest["min_players"] == profile["min_players"]);
        CHECK(manifest["healthcheck"]["tcp_port"] == "{port}");
        CHECK(manifest["healthcheck"]["timeout_sec"] == 5);
        CHECK(manifest["server"]["heartbeat_interval_sec"] == 1);
        const std::string server_args = profile["server_args"];
        const std::string client_args = profile["client_args"];
        CHECK(manifest["server"]["command"] ==
              "bin/fakegame server" + (server_args.empty() ? "" : " " + server_args));
        CHECK(manifest["client"]["command"] ==
              "bin/fakegame client" + (client_args.empty() ? "" : " " + client_args));
        for (const auto* role : {"server", "client"}) {
            const std::string command = manifest[role]["command"];
            CHECK(command.find("{client_token}") == std::string::npos);
            CHECK(command.find("{report_token}") == std::string::npos);
        }
        CHECK(::access((dir / "bin/fakegame").c_str(), X_OK) == 0);
        // The row, copied as is; expected validator verdicts are not part of it
        // (validator/expectations.tsv is their one table).
        const auto row = load(dir / "profile.json");
        CHECK(row == profile);
        CHECK_FALSE(row.contains("validator_expect"));
    }
}

TEST_CASE("docs/SDK.md documents every server fault flag and every profile", "[fakegame][packages]") {
    const char* source = std::getenv("GAMESTORE_SOURCE_DIR");
    REQUIRE(source);
    const auto doc = gamestore::sdk_test::read_text(fs::path(source) / "docs/SDK.md");
    // The flags as the binary itself lists them under "Server faults:".
    gamestore::sdk_test::TempDir dir;
    gamestore::fakegame_test::ChildProcess help({gamestore::fakegame_test::kFakegame, "server", "--help"},
                                                {{"PATH", "/usr/bin:/bin"}}, dir.path() / "out",
                                                dir.path() / "err");
    const auto exit = help.wait(10s);
    REQUIRE(exit);
    REQUIRE(exit->code == 0);
    std::istringstream lines(help.stdout_text());
    std::string line;
    bool in_faults = false;
    std::vector<std::string> flags;
    while (std::getline(lines, line)) {
        if (line == "Server faults:") {
            in_faults = true;
        } else if (in_faults && line.rfind("  --", 0) == 0) {
            flags.push_back(line.substr(2, line.find_first_of(" =", 2) - 2));
        }
    }
    REQUIRE(flags.size() >= 30);
    // A whole flag, not the prefix of a longer one (--end-twice vs --end-then-error).
    const auto mentions = [&](const std::string& flag) {
        for (auto at = doc.find(flag); at != std::string::npos; at = doc.find(flag, at + 1)) {
            const auto end = at + flag.size();
            if (end == doc.size() || !(std::isalnum(static_cast<unsigned char>(doc[end])) || doc[end] == '-')) {
                return true;
            }
        }
        return false;
    };
    for (const auto& flag : flags) {
        INFO("fakegame server " << flag << " is not documented in docs/SDK.md");
        CHECK(mentions(flag));
    }
    const auto table = load(fs::path(source) / "fakegames/packages/profiles.json");
    for (const auto& profile : table["profiles"]) {
        const std::string name = profile["name"];
        INFO("profile " << name << " is not named in docs/SDK.md");
        CHECK(doc.find("`" + name + "`") != std::string::npos);
    }
}
