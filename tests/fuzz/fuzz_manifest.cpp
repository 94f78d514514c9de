// Fuzzing manifest.json parsing and validation, the first thing the store
// reads from an uploaded package. Any text yields either a manifest or a list
// of issues, never an exception. A manifest that passes keeps every promise
// of manifest.hpp and command_template.hpp: bounded numbers, safe cwd, known
// placeholders only, and it renders for any match; tokens never reach argv
// and the report token never reaches the client, whatever the manifest says.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/packages/command_template.hpp"
#include "platform/packages/manifest.hpp"
#include "platform/protocol/semver.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace gamestore::packages;

const std::filesystem::path kPackageRoot = "/srv/fuzz-package";

void check_issues(const std::vector<ManifestIssue>& issues) {
    for (const auto& issue : issues) {
        FUZZ_CHECK(!issue.message.empty());
        FUZZ_CHECK(!format_issue(issue).empty());
    }
}

bool seconds_ok(double value) {
    return value > 0.0 && value <= 3600.0;
}

void check_process(const ProcessTemplate& process, int max_players) {
    FUZZ_CHECK(!process.argv.empty());
    FUZZ_CHECK(!process.argv.front().empty());
    for (const auto& element : process.argv) {
        for (const auto& name : template_placeholders(element)) {
            FUZZ_CHECK(is_known_placeholder(name, max_players));
            FUZZ_CHECK(name != "client_token" && name != "report_token");
        }
    }
    for (const auto& [name, value] : process.env) {
        FUZZ_CHECK(!name.empty());
        FUZZ_CHECK(name.find('=') == std::string::npos);
        FUZZ_CHECK(name.find('\0') == std::string::npos);
        FUZZ_CHECK(value.find('\0') == std::string::npos);
        for (const auto& placeholder : template_placeholders(value)) {
            FUZZ_CHECK(is_known_placeholder(placeholder, max_players));
        }
    }
    FUZZ_CHECK(process.cwd.empty() || process.cwd.front() != '/');
    FUZZ_CHECK(process.cwd.find('\\') == std::string::npos);
    for (const auto& part : std::filesystem::path(process.cwd)) {
        FUZZ_CHECK(part != "..");
    }
}

// A full match whose tokens are `secret`-specific, so two renderings that
// differ only in the tokens show whether a token influenced the result. The
// token files' paths are no secret (a command may name them) and stay alike.
LaunchContext context_with_tokens(int max_players, const std::string& secret) {
    LaunchContext context;
    context.room_id = 42;
    context.match_id = "m-42";
    context.port = 40001;
    context.host = "203.0.113.7";
    context.report_host = "127.0.0.1";
    context.report_port = 16535;
    context.client_token = "client-token-" + secret;
    context.report_token = "report-token-" + secret;
    context.client_token_path = "/run/match/client_token";
    context.report_token_path = "/run/match/report_token";
    for (int k = 1; k <= max_players; ++k) {
        context.players.push_back(k == 1 ? "a b; $(rm -rf /) {p2}" : "player" + std::to_string(k));
    }
    context.players_json_path = "/run/match/players.json";
    context.player_name = "a b; $(rm -rf /)";
    context.match_dir = "/run/match";
    return context;
}

// The platform's variables come first with the platform's values, once each.
void check_standard_env(const std::vector<std::pair<std::string, std::string>>& env,
                        const std::vector<std::pair<std::string, std::string>>& standard) {
    FUZZ_CHECK(env.size() >= standard.size());
    for (std::size_t i = 0; i < standard.size(); ++i) {
        FUZZ_CHECK(env[i] == standard[i]);
    }
    for (std::size_t i = standard.size(); i < env.size(); ++i) {
        for (const auto& entry : standard) {
            FUZZ_CHECK(env[i].first != entry.first);
        }
    }
}

bool inside_package(const std::filesystem::path& cwd) {
    const auto relative = cwd.lexically_relative(kPackageRoot);
    return !relative.empty() && *relative.begin() != "..";
}

void check_renders(const Manifest& manifest) {
    const LaunchContext a = context_with_tokens(manifest.max_players, "A");
    const LaunchContext b = context_with_tokens(manifest.max_players, "B");

    const LaunchSpec server_a = render_server_launch(manifest, a, kPackageRoot);
    const LaunchSpec server_b = render_server_launch(manifest, b, kPackageRoot);
    FUZZ_CHECK(server_a.argv.size() == manifest.server.argv.size());
    FUZZ_CHECK(server_a.argv == server_b.argv);
    FUZZ_CHECK(inside_package(server_a.cwd));
    check_standard_env(server_a.env, standard_server_env(manifest, a));

    const LaunchSpec client_a = render_client_launch(manifest, a, kPackageRoot);
    LaunchContext a_other_report = a;
    a_other_report.report_token = b.report_token;
    a_other_report.report_token_path = "/run/match/report_token-elsewhere";
    const LaunchSpec client_a2 = render_client_launch(manifest, a_other_report, kPackageRoot);
    const LaunchSpec client_b = render_client_launch(manifest, b, kPackageRoot);
    FUZZ_CHECK(client_a.argv.size() == manifest.client.argv.size());
    FUZZ_CHECK(client_a.argv == client_b.argv);
    FUZZ_CHECK(client_a.env == client_a2.env);
    FUZZ_CHECK(inside_package(client_a.cwd));
    check_standard_env(client_a.env, standard_client_env(a));

    try {
        const HealthcheckTarget target = render_healthcheck(manifest, a);
        FUZZ_CHECK(target.port >= 1);
        FUZZ_CHECK(!target.host || !target.host->empty());
        FUZZ_CHECK(seconds_ok(target.timeout_sec));
    } catch (const TemplateError& error) {
        // A templated port may render to something else than a port for
        // some match (e.g. "{room_id}"); that is the documented refusal.
        FUZZ_CHECK(std::string_view(error.what()).find("healthcheck") != std::string_view::npos);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const ManifestResult result = parse_manifest(input);
    check_issues(result.issues);
    check_issues(result.warnings);
    FUZZ_CHECK(result.manifest.has_value() == result.ok());
    if (!result.manifest) {
        return 0;
    }

    const Manifest& manifest = *result.manifest;
    FUZZ_CHECK(!manifest.game_name.empty());
    FUZZ_CHECK(gamestore::protocol::parse_semver(manifest.version).has_value());
    FUZZ_CHECK(manifest.max_players >= 1 && manifest.max_players <= 64);
    FUZZ_CHECK(manifest.min_players >= 1 && manifest.min_players <= manifest.max_players);
    FUZZ_CHECK(manifest.protocol_version == 1);
    FUZZ_CHECK(seconds_ok(manifest.startup_timeout_sec));
    FUZZ_CHECK(seconds_ok(manifest.heartbeat_interval_sec));
    FUZZ_CHECK(seconds_ok(manifest.healthcheck.timeout_sec));
    check_process(manifest.server, manifest.max_players);
    check_process(manifest.client, manifest.max_players);
    check_renders(manifest);
    return 0;
}
