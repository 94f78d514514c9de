#include "platform/packages/command_template.hpp"

#include "platform/packages/manifest.hpp"
#include "tests/packages/zip_fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>

using namespace gamestore::packages;
using gamestore::packages::testing::TempDir;
using Argv = std::vector<std::string>;

namespace {

std::map<std::string, std::string> env_map(const LaunchSpec& spec) {
    std::map<std::string, std::string> out;
    for (const auto& [name, value] : spec.env) {
        REQUIRE(out.emplace(name, value).second);  // no name twice
    }
    return out;
}

Manifest load_data_manifest(const std::string& file) {
    const auto result = load_manifest(std::filesystem::path(GAMESTORE_PACKAGES_TEST_DATA) / file);
    INFO((result.issues.empty() ? std::string() : format_issue(result.issues.front())));
    REQUIRE(result.ok());
    return *result.manifest;
}

LaunchContext wordle_context() {
    LaunchContext context;
    context.room_id = 12;
    context.match_id = "m-7f3a";
    context.port = 40123;
    context.host = "games.example.org";
    context.bind_host = "0.0.0.0";
    context.report_host = "127.0.0.1";
    context.report_port = 16535;
    context.client_token = "client-secret-0123456789abcdef";
    context.report_token = "report-secret-0123456789abcdef";
    context.client_token_path = "/var/match/m-7f3a/client_token";
    context.report_token_path = "/var/match/m-7f3a/report_token";
    context.players = {"alice", "bob"};
    context.players_json_path = "/var/match/m-7f3a/players.json";
    context.match_dir = "/var/match/m-7f3a";
    return context;
}

const std::string kHostileName = "Robert'); DROP TABLE; $(rm -rf /) \"q\" `id` a  b\t|&>~*";

}  // namespace

TEST_CASE("split_command splits on unquoted whitespace", "[command]") {
    CHECK(split_command("python3 server.py --port 1") ==
          Argv{"python3", "server.py", "--port", "1"});
    CHECK(split_command("  a \t b\n\nc  ") == Argv{"a", "b", "c"});
    CHECK(split_command("").empty());
    CHECK(split_command(" \t\n").empty());
}

TEST_CASE("split_command quoting rules", "[command]") {
    SECTION("single quotes keep everything literally") {
        CHECK(split_command(R"('a b' 'x\y' '$HOME' '"')") == Argv{"a b", R"(x\y)", "$HOME", "\""});
    }
    SECTION("double quotes escape only \\\" \\\\ \\$ \\` ") {
        CHECK(split_command(R"("a \"b\" \\ \$x \`y\`")") == Argv{R"(a "b" \ $x `y`)"});
        CHECK(split_command(R"("keep \n and \q")") == Argv{R"(keep \n and \q)"});
        CHECK(split_command(R"("it's")") == Argv{"it's"});
    }
    SECTION("backslash outside quotes escapes the next character") {
        CHECK(split_command(R"(a\ b c\"d \\)") == Argv{"a b", "c\"d", "\\"});
        CHECK(split_command("a\\\nb") == Argv{"ab"});  // line continuation
    }
    SECTION("adjacent pieces form one argument") {
        CHECK(split_command(R"(--name="a b"'c'd)") == Argv{"--name=a bcd"});
    }
    SECTION("empty quotes are empty arguments") {
        CHECK(split_command(R"(a "" '' b)") == Argv{"a", "", "", "b"});
    }
    SECTION("shell metacharacters are ordinary characters") {
        CHECK(split_command("echo $HOME ~ *.py ; rm | cat && x > y $(id) `id` # c") ==
              Argv{"echo", "$HOME", "~", "*.py", ";", "rm", "|", "cat", "&&", "x", ">", "y",
                   "$(id)", "`id`", "#", "c"});
    }
}

TEST_CASE("split_command reports bad quoting with its position", "[command]") {
    try {
        split_command("python3 'server.py");
        FAIL("no error");
    } catch (const TemplateError& error) {
        CHECK(error.position() == 8);
        CHECK_THAT(error.what(), Catch::Contains("unterminated single quote at position 8"));
    }
    try {
        split_command(R"(a "b \" c)");
        FAIL("no error");
    } catch (const TemplateError& error) {
        CHECK(error.position() == 2);
        CHECK_THAT(error.what(), Catch::Contains("double quote"));
    }
    try {
        split_command("a b\\");
        FAIL("no error");
    } catch (const TemplateError& error) {
        CHECK(error.position() == 3);
        CHECK_THAT(error.what(), Catch::Contains("backslash"));
    }
}

TEST_CASE("template_placeholders and render_argument follow str.format braces", "[command]") {
    CHECK(template_placeholders("--p1={p1} {port}{port}") == Argv{"p1", "port", "port"});
    CHECK(template_placeholders("{{not}} a }}placeholder{{").empty());

    const PlaceholderValues values{{"port", "4000"}, {"p1", "al}ice{x}"}};
    CHECK(render_argument("--port={port}", values) == "--port=4000");
    CHECK(render_argument("{{port}}={port}", values) == "{port}=4000");
    // Values are copied verbatim and never re-scanned for braces.
    CHECK(render_argument("{p1}", values) == "al}ice{x}");

    CHECK_THROWS_WITH(render_argument("{nope}", values),
                      Catch::Contains("unknown placeholder {nope}"));
    CHECK_THROWS_WITH(render_argument("{port", values), Catch::Contains("never closed"));
    CHECK_THROWS_WITH(render_argument("port}", values), Catch::Contains("single '}'"));
    CHECK_THROWS_WITH(render_argument("{}", values), Catch::Contains("empty placeholder"));
    CHECK_THROWS_WITH(render_argument("{port:d}", values), Catch::Contains("format spec"));
    CHECK_THROWS_WITH(render_argument("{p1!r}", values), Catch::Contains("format spec"));
}

TEST_CASE("known placeholders depend on max_players", "[command]") {
    CHECK(is_known_placeholder("players_json_path", 2));
    CHECK(is_known_placeholder("p2", 2));
    CHECK_FALSE(is_known_placeholder("p3", 2));
    CHECK_FALSE(is_known_placeholder("p0", 2));
    CHECK_FALSE(is_known_placeholder("p01", 2));
    CHECK_FALSE(is_known_placeholder("P1", 2));
    CHECK_FALSE(is_known_placeholder("token", 2));
    const auto names = known_placeholders(3);
    CHECK(names.size() == 17 + 3);
    CHECK(std::is_sorted(names.begin(), names.end()));
    CHECK(std::count(names.begin(), names.end(), "p3") == 1);
}

TEST_CASE("LaunchContext fills every placeholder, {pK} empty when absent", "[command]") {
    LaunchContext context = wordle_context();
    context.players = {"alice", "bob \"the\" builder", "carl,jr"};
    const auto values = context.placeholders(4);
    CHECK(values.size() == known_placeholders(4).size());
    CHECK(values.at("p1") == "alice");
    CHECK(values.at("p3") == "carl,jr");
    CHECK(values.at("p4").empty());
    CHECK(values.at("player_count") == "3");
    CHECK(values.at("players_json") == R"(["alice","bob \"the\" builder","carl,jr"])");
    CHECK(values.at("players_csv") == "alice,bob \"the\" builder,carl,jr");
    CHECK(values.at("room_id") == "12");
    CHECK(values.at("report_port") == "16535");
    CHECK(values.at("platform_protocol_version") == "1");
}

TEST_CASE("a player name that is not UTF-8 still renders, as U+FFFD in players_json", "[command]") {
    // Found by tests/fuzz/fuzz_command_template: json::dump threw type_error
    // out of placeholders() and render_*_launch.
    Manifest manifest = load_data_manifest("wordle_manifest.json");
    LaunchContext context = wordle_context();
    const std::string name = "caf\xc3\xa9\xff";
    context.players = {name, "bob"};
    context.player_name = name;

    std::string players_json;
    REQUIRE_NOTHROW(players_json = context.players_json());
    CHECK(players_json == "[\"caf\xc3\xa9\xef\xbf\xbd\",\"bob\"]");
    CHECK(context.players_csv() == name + ",bob");
    const LaunchSpec server = render_server_launch(manifest, context, "/pkg");
    const auto p1 = std::find(server.argv.begin(), server.argv.end(), "--p1");
    REQUIRE(p1 != server.argv.end());
    CHECK(*(p1 + 1) == name);
    CHECK(render_client_launch(manifest, context, "/pkg").argv.back() == name);
}

TEST_CASE("a hostile player name stays exactly one argv element", "[command]") {
    Manifest manifest = load_data_manifest("wordle_manifest.json");
    LaunchContext context = wordle_context();
    context.player_name = kHostileName;
    context.players = {kHostileName, "bob"};

    const LaunchSpec client = render_client_launch(manifest, context, "/pkg");
    CHECK(client.argv == Argv{"python3", "client.py", "--host", "games.example.org", "--port",
                              "40123", "--name", kHostileName});
    CHECK(env_map(client).at("PLAYER_NAME") == kHostileName);

    const LaunchSpec server = render_server_launch(manifest, context, "/pkg");
    const auto p1 = std::find(server.argv.begin(), server.argv.end(), "--p1");
    REQUIRE(p1 != server.argv.end());
    CHECK(*(p1 + 1) == kHostileName);
    CHECK(server.argv.size() == 16);

    // Embedded in a larger element, too.
    manifest.client.argv = split_command("python3 client.py '--name={player_name}' x");
    CHECK(render_client_launch(manifest, context, "/pkg").argv ==
          Argv{"python3", "client.py", "--name=" + kHostileName, "x"});
}

TEST_CASE("prototype-format Wordle manifest renders as-is", "[command]") {
    const Manifest manifest = load_data_manifest("wordle_manifest.json");
    const LaunchContext context = wordle_context();
    const LaunchSpec server = render_server_launch(manifest, context, "/srv/games/wordle/1.0.0");
    CHECK(server.argv == Argv{"python3", "server.py", "--port", "40123", "--p1", "alice", "--p2",
                              "bob", "--report_host", "127.0.0.1", "--report_port", "16535",
                              "--room_id", "12", "--match_id", "m-7f3a"});
    CHECK(server.cwd == std::filesystem::path("/srv/games/wordle/1.0.0"));
    const auto env = env_map(server);
    CHECK(env.size() == standard_server_env_names().size());
    CHECK(env.at("REPORT_TOKEN") == context.report_token);
    CHECK(env.at("CLIENT_TOKEN") == context.client_token);
    CHECK(env.at("REPORT_TOKEN_PATH") == "/var/match/m-7f3a/report_token");
    CHECK(env.at("CLIENT_TOKEN_PATH") == "/var/match/m-7f3a/client_token");
    CHECK(env.at("ROOM_ID") == "12");
    CHECK(env.at("MATCH_ID") == "m-7f3a");
    CHECK(env.at("PORT") == "40123");
    CHECK(env.at("BIND_HOST") == "0.0.0.0");
    CHECK(env.at("REPORT_HOST") == "127.0.0.1");
    CHECK(env.at("REPORT_PORT") == "16535");
    CHECK(env.at("PLAYERS_JSON") == R"(["alice","bob"])");
    CHECK(env.at("PLAYERS_JSON_PATH") == "/var/match/m-7f3a/players.json");
    CHECK(env.at("PLAYERS_CSV") == "alice,bob");
    CHECK(env.at("PLAYER_COUNT") == "2");
    CHECK(env.at("PLATFORM_PROTOCOL_VERSION") == "1");
    CHECK(env.at("HEARTBEAT_INTERVAL_SEC") == "5");
    CHECK(env.at("MATCH_DIR") == "/var/match/m-7f3a");
    CHECK_FALSE(argv_contains_secret(server.argv, {context.client_token, context.report_token}));

    LaunchContext client_context = context;
    client_context.player_name = "bob";
    const LaunchSpec client = render_client_launch(manifest, client_context, "/home/bob/wordle");
    CHECK(client.argv == Argv{"python3", "client.py", "--host", "games.example.org", "--port",
                              "40123", "--name", "bob"});
    const auto client_env = env_map(client);
    CHECK(client_env.size() == standard_client_env_names().size());
    CHECK(client_env.at("HOST") == "games.example.org");
    CHECK(client_env.at("PLAYER_NAME") == "bob");
    CHECK(client_env.at("CLIENT_TOKEN") == context.client_token);
    CHECK(client_env.count("REPORT_TOKEN") == 0);
    CHECK(client_env.count("REPORT_TOKEN_PATH") == 0);
}

TEST_CASE("prototype-format BigTwo manifest renders four seats", "[command]") {
    const Manifest manifest = load_data_manifest("bigtwo_manifest.json");
    LaunchContext context = wordle_context();
    context.players = {"ann", "ben", "cat"};  // one seat empty
    const LaunchSpec server = render_server_launch(manifest, context, "/pkg");
    CHECK(server.argv == Argv{"python3",        "bigtwo_server.py",
                              "--bind",         "0.0.0.0",
                              "--port",         "40123",
                              "--p1",           "ann",
                              "--p2",           "ben",
                              "--p3",           "cat",
                              "--p4",           "",
                              "--players-file", "/var/match/m-7f3a/players.json",
                              "--report_host",  "127.0.0.1",
                              "--report_port",  "16535",
                              "--room_id",      "12",
                              "--match_id",     "m-7f3a"});
    const auto env = env_map(server);
    CHECK(env.at("HEARTBEAT_INTERVAL_SEC") == "2");
    CHECK(env.at("BIGTWO_DECKS") == "1");
    CHECK(env.at("PLAYER_COUNT") == "3");
    CHECK(env.size() == standard_server_env_names().size() + 1);
    // Standard names come first, the manifest's own afterwards.
    CHECK(server.env.back().first == "BIGTWO_DECKS");
}

TEST_CASE("manifest env cannot override the platform's variables at render time", "[command]") {
    Manifest manifest = load_data_manifest("wordle_manifest.json");
    // Not validated: rendering must still keep the platform's values.
    manifest.server.env = {{"PORT", "1"}, {"MATCH_DIR", "/tmp/evil"}, {"GAME_MODE", "{p1}-{port}"}};
    manifest.client.env = {{"REPORT_TOKEN", "stolen"}, {"SKIN", "dark"}};
    const LaunchContext context = wordle_context();
    const auto server = env_map(render_server_launch(manifest, context, "/pkg"));
    CHECK(server.at("PORT") == "40123");
    CHECK(server.at("MATCH_DIR") == "/var/match/m-7f3a");
    CHECK(server.at("GAME_MODE") == "alice-40123");
    const auto client = env_map(render_client_launch(manifest, context, "/pkg"));
    CHECK(client.at("SKIN") == "dark");
    // A literal is harmless; what matters is that the real report token never
    // reaches the client's environment.
    CHECK(client.at("REPORT_TOKEN") == "stolen");
    for (const auto& [name, value] : client) {
        CHECK(value.find(context.report_token) == std::string::npos);
    }
}

TEST_CASE("tokens cannot reach argv even from an unvalidated manifest", "[command]") {
    Manifest manifest = load_data_manifest("wordle_manifest.json");
    const LaunchContext context = wordle_context();
    manifest.server.argv = {"python3", "server.py", "--token", "{report_token}"};
    CHECK_THROWS_WITH(render_server_launch(manifest, context, "/pkg"),
                      Catch::Contains("tokens travel only by env"));
    manifest.server.argv = {"python3", "server.py", "--t={client_token}"};
    CHECK_THROWS_AS(render_server_launch(manifest, context, "/pkg"), TemplateError);
    manifest.client.argv = {"python3", "client.py", "{client_token}"};
    CHECK_THROWS_AS(render_client_launch(manifest, context, "/pkg"), TemplateError);
    // The report token is not even in the client's value map: env use fails too.
    manifest.client.argv = {"python3", "client.py"};
    manifest.client.env = {{"X", "{report_token_path}"}};
    CHECK_THROWS_WITH(render_client_launch(manifest, context, "/pkg"),
                      Catch::Contains("unknown placeholder {report_token_path}"));
}

TEST_CASE("argv_contains_secret finds secrets as substrings", "[command]") {
    const Argv argv{"python3", "server.py", "--x=abcSECRETdef"};
    CHECK(argv_contains_secret(argv, {"SECRET"}));
    CHECK(argv_contains_secret(argv, {"nope", "server.py"}));
    CHECK_FALSE(argv_contains_secret(argv, {"nope"}));
    CHECK_FALSE(argv_contains_secret(argv, {""}));  // an unset token matches nothing
}

TEST_CASE("JSON array commands are taken as argv without splitting", "[command]") {
    const auto result = parse_manifest(R"json({
        "game_name": "Arr", "version": "0.1.0", "type": "GUI", "max_players": 2,
        "server": {"command": ["python3", "server.py", "--motd", "hello world; $(id)", "{p1} & {p2}"]},
        "client": {"command": ["./client", "--name={player_name}"], "cwd": "bin"},
        "healthcheck": {"tcp_port": "{port}", "timeout_sec": 5}
    })json");
    REQUIRE(result.ok());
    LaunchContext context = wordle_context();
    context.player_name = "x y";
    const auto server = render_server_launch(*result.manifest, context, "/pkg");
    CHECK(server.argv ==
          Argv{"python3", "server.py", "--motd", "hello world; $(id)", "alice & bob"});
    const auto client = render_client_launch(*result.manifest, context, "/pkg");
    CHECK(client.argv == Argv{"./client", "--name=x y"});
    CHECK(client.cwd == std::filesystem::path("/pkg/bin"));
}

TEST_CASE("render_healthcheck renders port and host", "[command]") {
    Manifest manifest = load_data_manifest("wordle_manifest.json");
    LaunchContext context = wordle_context();
    auto target = render_healthcheck(manifest, context);
    CHECK(target.port == 40123);
    CHECK_FALSE(target.host.has_value());
    CHECK(target.timeout_sec == 10.0);

    manifest.healthcheck.tcp_port = "9000";
    manifest.healthcheck.host = "{host}";
    target = render_healthcheck(manifest, context);
    CHECK(target.port == 9000);
    REQUIRE(target.host.has_value());
    CHECK(*target.host == "games.example.org");

    manifest.healthcheck.tcp_port = "{p1}";
    CHECK_THROWS_WITH(render_healthcheck(manifest, context), Catch::Contains("not a TCP port"));
    manifest.healthcheck.tcp_port = "70000";
    CHECK_THROWS_AS(render_healthcheck(manifest, context), TemplateError);
    context.port = 0;
    manifest.healthcheck.tcp_port = "{port}";
    CHECK_THROWS_AS(render_healthcheck(manifest, context), TemplateError);
}

TEST_CASE("resolve_program follows exec rules", "[command]") {
    TempDir dir;
    testing::write_file(dir / "bin" / "tool", "#!/bin/sh\n");
    testing::write_file(dir / "pkg" / "run.sh", "#!/bin/sh\n");
    testing::write_file(dir / "pkg" / "plain.txt", "x");
    namespace fs = std::filesystem;
    fs::permissions(dir / "bin" / "tool", fs::perms(0755));
    fs::permissions(dir / "pkg" / "run.sh", fs::perms(0755));

    LaunchSpec spec;
    spec.cwd = dir / "pkg";
    const std::string path_env = "/nonexistent:" + (dir / "bin").string();
    spec.argv = {"tool"};
    CHECK(resolve_program(spec, path_env) == std::optional(dir / "bin" / "tool"));
    spec.argv = {"./run.sh"};
    CHECK(resolve_program(spec, path_env) == std::optional(dir / "pkg" / "run.sh"));
    spec.argv = {"./plain.txt"};
    CHECK_FALSE(resolve_program(spec, path_env).has_value());
    spec.argv = {(dir / "bin" / "tool").string()};
    CHECK(resolve_program(spec, "") == std::optional(dir / "bin" / "tool"));
    spec.argv = {"no-such-program-here"};
    CHECK_FALSE(resolve_program(spec, path_env).has_value());
    spec.argv = {};
    CHECK_FALSE(resolve_program(spec, path_env).has_value());
}
