// Fuzzing command templates: a manifest's command string is split once with
// shell-like quoting, then each argv element is rendered with the match's
// values. The input is the command string, then (after a NUL) the players'
// names separated by NULs. Bad quoting and bad placeholders are refused with
// a TemplateError pointing into the text; splitting is undone by quoting
// every argument again; a placeholder value lands verbatim in the one element
// that names it, so a player name never adds, removes or splits arguments.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "platform/packages/command_template.hpp"
#include "platform/packages/manifest.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace gamestore::packages;

constexpr int kMaxPlayers = 8;

bool is_separator(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Splitting by whitespace alone: what split_command must do when the command
// has no quotes and no backslashes.
std::vector<std::string> whitespace_split(std::string_view text) {
    std::vector<std::string> words;
    std::string current;
    for (const char c : text) {
        if (is_separator(c)) {
            if (!current.empty()) {
                words.push_back(std::move(current));
                current.clear();
            }
        } else {
            current.push_back(c);
        }
    }
    if (!current.empty()) {
        words.push_back(std::move(current));
    }
    return words;
}

// 'it'\''s' style quoting, which split_command reads back as one argument.
std::string single_quoted(const std::string& arg) {
    std::string out = "'";
    for (const char c : arg) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out.push_back(c);
        }
    }
    out += "'";
    return out;
}

std::vector<std::string> players_from(std::string_view rest) {
    std::vector<std::string> players;
    while (players.size() < static_cast<std::size_t>(kMaxPlayers)) {
        const std::size_t nul = rest.find('\0');
        players.emplace_back(rest.substr(0, nul));
        if (nul == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(nul + 1);
    }
    return players;
}

LaunchContext match_context(std::vector<std::string> players) {
    LaunchContext context;
    context.room_id = 7;
    context.match_id = "m-7";
    context.port = 40001;
    context.host = "203.0.113.7";
    context.report_host = "127.0.0.1";
    context.report_port = 16535;
    // A NUL inside: neither the command nor a player name can hold one, so
    // only the token placeholders themselves could put these in argv.
    context.client_token = std::string("client\0secret", 13);
    context.report_token = std::string("report\0secret", 13);
    context.client_token_path = "/run/m-7/client_token";
    context.report_token_path = "/run/m-7/report_token";
    context.players = std::move(players);
    context.players_json_path = "/run/m-7/players.json";
    context.player_name = context.players.front();
    context.match_dir = "/run/m-7";
    return context;
}

PlaceholderValues all_empty(const PlaceholderValues& values) {
    PlaceholderValues empty;
    for (const auto& entry : values) {
        empty.emplace(entry.first, std::string());
    }
    return empty;
}

// One argv element: syntax errors are refused by both functions alike; a
// rendering is the literal text plus each value, verbatim.
void check_element(const std::string& element, const PlaceholderValues& values) {
    std::vector<std::string> names;
    try {
        names = template_placeholders(element);
    } catch (const TemplateError& error) {
        FUZZ_CHECK(error.position() < element.size());
        bool refused = false;
        try {
            render_argument(element, values);
        } catch (const TemplateError&) {
            refused = true;
        }
        FUZZ_CHECK(refused);
        return;
    }
    const bool all_known = std::all_of(names.begin(), names.end(), [&](const std::string& name) {
        return values.find(name) != values.end();
    });
    if (!all_known) {
        bool refused = false;
        try {
            render_argument(element, values);
        } catch (const TemplateError& error) {
            FUZZ_CHECK(error.position() < element.size());
            refused = true;
        }
        FUZZ_CHECK(refused);
        return;
    }
    const std::string rendered = render_argument(element, values);
    const std::string literal = render_argument(element, all_empty(values));
    std::size_t expected = literal.size();
    for (const auto& name : names) {
        const std::string& value = values.find(name)->second;
        expected += value.size();
        FUZZ_CHECK(rendered.find(value) != std::string::npos);
    }
    FUZZ_CHECK(rendered.size() == expected);
    if (names.size() == 1 && element == "{" + names.front() + "}") {
        FUZZ_CHECK(rendered == values.find(names.front())->second);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t nul = input.find('\0');
    const std::string_view command = input.substr(0, nul);
    const std::vector<std::string> players =
        players_from(nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1));

    std::vector<std::string> argv;
    try {
        argv = split_command(command);
    } catch (const TemplateError& error) {
        FUZZ_CHECK(error.position() < command.size());
        const char at = command[error.position()];
        FUZZ_CHECK(at == '\'' || at == '"' || at == '\\');
        return 0;
    }
    if (command.find_first_of("'\"\\") == std::string_view::npos) {
        FUZZ_CHECK(argv == whitespace_split(command));
    }
    std::string requoted;
    for (const auto& arg : argv) {
        requoted += single_quoted(arg) + " ";
    }
    FUZZ_CHECK(split_command(requoted) == argv);

    const LaunchContext context = match_context(players);
    const PlaceholderValues values = context.placeholders(kMaxPlayers);
    const auto known = known_placeholders(kMaxPlayers);
    FUZZ_CHECK(values.size() == known.size());
    for (const auto& name : known) {
        FUZZ_CHECK(values.count(name) == 1);
        FUZZ_CHECK(is_known_placeholder(name, kMaxPlayers));
    }
    for (const auto& element : argv) {
        check_element(element, values);
    }

    // The whole launch: one rendered element per template element, and the
    // tokens only by env or file (render refuses a template that names them).
    Manifest manifest;
    manifest.max_players = kMaxPlayers;
    manifest.server.argv = argv;
    manifest.client.argv = argv;
    for (const bool server : {true, false}) {
        try {
            const LaunchSpec spec = server ? render_server_launch(manifest, context, "/srv/pkg")
                                           : render_client_launch(manifest, context, "/srv/pkg");
            FUZZ_CHECK(spec.argv.size() == argv.size());
            FUZZ_CHECK(
                !argv_contains_secret(spec.argv, {context.client_token, context.report_token}));
        } catch (const TemplateError&) {
            // An unknown placeholder, a syntax error or a token in argv:
            // refused, which the checks above already pinned down.
        }
    }
    return 0;
}
