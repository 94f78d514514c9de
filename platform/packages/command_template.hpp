#pragma once
// Turning a manifest's command templates into a process launch, without a shell.
//
// A command string is split into argv ONCE, with shell-like quoting, at
// manifest parse time. Each argv element is then rendered on its own: a
// placeholder value is copied verbatim into the element it appears in. No
// shell ever sees the result, so a player named `a b; $(rm -rf /)` is one
// argv element holding exactly those characters, never code.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gamestore::packages {

struct Manifest;

// Bad quoting in a command or bad placeholder syntax/name in a template.
// position() is the byte offset in the text it concerns.
class TemplateError : public std::runtime_error {
  public:
    TemplateError(const std::string& message, std::size_t position)
        : std::runtime_error(message), position_(position) {}
    std::size_t position() const noexcept { return position_; }

  private:
    std::size_t position_;
};

// Shell-like splitting, with none of a shell's expansions:
// - unquoted whitespace (space, tab, newline, CR, VT, FF) separates arguments;
// - '...' keeps everything literally up to the next ';
// - "..." keeps everything literally except that a backslash escapes
//   \" \\ \$ \` (and backslash-newline is removed); other backslashes stay;
// - outside quotes a backslash makes the next character literal;
// - adjacent pieces join into one argument: --name="a b"'c' -> `--name=a bc`;
// - "" or '' alone is an empty argument;
// - $, ~, *, ?, ;, |, &, <, >, #, ( and ) are ordinary characters.
// An unterminated quote or a trailing backslash throws TemplateError whose
// position() is the offending quote or backslash.
std::vector<std::string> split_command(std::string_view command);

// Placeholder name -> value. Transparent comparator: lookups by string_view.
using PlaceholderValues = std::map<std::string, std::string, std::less<>>;

// Names of the placeholders used in a template, in order of appearance,
// duplicates included. `{{` and `}}` are literal braces (Python str.format).
// Throws TemplateError on: an unterminated `{`, a lone `}`, an empty `{}`, or
// a format spec/conversion (`{port:d}`, `{p1!r}`), which are not supported.
std::vector<std::string> template_placeholders(std::string_view arg);

// Substitutes every placeholder of one argv element (or env value). The value
// is inserted verbatim: no quoting, splitting or escaping happens here.
// Throws TemplateError for syntax errors and for names missing from `values`.
std::string render_argument(std::string_view arg, const PlaceholderValues& values);

// Every placeholder a manifest may use, for a game of `max_players` players
// (p1..p<max_players>), sorted.
std::vector<std::string> known_placeholders(int max_players);
// True for the fixed names and for pK with 1 <= K <= max_players.
bool is_known_placeholder(std::string_view name, int max_players);

// What the platform (server side) or the player's launcher (client side)
// knows about one match. Values that one side does not know stay empty.
struct LaunchContext {
    std::int64_t room_id = 0;
    std::string match_id;
    std::uint16_t port = 0;             // the game server's port
    std::string host;                   // advertised host clients connect to
    std::string bind_host = "0.0.0.0";  // address the game server binds
    std::string report_host;            // control plane
    std::uint16_t report_port = 0;
    std::string client_token;
    std::string report_token;
    std::filesystem::path client_token_path;  // files inside match_dir, mode 0600
    std::filesystem::path report_token_path;
    std::vector<std::string> players;  // in seat order: players[0] is {p1}
    std::filesystem::path players_json_path;
    std::string player_name;  // the local player (client side)
    int platform_protocol_version = 1;
    std::filesystem::path match_dir;  // per-match directory, mode 0700

    // JSON array of the player names, e.g. ["alice","bob"]. Never throws:
    // bytes that are not valid UTF-8 are written as U+FFFD.
    std::string players_json() const;
    // The names joined with ",", e.g. alice,bob (names may contain commas:
    // games should prefer players_json / players_json_path).
    std::string players_csv() const;

    // Every placeholder of known_placeholders(max_players) with its value;
    // {pK} is the K-th player or "" when fewer players are in the match.
    PlaceholderValues placeholders(int max_players) const;
};

struct LaunchSpec {
    std::vector<std::string> argv;
    // Variables the platform adds for this process (standard ones first, then
    // the manifest's own). The launcher chooses the base environment they are
    // added to.
    std::vector<std::pair<std::string, std::string>> env;
    std::filesystem::path cwd;  // package root, or package root / manifest cwd
};

// Environment variable names the platform sets itself, in the order
// standard_*_env() lists them. A manifest may not give them a different value
// (validated at parse time; at render time the platform's value wins).
const std::vector<std::string_view>& standard_server_env_names();
const std::vector<std::string_view>& standard_client_env_names();

// The standard variables with their values for this match. The client side
// never includes the report token.
std::vector<std::pair<std::string, std::string>> standard_server_env(const Manifest& manifest,
                                                                     const LaunchContext& context);
std::vector<std::pair<std::string, std::string>> standard_client_env(const LaunchContext& context);

// Render the game server / game client launch. argv is rendered from the
// manifest's templates with a value map that does not contain the tokens at
// all, so a token cannot reach argv; a manifest that tries (it would have
// failed validation) makes these throw TemplateError. The client launch never
// sees the report token, whatever the context holds.
LaunchSpec render_server_launch(const Manifest& manifest, const LaunchContext& context,
                                const std::filesystem::path& package_root);
LaunchSpec render_client_launch(const Manifest& manifest, const LaunchContext& context,
                                const std::filesystem::path& package_root);

struct HealthcheckTarget {
    std::optional<std::string> host;  // unset: try 127.0.0.1, then the advertised host
    std::uint16_t port = 0;
    double timeout_sec = 10.0;
};

// Renders healthcheck.tcp_port / healthcheck.host. Throws TemplateError when
// the rendered port is not a number in 1..65535.
HealthcheckTarget render_healthcheck(const Manifest& manifest, const LaunchContext& context);

// Defense in depth for launchers: true when any argv element contains any of
// the (non-empty) secrets as a substring.
bool argv_contains_secret(const std::vector<std::string>& argv,
                          std::initializer_list<std::string_view> secrets);

// The executable the launcher should exec for `spec`: argv[0] itself when
// absolute, cwd / argv[0] when it contains a '/', otherwise the first
// executable regular file named argv[0] in the ':'-separated `path_env`.
// nullopt when nothing matches.
std::optional<std::filesystem::path> resolve_program(const LaunchSpec& spec,
                                                     std::string_view path_env);

}  // namespace gamestore::packages
