// The generated fault packages: one directory per profile, manifest v2,
// bin/fakegame, no token in any command.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

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
        CHECK(load(dir / "profile.json")["validator_expect"] == profile["validator_expect"]);
    }
}
