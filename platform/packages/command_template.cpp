#include "platform/packages/command_template.hpp"

#include "platform/packages/manifest.hpp"
#include "platform/protocol/text.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <system_error>

namespace gamestore::packages {

namespace {

constexpr std::array<std::string_view, 17> kFixedPlaceholders = {
    "bind_host",         "client_token",
    "client_token_path", "host",
    "match_id",          "platform_protocol_version",
    "player_count",      "player_name",
    "players_csv",       "players_json",
    "players_json_path", "port",
    "report_host",       "report_port",
    "report_token",      "report_token_path",
    "room_id",
};

bool is_separator(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Walks a template once, calling on_literal(char) for literal characters
// (with `{{`/`}}` already collapsed) and on_placeholder(name, position).
template <typename OnLiteral, typename OnPlaceholder>
void scan_template(std::string_view text, OnLiteral on_literal, OnPlaceholder on_placeholder) {
    std::size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if (c == '{') {
            if (i + 1 < text.size() && text[i + 1] == '{') {
                on_literal('{');
                i += 2;
                continue;
            }
            const std::size_t close = text.find('}', i + 1);
            if (close == std::string_view::npos) {
                throw TemplateError("'{' at position " + std::to_string(i) +
                                        " is never closed; write '{{' for a literal brace",
                                    i);
            }
            const std::string_view name = text.substr(i + 1, close - i - 1);
            if (name.empty()) {
                throw TemplateError("empty placeholder '{}' at position " + std::to_string(i) +
                                        "; name one, e.g. {port}",
                                    i);
            }
            if (name.find('{') != std::string_view::npos) {
                throw TemplateError("'{' inside the placeholder at position " + std::to_string(i) +
                                        "; write '{{' for a literal brace",
                                    i);
            }
            if (name.find_first_of(":!") != std::string_view::npos) {
                throw TemplateError("placeholder '{" + std::string(name) + "}' at position " +
                                        std::to_string(i) +
                                        " uses a format spec or conversion, which is not "
                                        "supported; write the bare name, e.g. {port}",
                                    i);
            }
            on_placeholder(name, i);
            i = close + 1;
        } else if (c == '}') {
            if (i + 1 < text.size() && text[i + 1] == '}') {
                on_literal('}');
                i += 2;
                continue;
            }
            throw TemplateError(
                "single '}' at position " + std::to_string(i) + "; write '}}' for a literal brace",
                i);
        } else {
            on_literal(c);
            ++i;
        }
    }
}

// Shortest decimal text that reads back as the same double: 5 -> "5", 2.5 -> "2.5".
std::string format_decimal(double value) {
    std::array<char, 64> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    return std::string(buffer.data(), result.ptr);
}

const std::vector<std::pair<std::string_view, std::string_view>> kTokenPlaceholderEnv = {
    {"client_token", "CLIENT_TOKEN"},
    {"report_token", "REPORT_TOKEN"},
};

std::vector<std::string> render_argv(const std::vector<std::string>& templates,
                                     const PlaceholderValues& values, std::string_view section) {
    std::vector<std::string> argv;
    argv.reserve(templates.size());
    for (const auto& element : templates) {
        for (const auto& name : template_placeholders(element)) {
            for (const auto& [token, env_name] : kTokenPlaceholderEnv) {
                if (name == token) {
                    throw TemplateError(std::string(section) + " puts {" + std::string(token) +
                                            "} in argv; tokens travel only by env (" +
                                            std::string(env_name) + ") or file ({" +
                                            std::string(token) + "_path})",
                                        0);
                }
            }
        }
        argv.push_back(render_argument(element, values));
    }
    return argv;
}

bool contains_name(const std::vector<std::string_view>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

// Standard variables first (platform-owned), then the manifest's others.
std::vector<std::pair<std::string, std::string>> merge_env(
    std::vector<std::pair<std::string, std::string>> standard,
    const std::vector<std::pair<std::string, std::string>>& manifest_env,
    const std::vector<std::string_view>& standard_names, const PlaceholderValues& values) {
    for (const auto& [name, value_template] : manifest_env) {
        if (contains_name(standard_names, name)) {
            continue;
        }
        standard.emplace_back(name, render_argument(value_template, values));
    }
    return standard;
}

std::filesystem::path process_cwd(const std::filesystem::path& package_root,
                                  const std::string& cwd) {
    if (cwd.empty()) {
        return package_root;
    }
    return (package_root / cwd).lexically_normal();
}

bool is_executable_file(const std::filesystem::path& path) {
    std::error_code ec;
    return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::vector<std::string> split_command(std::string_view command) {
    std::vector<std::string> argv;
    std::string current;
    bool in_word = false;  // true once a word has started, even if it is "" so far
    std::size_t i = 0;
    while (i < command.size()) {
        const char c = command[i];
        if (is_separator(c)) {
            if (in_word) {
                argv.push_back(std::move(current));
                current.clear();
                in_word = false;
            }
            ++i;
        } else if (c == '\'') {
            const std::size_t close = command.find('\'', i + 1);
            if (close == std::string_view::npos) {
                throw TemplateError("unterminated single quote at position " + std::to_string(i),
                                    i);
            }
            current.append(command.substr(i + 1, close - i - 1));
            in_word = true;
            i = close + 1;
        } else if (c == '"') {
            const std::size_t open = i;
            ++i;
            bool closed = false;
            while (i < command.size()) {
                const char d = command[i];
                if (d == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                if (d == '\\' && i + 1 < command.size()) {
                    const char next = command[i + 1];
                    if (next == '"' || next == '\\' || next == '$' || next == '`') {
                        current.push_back(next);
                        i += 2;
                        continue;
                    }
                    if (next == '\n') {  // line continuation, as in POSIX sh
                        i += 2;
                        continue;
                    }
                }
                current.push_back(d);
                ++i;
            }
            if (!closed) {
                throw TemplateError("unterminated double quote at position " + std::to_string(open),
                                    open);
            }
            in_word = true;
        } else if (c == '\\') {
            if (i + 1 >= command.size()) {
                throw TemplateError(
                    "trailing backslash at position " + std::to_string(i) + " escapes nothing", i);
            }
            if (command[i + 1] != '\n') {
                current.push_back(command[i + 1]);
                in_word = true;
            }
            i += 2;
        } else {
            current.push_back(c);
            in_word = true;
            ++i;
        }
    }
    if (in_word) {
        argv.push_back(std::move(current));
    }
    return argv;
}

std::vector<std::string> template_placeholders(std::string_view arg) {
    std::vector<std::string> names;
    scan_template(
        arg, [](char) {}, [&](std::string_view name, std::size_t) { names.emplace_back(name); });
    return names;
}

std::string render_argument(std::string_view arg, const PlaceholderValues& values) {
    std::string out;
    out.reserve(arg.size());
    scan_template(
        arg, [&](char c) { out.push_back(c); },
        [&](std::string_view name, std::size_t position) {
            const auto found = values.find(name);
            if (found == values.end()) {
                throw TemplateError("unknown placeholder {" + std::string(name) + "} at position " +
                                        std::to_string(position),
                                    position);
            }
            out.append(found->second);
        });
    return out;
}

std::vector<std::string> known_placeholders(int max_players) {
    std::vector<std::string> names(kFixedPlaceholders.begin(), kFixedPlaceholders.end());
    for (int k = 1; k <= max_players; ++k) {
        names.push_back("p" + std::to_string(k));
    }
    std::sort(names.begin(), names.end());
    return names;
}

bool is_known_placeholder(std::string_view name, int max_players) {
    if (std::find(kFixedPlaceholders.begin(), kFixedPlaceholders.end(), name) !=
        kFixedPlaceholders.end()) {
        return true;
    }
    if (name.size() < 2 || name[0] != 'p' || name[1] == '0') {
        return false;
    }
    int k = 0;
    const auto* first = name.data() + 1;
    const auto* last = name.data() + name.size();
    const auto result = std::from_chars(first, last, k);
    return result.ec == std::errc{} && result.ptr == last && k >= 1 && k <= max_players;
}

std::string LaunchContext::players_json() const {
    // Account names are ASCII, but this must not throw for any string: bytes
    // that are not UTF-8 become U+FFFD instead of a json::type_error escaping
    // from render_*_launch.
    return nlohmann::json(players).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string LaunchContext::players_csv() const {
    std::string out;
    for (std::size_t i = 0; i < players.size(); ++i) {
        if (i != 0) {
            out.push_back(',');
        }
        out.append(players[i]);
    }
    return out;
}

PlaceholderValues LaunchContext::placeholders(int max_players) const {
    PlaceholderValues values{
        {"room_id", std::to_string(room_id)},
        {"match_id", match_id},
        {"port", std::to_string(port)},
        {"host", host},
        {"bind_host", bind_host},
        {"report_host", report_host},
        {"report_port", std::to_string(report_port)},
        {"client_token", client_token},
        {"report_token", report_token},
        {"client_token_path", client_token_path.string()},
        {"report_token_path", report_token_path.string()},
        {"platform_protocol_version", std::to_string(platform_protocol_version)},
        {"player_name", player_name},
        {"player_count", std::to_string(players.size())},
        {"players_json", players_json()},
        {"players_csv", players_csv()},
        {"players_json_path", players_json_path.string()},
    };
    for (int k = 1; k <= max_players; ++k) {
        const auto index = static_cast<std::size_t>(k - 1);
        values["p" + std::to_string(k)] = index < players.size() ? players[index] : std::string();
    }
    return values;
}

namespace {

// The names, in order, taken from the functions that fill in the values, so
// the lists cannot drift apart. The views point into a static sample.
std::vector<std::string_view> names_of(
    const std::vector<std::pair<std::string, std::string>>& env) {
    std::vector<std::string_view> names;
    for (const auto& entry : env) {
        names.push_back(entry.first);
    }
    return names;
}

}  // namespace

const std::vector<std::string_view>& standard_server_env_names() {
    static const std::vector<std::pair<std::string, std::string>> sample =
        standard_server_env(Manifest{}, LaunchContext{});
    static const std::vector<std::string_view> names = names_of(sample);
    return names;
}

const std::vector<std::string_view>& standard_client_env_names() {
    static const std::vector<std::pair<std::string, std::string>> sample =
        standard_client_env(LaunchContext{});
    static const std::vector<std::string_view> names = names_of(sample);
    return names;
}

std::vector<std::pair<std::string, std::string>> standard_server_env(const Manifest& manifest,
                                                                     const LaunchContext& context) {
    return {
        {"ROOM_ID", std::to_string(context.room_id)},
        {"MATCH_ID", context.match_id},
        {"PORT", std::to_string(context.port)},
        {"BIND_HOST", context.bind_host},
        {"REPORT_HOST", context.report_host},
        {"REPORT_PORT", std::to_string(context.report_port)},
        {"REPORT_TOKEN", context.report_token},
        {"REPORT_TOKEN_PATH", context.report_token_path.string()},
        {"CLIENT_TOKEN", context.client_token},
        {"CLIENT_TOKEN_PATH", context.client_token_path.string()},
        {"PLAYERS_JSON", context.players_json()},
        {"PLAYERS_JSON_PATH", context.players_json_path.string()},
        {"PLAYERS_CSV", context.players_csv()},
        {"PLAYER_COUNT", std::to_string(context.players.size())},
        {"PLATFORM_PROTOCOL_VERSION", std::to_string(context.platform_protocol_version)},
        {"HEARTBEAT_INTERVAL_SEC", format_decimal(manifest.heartbeat_interval_sec)},
        {"MATCH_DIR", context.match_dir.string()},
    };
}

std::vector<std::pair<std::string, std::string>> standard_client_env(const LaunchContext& context) {
    return {
        {"ROOM_ID", std::to_string(context.room_id)},
        {"MATCH_ID", context.match_id},
        {"HOST", context.host},
        {"PORT", std::to_string(context.port)},
        {"PLAYER_NAME", context.player_name},
        {"CLIENT_TOKEN", context.client_token},
        {"CLIENT_TOKEN_PATH", context.client_token_path.string()},
        {"PLATFORM_PROTOCOL_VERSION", std::to_string(context.platform_protocol_version)},
        {"MATCH_DIR", context.match_dir.string()},
    };
}

LaunchSpec render_server_launch(const Manifest& manifest, const LaunchContext& context,
                                const std::filesystem::path& package_root) {
    const PlaceholderValues values = context.placeholders(manifest.max_players);
    // argv is rendered from a map without the tokens: even a manifest that
    // skipped validation cannot put one on a command line.
    PlaceholderValues argv_values = values;
    argv_values.erase("client_token");
    argv_values.erase("report_token");

    LaunchSpec spec;
    spec.argv = render_argv(manifest.server.argv, argv_values, "server.command");
    spec.env = merge_env(standard_server_env(manifest, context), manifest.server.env,
                         standard_server_env_names(), values);
    spec.cwd = process_cwd(package_root, manifest.server.cwd);
    return spec;
}

LaunchSpec render_client_launch(const Manifest& manifest, const LaunchContext& context,
                                const std::filesystem::path& package_root) {
    // A client holding the report token could forge match results, so the
    // client side never gets it, whatever the caller's context contains.
    PlaceholderValues values = context.placeholders(manifest.max_players);
    values.erase("report_token");
    values.erase("report_token_path");
    PlaceholderValues argv_values = values;
    argv_values.erase("client_token");

    LaunchSpec spec;
    spec.argv = render_argv(manifest.client.argv, argv_values, "client.command");
    spec.env = merge_env(standard_client_env(context), manifest.client.env,
                         standard_client_env_names(), values);
    spec.cwd = process_cwd(package_root, manifest.client.cwd);
    return spec;
}

HealthcheckTarget render_healthcheck(const Manifest& manifest, const LaunchContext& context) {
    PlaceholderValues values = context.placeholders(manifest.max_players);
    values.erase("client_token");
    values.erase("report_token");

    HealthcheckTarget target;
    target.timeout_sec = manifest.healthcheck.timeout_sec;
    const std::string port_text = render_argument(manifest.healthcheck.tcp_port, values);
    unsigned int port = 0;
    const auto* first = port_text.data();
    const auto* last = port_text.data() + port_text.size();
    const auto result = std::from_chars(first, last, port);
    if (port_text.empty() || result.ec != std::errc{} || result.ptr != last || port == 0 ||
        port > 65535) {
        throw TemplateError("healthcheck.tcp_port rendered to " + protocol::in_quotes(port_text) +
                                ", which is not a TCP port (1..65535)",
                            0);
    }
    target.port = static_cast<std::uint16_t>(port);
    if (!manifest.healthcheck.host.empty()) {
        std::string host = render_argument(manifest.healthcheck.host, values);
        if (!host.empty()) {
            target.host = std::move(host);
        }
    }
    return target;
}

bool argv_contains_secret(const std::vector<std::string>& argv,
                          std::initializer_list<std::string_view> secrets) {
    for (const auto& secret : secrets) {
        if (secret.empty()) {
            continue;
        }
        for (const auto& element : argv) {
            if (element.find(secret) != std::string::npos) {
                return true;
            }
        }
    }
    return false;
}

std::optional<std::filesystem::path> resolve_program(const LaunchSpec& spec,
                                                     std::string_view path_env) {
    if (spec.argv.empty() || spec.argv.front().empty()) {
        return std::nullopt;
    }
    const std::string& program = spec.argv.front();
    if (program.front() == '/') {
        return is_executable_file(program) ? std::optional<std::filesystem::path>(program)
                                           : std::nullopt;
    }
    if (program.find('/') != std::string::npos) {
        auto candidate = (spec.cwd / program).lexically_normal();
        return is_executable_file(candidate) ? std::optional(candidate) : std::nullopt;
    }
    std::size_t start = 0;
    while (start <= path_env.size()) {
        std::size_t end = path_env.find(':', start);
        if (end == std::string_view::npos) {
            end = path_env.size();
        }
        const std::string_view dir = path_env.substr(start, end - start);
        // An empty PATH element means the current directory, which for a
        // launched process is its cwd (POSIX execvp semantics).
        const std::filesystem::path base = dir.empty() ? spec.cwd : std::filesystem::path(dir);
        auto candidate = base / program;
        if (is_executable_file(candidate)) {
            return candidate;
        }
        start = end + 1;
    }
    return std::nullopt;
}

}  // namespace gamestore::packages
