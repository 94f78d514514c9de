// LaunchContext: the launch environment as a game sees it.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "gamestore/sdk/context.hpp"
#include "tests/sdk/support/child_process.hpp"

namespace sdk = gamestore::sdk;
using gamestore::sdk_test::TempDir;

namespace {

sdk::EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) {
            return std::nullopt;
        }
        return it->second;
    };
}

std::map<std::string, std::string> full_server_env() {
    return {{"ROOM_ID", "7"},
            {"MATCH_ID", "m-1"},
            {"PORT", "7001"},
            {"BIND_HOST", "127.0.0.1"},
            {"REPORT_HOST", "127.0.0.2"},
            {"REPORT_PORT", "16535"},
            {"REPORT_TOKEN", "report-secret"},
            {"CLIENT_TOKEN", "client-secret"},
            {"PLAYERS_JSON", R"(["alice","bob"])"},
            {"PLAYER_COUNT", "2"},
            {"PLATFORM_PROTOCOL_VERSION", "1"},
            {"HEARTBEAT_INTERVAL_SEC", "2"},
            {"MATCH_DIR", "/tmp/match"}};
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("ServerContext reads every variable of the launch environment", "[sdk][context]") {
    const auto ctx = sdk::ServerContext::from_env({}, env_of(full_server_env()));
    CHECK(ctx.room_id() == 7);
    CHECK(ctx.match_id() == "m-1");
    CHECK(ctx.port() == 7001);
    CHECK(ctx.bind_host() == "127.0.0.1");
    CHECK(ctx.report_host() == "127.0.0.2");
    CHECK(ctx.report_port() == 16535);
    CHECK(ctx.report_token() == "report-secret");
    CHECK(ctx.client_token() == "client-secret");
    CHECK(ctx.players() == std::vector<std::string>{"alice", "bob"});
    CHECK(ctx.player_count() == 2);
    CHECK(ctx.platform_protocol_version() == 1);
    CHECK(ctx.heartbeat_interval() == std::chrono::milliseconds(2000));
    CHECK(ctx.match_dir() == "/tmp/match");
}

TEST_CASE("ServerContext defaults the optional variables", "[sdk][context]") {
    auto vars = full_server_env();
    for (const auto* name : {"BIND_HOST", "REPORT_HOST", "PLAYER_COUNT",
                             "PLATFORM_PROTOCOL_VERSION", "HEARTBEAT_INTERVAL_SEC", "MATCH_DIR"}) {
        vars.erase(name);
    }
    const auto ctx = sdk::ServerContext::from_env({}, env_of(vars));
    CHECK(ctx.bind_host() == "0.0.0.0");
    CHECK(ctx.report_host() == "127.0.0.1");
    CHECK(ctx.heartbeat_interval() == std::chrono::milliseconds(5000));
    CHECK(ctx.platform_protocol_version() == 1);
    CHECK(ctx.match_dir().empty());
}

TEST_CASE("A missing launch environment names every missing variable at once", "[sdk][context]") {
    try {
        sdk::ServerContext::from_env({}, env_of({}));
        FAIL("from_env accepted an empty environment");
    } catch (const sdk::ContextError& e) {
        const std::string message = e.what();
        for (const auto* name : {"ROOM_ID", "MATCH_ID", "PORT", "REPORT_PORT", "REPORT_TOKEN",
                                 "CLIENT_TOKEN", "PLAYERS_JSON"}) {
            CHECK_THAT(message, Catch::Contains(name));
        }
        CHECK_THAT(message, Catch::StartsWith("missing ROOM_ID, MATCH_ID, PORT, REPORT_PORT"));
        CHECK_THAT(message, Catch::EndsWith("this program must be started by the gamestore "
                                            "platform or validate_game_package"));
        CHECK(e.missing().size() == 7);
        CHECK(e.invalid().empty());
    }
}

TEST_CASE("Only the variables that are absent are named", "[sdk][context]") {
    auto vars = full_server_env();
    vars.erase("REPORT_PORT");
    vars.erase("MATCH_ID");
    try {
        sdk::ServerContext::from_env({}, env_of(vars));
        FAIL("from_env accepted an environment without REPORT_PORT and MATCH_ID");
    } catch (const sdk::ContextError& e) {
        CHECK(std::string(e.what()) ==
              "missing MATCH_ID, REPORT_PORT: this program must be started by the gamestore "
              "platform or validate_game_package");
    }
}

TEST_CASE("Malformed values are reported as invalid with the offending text", "[sdk][context]") {
    auto vars = full_server_env();
    vars["PORT"] = "seventy";
    vars["PLAYER_COUNT"] = "3";
    vars["PLATFORM_PROTOCOL_VERSION"] = "0";
    vars["HEARTBEAT_INTERVAL_SEC"] = "-1";
    try {
        sdk::ServerContext::from_env({}, env_of(vars));
        FAIL("from_env accepted malformed values");
    } catch (const sdk::ContextError& e) {
        const std::string message = e.what();
        CHECK(e.missing().empty());
        REQUIRE(e.invalid().size() == 4);
        CHECK_THAT(message, Catch::Contains("PORT (\"seventy\" is not an integer in 0..65535)"));
        CHECK_THAT(message, Catch::Contains("PLAYER_COUNT (3, but the player list names 2)"));
        CHECK_THAT(message, Catch::Contains("PLATFORM_PROTOCOL_VERSION (\"0\" is not an integer in 1.."));
        CHECK_THAT(message, Catch::Contains("HEARTBEAT_INTERVAL_SEC"));
    }
}

TEST_CASE("An unknown PLATFORM_PROTOCOL_VERSION is a warning, not an error", "[sdk][context]") {
    auto vars = full_server_env();
    vars["PLATFORM_PROTOCOL_VERSION"] = "2";
    const auto ctx = sdk::ServerContext::from_env({}, env_of(vars));
    CHECK(ctx.platform_protocol_version() == 2);
    REQUIRE(ctx.warnings().size() == 1);
    CHECK(ctx.warnings()[0] ==
          "PLATFORM_PROTOCOL_VERSION=2 but this SDK speaks protocol 1; messages are sent as "
          "version 1");

    std::map<std::string, std::string> client{
        {"ROOM_ID", "7"},       {"MATCH_ID", "m-1"},         {"HOST", "127.0.0.1"},
        {"PORT", "7001"},       {"PLAYER_NAME", "alice"},    {"CLIENT_TOKEN", "client-secret"},
        {"PLATFORM_PROTOCOL_VERSION", "3"}};
    const auto client_ctx = sdk::ClientContext::from_env({}, env_of(client));
    CHECK(client_ctx.platform_protocol_version() == 3);
    CHECK(client_ctx.warnings().size() == 1);

    // The version this SDK speaks raises nothing.
    CHECK(sdk::ServerContext::from_env({}, env_of(full_server_env())).warnings().empty());
}

TEST_CASE("Tokens prefer the env variable and fall back to the trimmed token file",
          "[sdk][context]") {
    TempDir dir;
    write_file(dir.path() / "report_token", "  file-report-token\n");
    write_file(dir.path() / "client_token", "file-client-token\r\n");
    auto vars = full_server_env();
    vars.erase("REPORT_TOKEN");
    vars.erase("CLIENT_TOKEN");
    vars["REPORT_TOKEN_PATH"] = (dir.path() / "report_token").string();
    vars["CLIENT_TOKEN_PATH"] = (dir.path() / "client_token").string();

    SECTION("files only") {
        const auto ctx = sdk::ServerContext::from_env({}, env_of(vars));
        CHECK(ctx.report_token() == "file-report-token");
        CHECK(ctx.client_token() == "file-client-token");
    }
    SECTION("the env variable wins over the file") {
        vars["REPORT_TOKEN"] = " env-report-token ";
        const auto ctx = sdk::ServerContext::from_env({}, env_of(vars));
        CHECK(ctx.report_token() == "env-report-token");
        CHECK(ctx.client_token() == "file-client-token");
    }
    SECTION("a whitespace-only env variable counts as unset: the file is used") {
        vars["REPORT_TOKEN"] = " \t ";
        vars["CLIENT_TOKEN"] = "";
        const auto ctx = sdk::ServerContext::from_env({}, env_of(vars));
        CHECK(ctx.report_token() == "file-report-token");
        CHECK(ctx.client_token() == "file-client-token");
    }
    SECTION("a whitespace-only env variable without a file is missing") {
        vars.erase("REPORT_TOKEN_PATH");
        vars["REPORT_TOKEN"] = "   ";
        try {
            sdk::ServerContext::from_env({}, env_of(vars));
            FAIL("from_env accepted a blank REPORT_TOKEN");
        } catch (const sdk::ContextError& e) {
            CHECK(e.missing() == std::vector<std::string>{"REPORT_TOKEN (or REPORT_TOKEN_PATH)"});
            CHECK(e.invalid().empty());
        }
    }
    SECTION("an unreadable token file is named") {
        vars["REPORT_TOKEN_PATH"] = (dir.path() / "absent").string();
        try {
            sdk::ServerContext::from_env({}, env_of(vars));
            FAIL("from_env accepted an unreadable token file");
        } catch (const sdk::ContextError& e) {
            REQUIRE(e.invalid().size() == 1);
            CHECK_THAT(e.invalid()[0], Catch::StartsWith("REPORT_TOKEN_PATH (cannot open "));
        }
    }
    SECTION("a whitespace-only token file is invalid") {
        write_file(dir.path() / "client_token", " \n");
        CHECK_THROWS_WITH(sdk::ServerContext::from_env({}, env_of(vars)),
                          Catch::Contains("CLIENT_TOKEN_PATH (") && Catch::Contains("is empty)"));
    }
}

TEST_CASE("PLAYERS_JSON_PATH is preferred over PLAYERS_JSON, as docs/MANIFEST.md tells games",
          "[sdk][context]") {
    TempDir dir;
    write_file(dir.path() / "players.json", R"(["carol","dave","erin"])");
    auto vars = full_server_env();
    vars.erase("PLAYER_COUNT");
    vars["PLAYERS_JSON"] = R"(["alice","bob"])";
    vars["PLAYERS_CSV"] = "frank,gina";
    vars["PLAYERS_JSON_PATH"] = (dir.path() / "players.json").string();
    CHECK(sdk::ServerContext::from_env({}, env_of(vars)).players() ==
          std::vector<std::string>{"carol", "dave", "erin"});
    // Without the file, PLAYERS_JSON comes next, then PLAYERS_CSV.
    vars.erase("PLAYERS_JSON_PATH");
    CHECK(sdk::ServerContext::from_env({}, env_of(vars)).players() ==
          std::vector<std::string>{"alice", "bob"});
    vars.erase("PLAYERS_JSON");
    CHECK(sdk::ServerContext::from_env({}, env_of(vars)).players() ==
          std::vector<std::string>{"frank", "gina"});
    // A file that cannot be read is an error, not a silent fall-back to
    // another (possibly stale) list.
    vars["PLAYERS_JSON"] = R"(["alice","bob"])";
    vars["PLAYERS_JSON_PATH"] = (dir.path() / "absent.json").string();
    CHECK_THROWS_WITH(sdk::ServerContext::from_env({}, env_of(vars)),
                      Catch::Contains("PLAYERS_JSON_PATH (cannot open "));
}

TEST_CASE("The player list comes from PLAYERS_JSON, its file, or PLAYERS_CSV", "[sdk][context]") {
    TempDir dir;
    auto vars = full_server_env();
    vars.erase("PLAYERS_JSON");
    vars.erase("PLAYER_COUNT");
    SECTION("PLAYERS_JSON_PATH") {
        write_file(dir.path() / "players.json", R"(["carol","dave","erin"])");
        vars["PLAYERS_JSON_PATH"] = (dir.path() / "players.json").string();
        CHECK(sdk::ServerContext::from_env({}, env_of(vars)).players() ==
              std::vector<std::string>{"carol", "dave", "erin"});
    }
    SECTION("PLAYERS_CSV") {
        vars["PLAYERS_CSV"] = "carol, dave";
        CHECK(sdk::ServerContext::from_env({}, env_of(vars)).players() ==
              std::vector<std::string>{"carol", "dave"});
    }
    SECTION("duplicates are refused") {
        vars["PLAYERS_JSON"] = R"(["carol","carol"])";
        CHECK_THROWS_WITH(sdk::ServerContext::from_env({}, env_of(vars)),
                          Catch::Contains("player \"carol\" is listed twice"));
    }
    SECTION("non-strings are refused") {
        vars["PLAYERS_JSON"] = R"(["carol",3])";
        CHECK_THROWS_WITH(sdk::ServerContext::from_env({}, env_of(vars)),
                          Catch::Contains("PLAYERS_JSON (every entry must be a string)"));
    }
}

TEST_CASE("Command-line overrides win over the env and satisfy requirements", "[sdk][context]") {
    auto vars = full_server_env();
    vars.erase("PORT");
    sdk::ServerOverrides overrides;
    overrides.port = 9000;
    overrides.heartbeat_interval_sec = 0.25;
    overrides.bind_host = "::1";
    auto ctx = sdk::ServerContext::from_env(overrides, env_of(vars));
    CHECK(ctx.port() == 9000);
    CHECK(ctx.heartbeat_interval() == std::chrono::milliseconds(250));
    CHECK(ctx.bind_host() == "::1");
    ctx.set_port(9001);
    ctx.set_report_port(17000);
    CHECK(ctx.port() == 9001);
    CHECK(ctx.report_port() == 17000);
}

TEST_CASE("ClientContext reads the client's launch environment", "[sdk][context]") {
    std::map<std::string, std::string> vars{
        {"ROOM_ID", "7"}, {"MATCH_ID", "m-1"},      {"HOST", "game.example"},
        {"PORT", "7001"}, {"PLAYER_NAME", "alice"}, {"CLIENT_TOKEN", "client-secret"}};
    const auto ctx = sdk::ClientContext::from_env({}, env_of(vars));
    CHECK(ctx.room_id() == 7);
    CHECK(ctx.host() == "game.example");
    CHECK(ctx.port() == 7001);
    CHECK(ctx.player_name() == "alice");
    CHECK(ctx.client_token() == "client-secret");

    vars.erase("HOST");
    vars.erase("PLAYER_NAME");
    CHECK_THROWS_WITH(sdk::ClientContext::from_env({}, env_of(vars)),
                      Catch::StartsWith("missing HOST, PLAYER_NAME:"));
    sdk::ClientOverrides overrides;
    overrides.host = "127.0.0.1";
    overrides.player_name = "bob";
    const auto overridden = sdk::ClientContext::from_env(overrides, env_of(vars));
    CHECK(overridden.host() == "127.0.0.1");
    CHECK(overridden.player_name() == "bob");
}

TEST_CASE("redact keeps six characters of a token", "[sdk][context]") {
    CHECK(sdk::redact("abcdef0123456789") == "abcdef\xE2\x80\xA6");
    CHECK(sdk::redact("abc") == "***");
}
