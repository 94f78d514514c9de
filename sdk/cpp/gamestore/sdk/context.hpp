#pragma once
// Launch context of a gamestore game process: everything the platform (or
// validate_game_package) hands a game server or game client through its
// environment. Tokens arrive by env (*_TOKEN) or by 0600 files in the
// per-match directory (*_TOKEN_PATH); they never travel in argv.
//
// Header-only; depends on the C++ standard library only.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace gamestore::sdk {

// Version of the control-plane and handshake protocols this SDK speaks.
inline constexpr int kProtocolVersion = 1;

// Looks up one environment variable; std::nullopt when unset. Injectable so
// tests and embedders can supply a map instead of the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

inline EnvLookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        if (const char* value = std::getenv(name.c_str())) {
            return std::string(value);
        }
        return std::nullopt;
    };
}

// Tokens are secrets: logs get at most their first 6 characters.
inline std::string redact(std::string_view token) {
    if (token.size() <= 6) {
        return std::string(token.size(), '*');
    }
    return std::string(token.substr(0, 6)) + "\xE2\x80\xA6";  // U+2026 HORIZONTAL ELLIPSIS
}

// Thrown when the launch environment is incomplete or malformed. The message
// names every missing and every invalid variable at once, so one run tells
// the developer everything that is wrong.
class ContextError : public std::runtime_error {
  public:
    ContextError(std::vector<std::string> missing, std::vector<std::string> invalid)
        : std::runtime_error(describe(missing, invalid)),
          missing_(std::move(missing)),
          invalid_(std::move(invalid)) {}

    const std::vector<std::string>& missing() const noexcept { return missing_; }
    const std::vector<std::string>& invalid() const noexcept { return invalid_; }

  private:
    static std::string join(const std::vector<std::string>& items) {
        std::string out;
        for (const auto& item : items) {
            if (!out.empty()) {
                out += ", ";
            }
            out += item;
        }
        return out;
    }

    static std::string describe(const std::vector<std::string>& missing,
                                const std::vector<std::string>& invalid) {
        std::string text;
        if (!missing.empty()) {
            text += "missing " + join(missing);
        }
        if (!invalid.empty()) {
            if (!text.empty()) {
                text += "; ";
            }
            text += "invalid " + join(invalid);
        }
        return text +
               ": this program must be started by the gamestore platform or "
               "validate_game_package";
    }

    std::vector<std::string> missing_;
    std::vector<std::string> invalid_;
};

namespace detail {

inline std::string trim(std::string_view text) {
    const auto is_space = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    };
    while (!text.empty() && is_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_space(text.back())) {
        text.remove_suffix(1);
    }
    return std::string(text);
}

template <typename Int>
std::optional<Int> parse_int(std::string_view text) {
    Int value{};
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty()) {
        return std::nullopt;
    }
    return value;
}

inline std::optional<double> parse_double(std::string_view text) {
    double value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty()) {
        return std::nullopt;
    }
    return value;
}

// Token and player files are tiny; a cap keeps a misconfigured path (say,
// /dev/zero) from eating memory.
inline constexpr std::size_t kMaxContextFileBytes = 1024 * 1024;

// Reads a whole small file; std::nullopt plus a reason on failure.
inline std::optional<std::string> read_small_file(const std::string& path, std::string& why) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        why = "cannot open " + path;
        return std::nullopt;
    }
    std::string data;
    char buffer[4096];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        data.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (data.size() > kMaxContextFileBytes) {
            why = path + " is larger than 1 MiB";
            return std::nullopt;
        }
    }
    if (in.bad()) {
        why = "cannot read " + path;
        return std::nullopt;
    }
    return data;
}

// Collects every missing/invalid variable instead of stopping at the first.
class EnvReader {
  public:
    explicit EnvReader(const EnvLookup& lookup) : lookup_(lookup) {}

    // The value without surrounding whitespace. Empty and whitespace-only
    // values count as unset: `PORT=` is a launcher bug, not a port, and a
    // blank REPORT_TOKEN must not hide REPORT_TOKEN_PATH (as in the Python SDK).
    std::optional<std::string> get(const std::string& name) const {
        auto value = lookup_(name);
        if (!value) {
            return std::nullopt;
        }
        auto trimmed = trim(*value);
        if (trimmed.empty()) {
            return std::nullopt;
        }
        return trimmed;
    }

    std::optional<std::string> required_string(const std::string& name) {
        auto value = get(name);
        if (!value) {
            missing_.push_back(name);
        }
        return value;
    }

    template <typename Int>
    std::optional<Int> integer(const std::string& name, Int min, Int max, bool required) {
        auto text = get(name);
        if (!text) {
            if (required) {
                missing_.push_back(name);
            }
            return std::nullopt;
        }
        auto value = parse_int<Int>(trim(*text));
        if (!value || *value < min || *value > max) {
            invalid_.push_back(name + " (\"" + *text + "\" is not an integer in " +
                               std::to_string(min) + ".." + std::to_string(max) + ")");
            return std::nullopt;
        }
        return value;
    }

    std::optional<double> positive_double(const std::string& name) {
        auto text = get(name);
        if (!text) {
            return std::nullopt;
        }
        auto value = parse_double(trim(*text));
        if (!value || !(*value > 0) || *value > 86400) {
            invalid_.push_back(name + " (\"" + *text +
                               "\" is not a number of seconds in (0, 86400])");
            return std::nullopt;
        }
        return value;
    }

    // A secret: NAME wins, else the file named by NAME_PATH. Surrounding
    // whitespace (the newline an editor or `echo` adds) is not part of it,
    // and a NAME of only whitespace counts as unset, so the file is used.
    std::optional<std::string> token(const std::string& name) {
        const std::string path_name = name + "_PATH";
        if (auto value = get(name)) {
            return value;  // already trimmed and non-empty
        }
        if (auto path = get(path_name)) {
            std::string why;
            auto data = read_small_file(*path, why);
            if (!data) {
                invalid_.push_back(path_name + " (" + why + ")");
                return std::nullopt;
            }
            auto token = trim(*data);
            if (token.empty()) {
                invalid_.push_back(path_name + " (" + *path + " is empty)");
                return std::nullopt;
            }
            return token;
        }
        missing_.push_back(name + " (or " + path_name + ")");
        return std::nullopt;
    }

    // The player list: the file PLAYERS_JSON_PATH, else PLAYERS_JSON, else
    // PLAYERS_CSV (docs/MANIFEST.md "Environment variables"): the file comes
    // first because it avoids every quoting problem. The platform sets all
    // three with the same content.
    std::optional<std::vector<std::string>> players() {
        std::string source;
        std::optional<std::string> json_text;
        if (auto path = get("PLAYERS_JSON_PATH")) {
            source = "PLAYERS_JSON_PATH";
            std::string why;
            json_text = read_small_file(*path, why);
            if (!json_text) {
                invalid_.push_back("PLAYERS_JSON_PATH (" + why + ")");
                return std::nullopt;
            }
        } else if (auto value = get("PLAYERS_JSON")) {
            source = "PLAYERS_JSON";
            json_text = value;
        } else if (auto csv = get("PLAYERS_CSV")) {
            return check_players("PLAYERS_CSV", split_csv(*csv));
        } else {
            missing_.push_back("PLAYERS_JSON_PATH (or PLAYERS_JSON)");
            return std::nullopt;
        }
        const auto parsed = nlohmann::json::parse(*json_text, nullptr, false);
        if (parsed.is_discarded() || !parsed.is_array()) {
            invalid_.push_back(source + " (not a JSON array of player names)");
            return std::nullopt;
        }
        std::vector<std::string> names;
        for (const auto& item : parsed) {
            if (!item.is_string()) {
                invalid_.push_back(source + " (every entry must be a string)");
                return std::nullopt;
            }
            names.push_back(item.get<std::string>());
        }
        return check_players(source, std::move(names));
    }

    void fail_invalid(std::string text) { invalid_.push_back(std::move(text)); }
    void warn(std::string text) { warnings_.push_back(std::move(text)); }
    const std::vector<std::string>& warnings() const noexcept { return warnings_; }

    void throw_if_failed() const {
        if (!missing_.empty() || !invalid_.empty()) {
            throw ContextError(missing_, invalid_);
        }
    }

  private:
    static std::vector<std::string> split_csv(const std::string& csv) {
        std::vector<std::string> names;
        std::string item;
        std::istringstream in(csv);
        while (std::getline(in, item, ',')) {
            names.push_back(trim(item));
        }
        return names;
    }

    std::optional<std::vector<std::string>> check_players(const std::string& source,
                                                          std::vector<std::string> names) {
        std::unordered_set<std::string> seen;
        for (const auto& name : names) {
            if (name.empty()) {
                invalid_.push_back(source + " (contains an empty player name)");
                return std::nullopt;
            }
            if (!seen.insert(name).second) {
                invalid_.push_back(source + " (player \"" + name + "\" is listed twice)");
                return std::nullopt;
            }
        }
        if (names.empty()) {
            invalid_.push_back(source + " (no players)");
            return std::nullopt;
        }
        return names;
    }

    const EnvLookup& lookup_;
    std::vector<std::string> missing_;
    std::vector<std::string> invalid_;
    std::vector<std::string> warnings_;
};

// Tolerant on purpose (as the Python SDK): a platform that announces a newer
// protocol still accepts v1 messages from older games, so refusing to start
// would only break games that work. The mismatch becomes a warning.
inline void check_protocol_version(EnvReader& env, int& out) {
    if (auto version = env.integer<int>("PLATFORM_PROTOCOL_VERSION", 1,
                                        std::numeric_limits<int>::max(), false)) {
        if (*version != kProtocolVersion) {
            env.warn("PLATFORM_PROTOCOL_VERSION=" + std::to_string(*version) +
                     " but this SDK speaks protocol " + std::to_string(kProtocolVersion) +
                     "; messages are sent as version " + std::to_string(kProtocolVersion));
        }
        out = *version;
    }
}

// Hands the reader's warnings to the context and to stderr, where the
// Python SDK's logging puts them too. Never contains a token.
inline void emit_warnings(const EnvReader& env, std::vector<std::string>& out) {
    for (const auto& warning : env.warnings()) {
        std::cerr << "gamestore-sdk: warning: " << warning << '\n';
        out.push_back(warning);
    }
}

}  // namespace detail

// What a game server and a game client both know about their match.
class LaunchContext {
  public:
    std::int64_t room_id() const noexcept { return room_id_; }
    const std::string& match_id() const noexcept { return match_id_; }
    // Secret: authenticates clients to the game server.
    const std::string& client_token() const noexcept { return client_token_; }
    int port() const noexcept { return port_; }
    int platform_protocol_version() const noexcept { return platform_protocol_version_; }
    // Per-match scratch directory (0700), empty when the launcher set none.
    const std::string& match_dir() const noexcept { return match_dir_; }
    // What from_env() found odd but usable (also written to stderr), e.g. a
    // PLATFORM_PROTOCOL_VERSION other than the one this SDK speaks.
    const std::vector<std::string>& warnings() const noexcept { return warnings_; }

    void set_port(int port) { port_ = port; }

  protected:
    std::int64_t room_id_ = 0;
    std::string match_id_;
    std::string client_token_;
    int port_ = 0;
    int platform_protocol_version_ = kProtocolVersion;
    std::string match_dir_;
    std::vector<std::string> warnings_;
};

// Values from the command line that take precedence over the environment. A
// set value also satisfies the requirement, so `--port 7000` works without PORT.
struct ServerOverrides {
    std::optional<int> port;
    std::optional<std::string> bind_host;
    std::optional<std::string> report_host;
    std::optional<int> report_port;
    std::optional<double> heartbeat_interval_sec;
};

// Launch context of a game server process.
class ServerContext : public LaunchContext {
  public:
    // Reads ROOM_ID, MATCH_ID, PORT, BIND_HOST, REPORT_HOST, REPORT_PORT,
    // REPORT_TOKEN[_PATH], CLIENT_TOKEN[_PATH], PLAYERS_JSON_PATH/PLAYERS_JSON/PLAYERS_CSV,
    // PLAYER_COUNT, PLATFORM_PROTOCOL_VERSION, HEARTBEAT_INTERVAL_SEC, MATCH_DIR.
    // Throws ContextError naming every missing or invalid variable.
    static ServerContext from_env(const ServerOverrides& overrides = {},
                                  const EnvLookup& lookup = process_env()) {
        detail::EnvReader env(lookup);
        ServerContext ctx;
        if (auto v = env.integer<std::int64_t>("ROOM_ID", 0,
                                               std::numeric_limits<std::int64_t>::max(), true)) {
            ctx.room_id_ = *v;
        }
        if (auto v = env.required_string("MATCH_ID")) {
            ctx.match_id_ = *v;
        }
        // PORT=0 asks the OS for a free port; GameServerSocket::port() then
        // reports the real one, which is what STARTED must carry.
        if (overrides.port) {
            ctx.port_ = *overrides.port;
        } else if (auto v = env.integer<int>("PORT", 0, 65535, true)) {
            ctx.port_ = *v;
        }
        ctx.bind_host_ =
            overrides.bind_host ? *overrides.bind_host : env.get("BIND_HOST").value_or("0.0.0.0");
        ctx.report_host_ = overrides.report_host ? *overrides.report_host
                                                 : env.get("REPORT_HOST").value_or("127.0.0.1");
        if (overrides.report_port) {
            ctx.report_port_ = *overrides.report_port;
        } else if (auto v = env.integer<int>("REPORT_PORT", 1, 65535, true)) {
            ctx.report_port_ = *v;
        }
        if (auto v = env.token("REPORT_TOKEN")) {
            ctx.report_token_ = *v;
        }
        if (auto v = env.token("CLIENT_TOKEN")) {
            ctx.client_token_ = *v;
        }
        if (auto v = env.players()) {
            ctx.players_ = std::move(*v);
            if (auto count = env.integer<int>("PLAYER_COUNT", 0, 1000000, false)) {
                if (static_cast<std::size_t>(*count) != ctx.players_.size()) {
                    env.fail_invalid("PLAYER_COUNT (" + std::to_string(*count) +
                                     ", but the player list names " +
                                     std::to_string(ctx.players_.size()) + ")");
                }
            }
        }
        detail::check_protocol_version(env, ctx.platform_protocol_version_);
        if (overrides.heartbeat_interval_sec) {
            ctx.set_heartbeat_interval_sec(*overrides.heartbeat_interval_sec);
        } else if (auto v = env.positive_double("HEARTBEAT_INTERVAL_SEC")) {
            ctx.set_heartbeat_interval_sec(*v);
        }
        ctx.match_dir_ = env.get("MATCH_DIR").value_or("");
        env.throw_if_failed();
        detail::emit_warnings(env, ctx.warnings_);
        return ctx;
    }

    const std::string& bind_host() const noexcept { return bind_host_; }
    const std::string& report_host() const noexcept { return report_host_; }
    int report_port() const noexcept { return report_port_; }
    // Secret: authenticates this server's reports to the platform.
    const std::string& report_token() const noexcept { return report_token_; }
    // Player names in seat order; handshakes must name one of them.
    const std::vector<std::string>& players() const noexcept { return players_; }
    std::size_t player_count() const noexcept { return players_.size(); }
    std::chrono::milliseconds heartbeat_interval() const noexcept { return heartbeat_interval_; }

    void set_bind_host(std::string host) { bind_host_ = std::move(host); }
    void set_report_host(std::string host) { report_host_ = std::move(host); }
    void set_report_port(int port) { report_port_ = port; }
    void set_heartbeat_interval_sec(double seconds) {
        if (!(seconds > 0)) {
            throw std::invalid_argument("heartbeat interval must be positive");
        }
        heartbeat_interval_ = std::chrono::milliseconds(
            std::max<std::int64_t>(1, static_cast<std::int64_t>(seconds * 1000.0 + 0.5)));
    }

  private:
    std::string bind_host_ = "0.0.0.0";
    std::string report_host_ = "127.0.0.1";
    int report_port_ = 0;
    std::string report_token_;
    std::vector<std::string> players_;
    std::chrono::milliseconds heartbeat_interval_{5000};
};

struct ClientOverrides {
    std::optional<std::string> host;
    std::optional<int> port;
    std::optional<std::string> player_name;
};

// Launch context of a game client process.
class ClientContext : public LaunchContext {
  public:
    // Reads ROOM_ID, MATCH_ID, HOST, PORT, PLAYER_NAME, CLIENT_TOKEN[_PATH],
    // PLATFORM_PROTOCOL_VERSION, MATCH_DIR. Throws ContextError naming every
    // missing or invalid variable.
    static ClientContext from_env(const ClientOverrides& overrides = {},
                                  const EnvLookup& lookup = process_env()) {
        detail::EnvReader env(lookup);
        ClientContext ctx;
        if (auto v = env.integer<std::int64_t>("ROOM_ID", 0,
                                               std::numeric_limits<std::int64_t>::max(), true)) {
            ctx.room_id_ = *v;
        }
        if (auto v = env.required_string("MATCH_ID")) {
            ctx.match_id_ = *v;
        }
        if (overrides.host) {
            ctx.host_ = *overrides.host;
        } else if (auto v = env.required_string("HOST")) {
            ctx.host_ = *v;
        }
        if (overrides.port) {
            ctx.port_ = *overrides.port;
        } else if (auto v = env.integer<int>("PORT", 1, 65535, true)) {
            ctx.port_ = *v;
        }
        if (overrides.player_name) {
            ctx.player_name_ = *overrides.player_name;
        } else if (auto v = env.required_string("PLAYER_NAME")) {
            ctx.player_name_ = *v;
        }
        if (auto v = env.token("CLIENT_TOKEN")) {
            ctx.client_token_ = *v;
        }
        detail::check_protocol_version(env, ctx.platform_protocol_version_);
        ctx.match_dir_ = env.get("MATCH_DIR").value_or("");
        env.throw_if_failed();
        detail::emit_warnings(env, ctx.warnings_);
        return ctx;
    }

    // Advertised address of the game server (not its bind address).
    const std::string& host() const noexcept { return host_; }
    const std::string& player_name() const noexcept { return player_name_; }

    void set_host(std::string host) { host_ = std::move(host); }
    void set_player_name(std::string name) { player_name_ = std::move(name); }

  private:
    std::string host_;
    std::string player_name_;
};

}  // namespace gamestore::sdk
