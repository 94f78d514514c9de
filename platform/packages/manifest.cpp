#include "platform/packages/manifest.hpp"

#include "platform/packages/command_template.hpp"
#include "platform/protocol/semver.hpp"
#include "platform/protocol/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <system_error>
#include <variant>

namespace gamestore::packages {

namespace {

using nlohmann::json;
using protocol::in_quotes;

constexpr int kMaxPlayersLimit = 64;
constexpr std::size_t kMaxGameNameChars = 64;
constexpr std::size_t kMaxDescriptionChars = 4000;
constexpr double kMaxSeconds = 3600.0;  // longer timeouts/intervals are surely a typo
constexpr double kDefaultTimeoutSec = 10.0;
constexpr double kDefaultHeartbeatSec = 5.0;

enum class Role { Server, Client };

std::string_view role_name(Role role) {
    return role == Role::Server ? "server" : "client";
}

// Decodes UTF-8 into code points; nullopt when the bytes are not valid UTF-8
// (overlong forms and surrogates included).
std::optional<std::vector<char32_t>> decode_utf8(std::string_view text) {
    std::vector<char32_t> out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto b0 = static_cast<unsigned char>(text[i]);
        std::size_t length = 0;
        char32_t cp = 0;
        char32_t min = 0;
        if (b0 < 0x80) {
            out.push_back(b0);
            ++i;
            continue;
        } else if ((b0 & 0xE0) == 0xC0) {
            length = 2, cp = b0 & 0x1F, min = 0x80;
        } else if ((b0 & 0xF0) == 0xE0) {
            length = 3, cp = b0 & 0x0F, min = 0x800;
        } else if ((b0 & 0xF8) == 0xF0) {
            length = 4, cp = b0 & 0x07, min = 0x10000;
        } else {
            return std::nullopt;
        }
        if (i + length > text.size()) {
            return std::nullopt;
        }
        for (std::size_t k = 1; k < length; ++k) {
            const auto b = static_cast<unsigned char>(text[i + k]);
            if ((b & 0xC0) != 0x80) {
                return std::nullopt;
            }
            cp = (cp << 6) | (b & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return std::nullopt;
        }
        out.push_back(cp);
        i += length;
    }
    return out;
}

bool is_control(char32_t cp) {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

std::string type_name(const json& value) {
    if (value.is_number_integer()) {
        return "an integer";
    }
    if (value.is_number()) {
        return "a number";
    }
    switch (value.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::string:
            return "a string";
        case json::value_t::array:
            return "an array";
        case json::value_t::object:
            return "an object";
        default:
            return "an unsupported value";
    }
}

std::string format_number(double value) {
    if (std::floor(value) == value && std::fabs(value) < 1e15) {
        return std::to_string(static_cast<long long>(value));
    }
    return json(value).dump();
}

// Collects issues and warnings while the manifest is being read.
class Checker {
  public:
    void issue(std::string path, std::string message) {
        issues.push_back({std::move(path), std::move(message)});
    }
    void warn(std::string path, std::string message) {
        warnings.push_back({std::move(path), std::move(message)});
    }

    // An integral JSON number (2.0 counts as 2); nullopt + issue otherwise.
    std::optional<long long> integer(const json& value, const std::string& path) {
        if (value.is_number_integer()) {
            if (value.is_number_unsigned() &&
                value.get<unsigned long long>() >
                    static_cast<unsigned long long>(std::numeric_limits<long long>::max())) {
                issue(path, "is far too large");
                return std::nullopt;
            }
            return value.get<long long>();
        }
        if (value.is_number_float()) {
            const double d = value.get<double>();
            if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 1e15) {
                return static_cast<long long>(d);
            }
        }
        issue(path, "must be an integer, not " + type_name(value) + " (" + value.dump() + ")");
        return std::nullopt;
    }

    // A number of seconds in (0, kMaxSeconds].
    std::optional<double> seconds(const json& value, const std::string& path) {
        if (!value.is_number()) {
            issue(path, "must be a number of seconds, not " + type_name(value));
            return std::nullopt;
        }
        const double d = value.get<double>();
        if (!(d > 0.0)) {
            issue(path, "must be greater than 0 seconds (got " + value.dump() + ")");
            return std::nullopt;
        }
        if (d > kMaxSeconds) {
            issue(path, "must be at most " + format_number(kMaxSeconds) + " seconds (got " +
                            value.dump() + ")");
            return std::nullopt;
        }
        return d;
    }

    std::vector<ManifestIssue> issues;
    std::vector<ManifestIssue> warnings;
};

void warn_unknown_keys(Checker& checker, const json& object, std::string_view prefix,
                       std::initializer_list<std::string_view> known) {
    for (const auto& [key, value] : object.items()) {
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            const std::string path = prefix.empty() ? key : std::string(prefix) + "." + key;
            checker.warn(path, "unknown field " + in_quotes(key) + " is ignored");
        }
    }
}

void check_game_name(Checker& checker, const std::string& name) {
    const auto decoded = decode_utf8(name);
    if (!decoded) {
        checker.issue("game_name", "is not valid UTF-8");
        return;
    }
    if (decoded->empty()) {
        checker.issue("game_name", "must not be empty");
        return;
    }
    if (decoded->size() > kMaxGameNameChars) {
        checker.issue("game_name", "must be at most " + std::to_string(kMaxGameNameChars) +
                                       " characters (has " + std::to_string(decoded->size()) + ")");
    }
    if (std::any_of(decoded->begin(), decoded->end(), is_control)) {
        checker.issue("game_name", "must not contain control characters");
    }
    if (name.find_first_of("/\\") != std::string::npos) {
        checker.issue("game_name",
                      "must not contain '/' or '\\' (the name is used in install paths)");
    }
    if (name == "." || name == "..") {
        checker.issue("game_name", "must not be '.' or '..'");
    }
    if (name.front() == ' ' || name.back() == ' ' || name.front() == '\t' || name.back() == '\t') {
        checker.issue("game_name", "must not start or end with whitespace");
    }
}

void check_description(Checker& checker, const std::string& text) {
    const auto decoded = decode_utf8(text);
    if (!decoded) {
        checker.issue("description", "is not valid UTF-8");
        return;
    }
    if (decoded->size() > kMaxDescriptionChars) {
        checker.issue("description", "must be at most " + std::to_string(kMaxDescriptionChars) +
                                         " characters (has " + std::to_string(decoded->size()) +
                                         ")");
    }
    // Descriptions are printed in players' terminals: escape sequences could
    // rewrite the screen, so only newline and tab are allowed.
    if (std::any_of(decoded->begin(), decoded->end(),
                    [](char32_t cp) { return is_control(cp) && cp != '\n' && cp != '\t'; })) {
        checker.issue("description",
                      "must not contain control characters other than newline and tab");
    }
}

// Where a template sits, for the rules that depend on it.
enum class Site { Argv, Env, Healthcheck };

void check_template(Checker& checker, const std::string& text, const std::string& path, Role role,
                    Site site, int max_players) {
    std::vector<std::string> names;
    try {
        names = template_placeholders(text);
    } catch (const TemplateError& error) {
        checker.issue(path, std::string(error.what()) + " in " + in_quotes(text));
        return;
    }
    for (const auto& name : names) {
        const std::string shown = "{" + name + "}";
        if (!is_known_placeholder(name, max_players)) {
            if (name.size() >= 2 && name[0] == 'p' &&
                std::all_of(name.begin() + 1, name.end(),
                            [](char c) { return c >= '0' && c <= '9'; })) {
                checker.issue(path, shown + " does not exist for a game of at most " +
                                        std::to_string(max_players) +
                                        " players (max_players); use {p1}..{p" +
                                        std::to_string(max_players) + "} or {players_json_path}");
            } else {
                checker.issue(path, "unknown placeholder " + shown +
                                        "; known placeholders: room_id, match_id, port, host, "
                                        "bind_host, report_host, report_port, client_token, "
                                        "report_token, client_token_path, report_token_path, "
                                        "platform_protocol_version, player_name, player_count, "
                                        "players_json, players_csv, players_json_path, p1..p" +
                                        std::to_string(max_players));
            }
            continue;
        }
        const bool is_token = name == "client_token" || name == "report_token";
        if (role == Role::Client && (name == "report_token" || name == "report_token_path")) {
            checker.issue(path, shown +
                                    " is not available to the game client: only the game "
                                    "server reports to the platform");
            continue;
        }
        if (is_token && site != Site::Env) {
            const std::string env_name = name == "client_token" ? "CLIENT_TOKEN" : "REPORT_TOKEN";
            checker.issue(path, shown +
                                    " must not appear here: tokens must travel by env or file, "
                                    "never on a command line (other local users can read argv); "
                                    "read " +
                                    env_name + " or the file named by " + env_name + "_PATH ({" +
                                    name + "_path}) instead");
            continue;
        }
        if (role == Role::Server && name == "player_name") {
            checker.warn(path,
                         "{player_name} is empty for the game server; use {p1}..{pN}, "
                         "{players_json} or {players_json_path}");
        }
        if (role == Role::Client &&
            (name == "bind_host" || name == "report_host" || name == "report_port")) {
            checker.warn(path, shown + " is not known to the game client and renders empty");
        }
    }
}

// A relative path that stays inside the package: no "..", not absolute.
std::optional<std::string> relative_path_problem(const std::string& path) {
    if (!path.empty() && path.front() == '/') {
        return "must be a path relative to the package root, not an absolute path";
    }
    if (path.find('\\') != std::string::npos) {
        return "must use '/' as the separator, not '\\'";
    }
    for (const auto& part : std::filesystem::path(path)) {
        if (part == "..") {
            return "must stay inside the package ('..' is not allowed)";
        }
    }
    return std::nullopt;
}

void parse_command(Checker& checker, const json& section, Role role, int max_players,
                   ProcessTemplate& out) {
    const std::string path = std::string(role_name(role)) + ".command";
    const auto found = section.find("command");
    if (found == section.end()) {
        checker.issue(path, "is required: the command line that starts the game " +
                                std::string(role_name(role)));
        return;
    }
    const json& command = *found;
    if (command.is_string()) {
        try {
            out.argv = split_command(command.get<std::string>());
        } catch (const TemplateError& error) {
            checker.issue(path, error.what());
            return;
        }
    } else if (command.is_array()) {
        for (std::size_t i = 0; i < command.size(); ++i) {
            if (!command[i].is_string()) {
                checker.issue(path + "[" + std::to_string(i) + "]",
                              "must be a string, not " + type_name(command[i]));
                continue;
            }
            out.argv.push_back(command[i].get<std::string>());
        }
        if (out.argv.size() != command.size()) {
            out.argv.clear();
            return;
        }
    } else {
        checker.issue(path,
                      "must be a string (split like a shell command line) or an array "
                      "of strings (argv), not " +
                          type_name(command));
        return;
    }
    if (out.argv.empty()) {
        checker.issue(path, "must not be empty");
        return;
    }
    if (out.argv.front().empty()) {
        checker.issue(path + "[0]", "the program name must not be empty");
    }
    for (std::size_t i = 0; i < out.argv.size(); ++i) {
        check_template(checker, out.argv[i], path + "[" + std::to_string(i) + "]", role, Site::Argv,
                       max_players);
    }
}

void parse_env(Checker& checker, const json& section, Role role, int max_players,
               ProcessTemplate& out) {
    const std::string path = std::string(role_name(role)) + ".env";
    const auto found = section.find("env");
    if (found == section.end() || found->is_null()) {
        return;
    }
    if (!found->is_object()) {
        checker.issue(path, "must be an object of NAME: value, not " + type_name(*found));
        return;
    }
    for (const auto& [name, value] : found->items()) {
        const std::string entry_path = path + "." + name;
        if (name.empty() || name.find('=') != std::string::npos ||
            name.find('\0') != std::string::npos) {
            checker.issue(entry_path, "is not a valid environment variable name");
            continue;
        }
        std::string text;
        if (value.is_string()) {
            text = value.get<std::string>();
        } else if (value.is_number()) {
            text = value.is_number_float() ? format_number(value.get<double>()) : value.dump();
        } else if (value.is_boolean()) {
            text = value.get<bool>() ? "true" : "false";
        } else {
            checker.issue(entry_path, "must be a string (or a number), not " + type_name(value));
            continue;
        }
        if (text.find('\0') != std::string::npos) {
            checker.issue(entry_path, "must not contain a NUL character");
            continue;
        }
        check_template(checker, text, entry_path, role, Site::Env, max_players);
        out.env.emplace_back(name, std::move(text));
    }
}

void parse_cwd(Checker& checker, const json& section, Role role, ProcessTemplate& out) {
    const std::string path = std::string(role_name(role)) + ".cwd";
    const auto found = section.find("cwd");
    if (found == section.end() || found->is_null()) {
        return;
    }
    if (!found->is_string()) {
        checker.issue(path, "must be a string, not " + type_name(*found));
        return;
    }
    const std::string cwd = found->get<std::string>();
    if (const auto problem = relative_path_problem(cwd)) {
        checker.issue(path, *problem);
        return;
    }
    const std::string normal = std::filesystem::path(cwd).lexically_normal().generic_string();
    out.cwd = (normal == "." || normal == "./") ? std::string() : normal;
}

// A probe context whose every value is distinct, used to decide whether a
// manifest env entry for a standard name merely repeats the platform's value.
LaunchContext probe_context(int max_players) {
    LaunchContext probe;
    probe.room_id = 7301;
    probe.match_id = "probe-match-id";
    probe.port = 47001;
    probe.host = "probe-advertised-host";
    probe.bind_host = "probe-bind-host";
    probe.report_host = "probe-report-host";
    probe.report_port = 47002;
    probe.client_token = "probe-client-token";
    probe.report_token = "probe-report-token";
    probe.client_token_path = "/probe/client_token";
    probe.report_token_path = "/probe/report_token";
    for (int k = 1; k <= max_players; ++k) {
        probe.players.push_back("probe-player-" + std::to_string(k));
    }
    probe.players_json_path = "/probe/players.json";
    probe.player_name = "probe-player-name";
    probe.platform_protocol_version = 1;
    probe.match_dir = "/probe/match-dir";
    return probe;
}

void check_standard_env(Checker& checker, const Manifest& manifest, Role role,
                        const std::vector<std::string_view>& standard_names) {
    const ProcessTemplate& process = role == Role::Server ? manifest.server : manifest.client;
    const LaunchContext probe = probe_context(manifest.max_players);
    const auto standard =
        role == Role::Server ? standard_server_env(manifest, probe) : standard_client_env(probe);
    const PlaceholderValues values = probe.placeholders(manifest.max_players);
    for (const auto& [name, value_template] : process.env) {
        if (std::find(standard_names.begin(), standard_names.end(), name) == standard_names.end()) {
            continue;
        }
        std::string rendered;
        try {
            rendered = render_argument(value_template, values);
        } catch (const TemplateError&) {
            continue;  // already reported by check_template
        }
        // Captured by an explicit reference: clang 14 (the fuzz build) cannot
        // capture a structured binding.
        const auto platform_value =
            std::find_if(standard.begin(), standard.end(),
                         [&name = name](const auto& entry) { return entry.first == name; });
        if (platform_value != standard.end() && platform_value->second != rendered) {
            checker.issue(std::string(role_name(role)) + ".env." + name,
                          name +
                              " is set by the platform and cannot be overridden; remove it "
                              "from the manifest");
        }
    }
}

}  // namespace

std::string format_issue(const ManifestIssue& issue) {
    if (issue.path.empty()) {
        return issue.message;
    }
    return issue.path + ": " + issue.message;
}

std::string_view to_string(GameType type) {
    return type == GameType::Cli ? "CLI" : "GUI";
}

ManifestResult parse_manifest(std::string_view json_text) {
    if (json_text.size() > kMaxManifestBytes) {
        ManifestResult result;
        result.issues.push_back({"", "manifest.json is " + std::to_string(json_text.size()) +
                                         " bytes; the limit is " +
                                         std::to_string(kMaxManifestBytes)});
        return result;
    }
    json document;
    try {
        document = json::parse(json_text);
    } catch (const json::parse_error& error) {
        ManifestResult result;
        result.issues.push_back(
            {"", std::string("manifest.json is not valid JSON: ") + error.what()});
        return result;
    } catch (const json::out_of_range& error) {
        // nlohmann refuses a number literal beyond a double's range (1e400)
        // with out_of_range 406, not parse_error.
        ManifestResult result;
        result.issues.push_back(
            {"", std::string("manifest.json holds a number too large to read: ") + error.what()});
        return result;
    }
    return parse_manifest_json(document);
}

ManifestResult parse_manifest_json(const json& document) {
    Checker checker;
    ManifestResult result;
    if (!document.is_object()) {
        result.issues.push_back(
            {"", "the manifest must be a JSON object, not " + type_name(document)});
        return result;
    }
    warn_unknown_keys(checker, document, "",
                      {"game_name", "version", "type", "max_players", "min_players", "description",
                       "protocol_version", "server", "client", "healthcheck"});

    Manifest manifest;

    // Required strings.
    auto required_string = [&](const char* key, const char* what) -> std::optional<std::string> {
        const auto found = document.find(key);
        if (found == document.end()) {
            checker.issue(key, std::string("is required: ") + what);
            return std::nullopt;
        }
        if (!found->is_string()) {
            checker.issue(key, "must be a string, not " + type_name(*found));
            return std::nullopt;
        }
        return found->get<std::string>();
    };

    if (auto name = required_string("game_name", "the game's name as shown in the store")) {
        check_game_name(checker, *name);
        manifest.game_name = std::move(*name);
    }
    if (auto version = required_string("version", "a semantic version such as 1.0.0")) {
        const auto parsed = protocol::parse_semver_detailed(*version);
        if (const auto* reason = std::get_if<std::string>(&parsed)) {
            checker.issue("version", *reason +
                                         " (examples: 1.0.0, 1.2.0-beta.1, 2.0.0+build.5; no "
                                         "'v' prefix)");
        }
        manifest.version = std::move(*version);
    }
    if (auto type = required_string("type", "\"CLI\" or \"GUI\"")) {
        std::string upper = *type;
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        if (upper == "CLI") {
            manifest.type = GameType::Cli;
        } else if (upper == "GUI") {
            manifest.type = GameType::Gui;
        } else {
            checker.issue("type", "must be \"CLI\" or \"GUI\", not " + in_quotes(*type));
        }
    }

    // Player counts. When max_players is unusable the placeholder checks below
    // still run, against the largest legal game, so they report what they can.
    bool max_ok = false;
    if (const auto found = document.find("max_players"); found == document.end()) {
        checker.issue("max_players", "is required: the most players a match can have (1.." +
                                         std::to_string(kMaxPlayersLimit) + ")");
    } else if (const auto value = checker.integer(*found, "max_players")) {
        if (*value < 1 || *value > kMaxPlayersLimit) {
            checker.issue("max_players", "must be between 1 and " +
                                             std::to_string(kMaxPlayersLimit) + " (got " +
                                             std::to_string(*value) + ")");
        } else {
            manifest.max_players = static_cast<int>(*value);
            max_ok = true;
        }
    }
    if (!max_ok) {
        manifest.max_players = kMaxPlayersLimit;
    }
    manifest.min_players = (max_ok && manifest.max_players == 1) ? 1 : 2;
    if (const auto found = document.find("min_players"); found != document.end()) {
        if (const auto value = checker.integer(*found, "min_players")) {
            if (*value < 1) {
                checker.issue("min_players",
                              "must be at least 1 (got " + std::to_string(*value) + ")");
            } else if (max_ok && *value > manifest.max_players) {
                checker.issue("min_players", "must not exceed max_players (" +
                                                 std::to_string(*value) + " > " +
                                                 std::to_string(manifest.max_players) + ")");
            } else if (*value <= kMaxPlayersLimit) {
                manifest.min_players = static_cast<int>(*value);
            } else {
                checker.issue("min_players", "must be at most " + std::to_string(kMaxPlayersLimit));
            }
        }
    }

    if (const auto found = document.find("description");
        found != document.end() && !found->is_null()) {
        if (!found->is_string()) {
            checker.issue("description", "must be a string, not " + type_name(*found));
        } else {
            manifest.description = found->get<std::string>();
            check_description(checker, manifest.description);
        }
    }

    if (const auto found = document.find("protocol_version"); found != document.end()) {
        if (const auto value = checker.integer(*found, "protocol_version")) {
            if (*value != 1) {
                checker.issue("protocol_version", "protocol version " + std::to_string(*value) +
                                                      " is not supported by this platform "
                                                      "(supported: 1)");
            }
            manifest.protocol_version = static_cast<int>(*value);
        }
    }

    // Healthcheck first: server.startup_timeout defaults to its timeout.
    bool healthcheck_timeout_given = false;
    if (const auto found = document.find("healthcheck"); found == document.end()) {
        checker.warn("healthcheck", "is missing; using tcp_port \"{port}\" and timeout_sec 10");
    } else if (!found->is_object()) {
        checker.issue("healthcheck", "must be an object, not " + type_name(*found));
    } else {
        const json& hc = *found;
        manifest.healthcheck.declared = true;
        warn_unknown_keys(checker, hc, "healthcheck", {"tcp_port", "timeout_sec", "host"});
        if (const auto port = hc.find("tcp_port"); port == hc.end()) {
            checker.warn("healthcheck.tcp_port", "is missing; using \"{port}\"");
        } else if (port->is_string()) {
            const std::string text = port->get<std::string>();
            check_template(checker, text, "healthcheck.tcp_port", Role::Server, Site::Healthcheck,
                           manifest.max_players);
            bool templated = true;
            try {
                templated = !template_placeholders(text).empty();
            } catch (const TemplateError&) {
                // reported by check_template
            }
            if (!templated) {
                const bool digits = !text.empty() && text.size() <= 5 &&
                                    std::all_of(text.begin(), text.end(),
                                                [](char c) { return c >= '0' && c <= '9'; });
                if (!digits || std::stoi(text) < 1 || std::stoi(text) > 65535) {
                    checker.issue("healthcheck.tcp_port",
                                  in_quotes(text) +
                                      " is neither a template such as \"{port}\" "
                                      "nor a TCP port number (1..65535)");
                }
            }
            manifest.healthcheck.tcp_port = text;
        } else if (port->is_number()) {
            if (const auto value = checker.integer(*port, "healthcheck.tcp_port")) {
                if (*value < 1 || *value > 65535) {
                    checker.issue("healthcheck.tcp_port",
                                  "must be a TCP port (1..65535), got " + std::to_string(*value));
                } else {
                    manifest.healthcheck.tcp_port = std::to_string(*value);
                }
            }
        } else {
            checker.issue("healthcheck.tcp_port",
                          "must be a template string such as \"{port}\" or a port number, not " +
                              type_name(*port));
        }
        if (const auto timeout = hc.find("timeout_sec"); timeout == hc.end()) {
            checker.warn("healthcheck.timeout_sec", "is missing; using 10 seconds");
        } else if (const auto value = checker.seconds(*timeout, "healthcheck.timeout_sec")) {
            manifest.healthcheck.timeout_sec = *value;
            healthcheck_timeout_given = true;
        }
        if (const auto host = hc.find("host"); host != hc.end() && !host->is_null()) {
            if (!host->is_string()) {
                checker.issue("healthcheck.host", "must be a string, not " + type_name(*host));
            } else {
                manifest.healthcheck.host = host->get<std::string>();
                check_template(checker, manifest.healthcheck.host, "healthcheck.host", Role::Server,
                               Site::Healthcheck, manifest.max_players);
            }
        }
    }

    manifest.startup_timeout_sec =
        healthcheck_timeout_given ? manifest.healthcheck.timeout_sec : kDefaultTimeoutSec;
    manifest.heartbeat_interval_sec = kDefaultHeartbeatSec;

    for (const Role role : {Role::Server, Role::Client}) {
        const std::string key(role_name(role));
        ProcessTemplate& process = role == Role::Server ? manifest.server : manifest.client;
        const auto found = document.find(key);
        if (found == document.end()) {
            checker.issue(key, "is required: an object with at least \"command\"");
            continue;
        }
        if (!found->is_object()) {
            checker.issue(key,
                          "must be an object with at least \"command\", not " + type_name(*found));
            continue;
        }
        const json& section = *found;
        if (role == Role::Server) {
            warn_unknown_keys(
                checker, section, key,
                {"command", "env", "cwd", "startup_timeout", "heartbeat_interval_sec"});
            if (const auto t = section.find("startup_timeout"); t != section.end()) {
                if (const auto value = checker.seconds(*t, "server.startup_timeout")) {
                    manifest.startup_timeout_sec = *value;
                }
            }
            if (const auto h = section.find("heartbeat_interval_sec"); h != section.end()) {
                if (const auto value = checker.seconds(*h, "server.heartbeat_interval_sec")) {
                    manifest.heartbeat_interval_sec = *value;
                }
            }
        } else {
            warn_unknown_keys(checker, section, key, {"command", "env", "cwd"});
        }
        parse_command(checker, section, role, manifest.max_players, process);
        parse_env(checker, section, role, manifest.max_players, process);
        parse_cwd(checker, section, role, process);
    }

    check_standard_env(checker, manifest, Role::Server, standard_server_env_names());
    check_standard_env(checker, manifest, Role::Client, standard_client_env_names());

    result.issues = std::move(checker.issues);
    result.warnings = std::move(checker.warnings);
    if (result.issues.empty()) {
        result.manifest = std::move(manifest);
    }
    return result;
}

ManifestResult load_manifest(const std::filesystem::path& manifest_file) {
    ManifestResult result;
    std::error_code ec;
    const auto size = std::filesystem::file_size(manifest_file, ec);
    if (ec) {
        result.issues.push_back(
            {"", "cannot read " + manifest_file.string() + ": " + ec.message()});
        return result;
    }
    if (size > kMaxManifestBytes) {
        result.issues.push_back({"", manifest_file.string() + " is " + std::to_string(size) +
                                         " bytes; the limit is " +
                                         std::to_string(kMaxManifestBytes)});
        return result;
    }
    std::ifstream in(manifest_file, std::ios::binary);
    std::string text(static_cast<std::size_t>(size), '\0');
    if (!in.read(text.data(), static_cast<std::streamsize>(text.size()))) {
        result.issues.push_back({"", "cannot read " + manifest_file.string()});
        return result;
    }
    return parse_manifest(text);
}

namespace {

constexpr std::array<std::string_view, 17> kScriptExtensions = {
    ".py",  ".pyc", ".pyz", ".js",   ".mjs", ".cjs", ".ts",   ".rb",   ".pl",
    ".php", ".lua", ".sh",  ".bash", ".jar", ".tcl", ".love", ".wasm",
};

bool looks_like_package_file(const std::string& arg) {
    if (arg.empty() || arg.front() == '-' || arg.front() == '/' ||
        arg.find_first_of("{}=") != std::string::npos || arg.find("://") != std::string::npos) {
        return false;
    }
    if (arg.find('/') != std::string::npos) {
        return true;
    }
    const std::string extension = std::filesystem::path(arg).extension().string();
    return std::find(kScriptExtensions.begin(), kScriptExtensions.end(), extension) !=
           kScriptExtensions.end();
}

// Lexically inside `root` (no ".." climbing out).
bool lexically_inside(const std::filesystem::path& root, const std::filesystem::path& path) {
    const auto relative = path.lexically_normal().lexically_relative(root.lexically_normal());
    if (relative.empty()) {
        return false;
    }
    const auto first = *relative.begin();
    return first != "..";
}

// Inside `canonical_root` once symlinks are resolved.
bool resolves_inside(const std::filesystem::path& canonical_root,
                     const std::filesystem::path& path) {
    std::error_code ec;
    const auto resolved = std::filesystem::weakly_canonical(path, ec);
    if (ec) {
        return false;
    }
    const auto relative = resolved.lexically_relative(canonical_root);
    return !relative.empty() && *relative.begin() != "..";
}

void check_process_files(std::vector<ManifestIssue>& issues, const ProcessTemplate& process,
                         std::string_view role, const std::filesystem::path& root,
                         const std::filesystem::path& canonical_root) {
    namespace fs = std::filesystem;
    const std::string prefix(role);
    fs::path base = root;
    if (!process.cwd.empty()) {
        const fs::path dir = root / process.cwd;
        std::error_code ec;
        if (!lexically_inside(root, dir) || !resolves_inside(canonical_root, dir)) {
            issues.push_back({prefix + ".cwd", in_quotes(process.cwd) + " leaves the package"});
            return;
        }
        if (!fs::is_directory(dir, ec)) {
            issues.push_back({prefix + ".cwd", "directory " + in_quotes(process.cwd) +
                                                   " does not exist in the package"});
            return;
        }
        base = dir;
    }
    for (std::size_t i = 0; i < process.argv.size(); ++i) {
        const std::string& arg = process.argv[i];
        const std::string path = prefix + ".command[" + std::to_string(i) + "]";
        const bool program = i == 0;
        if (program) {
            if (arg.empty() || arg.front() == '/' || arg.find('/') == std::string::npos ||
                arg.find_first_of("{}") != std::string::npos) {
                continue;  // absolute, looked up in PATH, or only known at launch
            }
        } else if (!looks_like_package_file(arg)) {
            continue;
        }
        const fs::path target = (base / arg).lexically_normal();
        if (!lexically_inside(root, target) || !resolves_inside(canonical_root, target)) {
            issues.push_back({path, in_quotes(arg) + " points outside the package"});
            continue;
        }
        std::error_code ec;
        const auto status = fs::status(target, ec);
        if (ec || !fs::exists(status)) {
            issues.push_back({path, in_quotes(arg) + " does not exist in the package" +
                                        (process.cwd.empty() ? std::string()
                                                             : " (relative to cwd " +
                                                                   in_quotes(process.cwd) + ")")});
            continue;
        }
        if (program) {
            if (!fs::is_regular_file(status)) {
                issues.push_back({path, in_quotes(arg) + " is not a regular file"});
                continue;
            }
            const auto perms = status.permissions();
            const auto exec =
                fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec;
            if ((perms & exec) == fs::perms::none) {
                issues.push_back({path, in_quotes(arg) +
                                            " is not executable: run chmod +x on it and use a "
                                            "zip tool that keeps unix permissions (gamestore-dev "
                                            "publish does), or start it through an interpreter "
                                            "such as python3"});
            }
        }
    }
}

}  // namespace

std::vector<ManifestIssue> check_referenced_files(const Manifest& manifest,
                                                  const std::filesystem::path& package_root) {
    std::vector<ManifestIssue> issues;
    std::error_code ec;
    const auto root = std::filesystem::absolute(package_root, ec).lexically_normal();
    const auto canonical_root = std::filesystem::weakly_canonical(root, ec);
    if (ec || !std::filesystem::is_directory(root, ec)) {
        issues.push_back({"", "package directory " + package_root.string() + " does not exist"});
        return issues;
    }
    check_process_files(issues, manifest.server, "server", root, canonical_root);
    check_process_files(issues, manifest.client, "client", root, canonical_root);
    return issues;
}

}  // namespace gamestore::packages
