#include "sim/scenario.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include <toml++/toml.h>

#include "platform/protocol/text.hpp"

namespace gamestore::sim {

namespace {

using protocol::in_quotes;
using protocol::join;

const std::vector<std::pair<std::string, std::string>> kInvariants = {
    {"I1", "no client launched before its player saw IN_GAME with port and token"},
    {"I2", "IN_GAME => port and token present, STARTING => hidden"},
    {"I3", "every match exit path ends in WAITING with ready cleared"},
    {"I4", "stale/forged reports change nothing, each counted"},
    {"I5", "no orphan process, port or match dir"},
    {"I6", "lobby ping p99 stays under the bound during abuse"},
    {"I7", "nothing acknowledged is lost across kill -9 + restart"},
    {"I8", "exactly one terminal result per match"},
    {"I9", "no token in any argv or in full in any log"},
};

// The terminal statuses a match.ended can carry (store::MatchStatus minus OPEN).
constexpr std::array<std::string_view, 6> kStatuses = {"END", "ERROR", "CRASHED", "TIMEOUT", "ABORTED",
                                                      "LAUNCH_FAILED"};

std::string type_name(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        default: return "nothing";
    }
}

std::string number_text(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

std::string join_path(const std::string& prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

// Lower (and optional upper) limit of a floating-point setting.
struct Bound {
    double min = 0;
    bool min_excluded = false;
    double max = std::numeric_limits<double>::infinity();

    bool admits(double value) const { return value >= min && !(min_excluded && value == min) && value <= max; }
    std::string describe() const {
        if (std::isfinite(max)) {
            return "must be between " + number_text(min) + " and " + number_text(max);
        }
        return std::string(min_excluded ? "must be > " : "must be >= ") + number_text(min);
    }
};
constexpr Bound kPositive{0, true};
constexpr Bound kNonNegative{0};
constexpr Bound kProbability{0, false, 1};

// Returns what is wrong with a string value, or "" when it is fine.
using Check = std::function<std::string(std::string_view)>;

std::string check_non_empty(std::string_view text) {
    return text.empty() ? "must not be empty" : "";
}

std::string check_profile(std::string_view text) {
    const bool ok = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
    return ok ? "" : "must match [a-z0-9-]+ (a fakegame package dir name), got " + in_quotes(text);
}

std::string check_status(std::string_view text) {
    if (std::find(kStatuses.begin(), kStatuses.end(), text) != kStatuses.end()) {
        return "";
    }
    return "must be one of " + join(kStatuses, ", ") + "; got " + in_quotes(text);
}

std::string check_invariant(std::string_view text) {
    const auto& names = invariant_names();
    if (std::find(names.begin(), names.end(), text) != names.end()) {
        return "";
    }
    return "must be one of I1..I9, got " + in_quotes(text);
}

// Walks the TOML tree collecting every problem, so an author fixes a
// scenario in one round instead of one error per run.
class Reader {
public:
    using Handler = std::function<void(const toml::node&, const std::string& path)>;
    struct Field {
        std::string_view key;
        Handler read;
    };
    using TableHandler = std::function<void(const toml::table&, const std::string& path)>;

    explicit Reader(std::string file) : file_(std::move(file)) {}

    const std::vector<std::string>& errors() const { return errors_; }
    bool ok(const std::string& path) const { return !bad_paths_.contains(path); }

    void error(const std::string& path, const std::string& what) {
        bad_paths_.insert(path);
        errors_.push_back(file_ + ": " + path + ": " + what);
    }

    // Reads the known keys of `table`; any other key is an error, which is
    // what catches a misspelt setting that would otherwise silently keep its default.
    void read_table(const toml::table& table, const std::string& prefix, const std::vector<Field>& fields) {
        for (const auto& field : fields) {
            if (const toml::node* node = table.get(field.key)) {
                field.read(*node, join_path(prefix, field.key));
            }
        }
        for (auto&& [key, node] : table) {
            const auto known = [&](const Field& field) { return field.key == key.str(); };
            if (std::none_of(fields.begin(), fields.end(), known)) {
                std::vector<std::string_view> keys;
                for (const auto& field : fields) {
                    keys.push_back(field.key);
                }
                error(join_path(prefix, key.str()), "unknown key (expected one of: " + join(keys, ", ") + ")");
            }
        }
    }

    void require(const toml::table& table, const std::string& prefix, std::string_view key, std::string_view why) {
        if (!table.contains(key)) {
            error(join_path(prefix, key), "missing (" + std::string(why) + ")");
        }
    }

    Handler number(double& out, Bound bound) {
        return [this, &out, bound](const toml::node& node, const std::string& path) {
            double value = 0;
            if (const auto* integer = node.as_integer()) {
                value = static_cast<double>(integer->get());
            } else if (const auto* real = node.as_floating_point()) {
                value = real->get();
            } else {
                return error(path, "expected a number, got " + type_name(node));
            }
            if (!std::isfinite(value)) {
                return error(path, "must be a finite number, got " + number_text(value));
            }
            if (!bound.admits(value)) {
                return error(path, bound.describe() + ", got " + number_text(value));
            }
            out = value;
        };
    }

    template <typename T>
    Handler integer(T& out, std::int64_t min,
                    std::int64_t max = static_cast<std::int64_t>(std::min<std::uint64_t>(
                        std::numeric_limits<T>::max(), std::numeric_limits<std::int64_t>::max()))) {
        return [this, &out, min, max](const toml::node& node, const std::string& path) {
            const auto* integer = node.as_integer();
            if (integer == nullptr) {
                return error(path, "expected an integer, got " + type_name(node));
            }
            const std::int64_t value = integer->get();
            if (value < min) {
                return error(path, "must be >= " + std::to_string(min) + ", got " + std::to_string(value));
            }
            if (value > max) {
                return error(path, "must be <= " + std::to_string(max) + ", got " + std::to_string(value));
            }
            out = static_cast<T>(value);
        };
    }

    Handler string(std::string& out, Check check = {}) {
        return [this, &out, check](const toml::node& node, const std::string& path) {
            const auto* text = node.as_string();
            if (text == nullptr) {
                return error(path, "expected a string, got " + type_name(node));
            }
            if (check) {
                if (const std::string problem = check(text->get()); !problem.empty()) {
                    return error(path, problem);
                }
            }
            out = text->get();
        };
    }

    Handler strings(std::vector<std::string>& out, Check check = {}, bool non_empty = false) {
        return [this, &out, check, non_empty](const toml::node& node, const std::string& path) {
            const auto* array = node.as_array();
            if (array == nullptr) {
                return error(path, "expected an array of strings, got " + type_name(node));
            }
            if (non_empty && array->empty()) {
                return error(path, "must not be empty");
            }
            out.clear();
            for (std::size_t i = 0; i < array->size(); ++i) {
                string(out.emplace_back(), check)((*array)[i], path + "[" + std::to_string(i) + "]");
            }
        };
    }

    Handler table(TableHandler read) {
        return [this, read](const toml::node& node, const std::string& path) {
            if (const auto* table = node.as_table()) {
                return read(*table, path);
            }
            error(path, "expected a table ([" + path + "]), got " + type_name(node));
        };
    }

    Handler tables(TableHandler read) {
        return [this, read](const toml::node& node, const std::string& path) {
            const auto* array = node.as_array();
            if (array == nullptr) {
                return error(path, "expected an array of tables ([[" + path + "]]), got " + type_name(node));
            }
            for (std::size_t i = 0; i < array->size(); ++i) {
                const std::string item = path + "[" + std::to_string(i) + "]";
                if (const auto* table = (*array)[i].as_table()) {
                    read(*table, item);
                } else {
                    error(item, "expected a table, got " + type_name((*array)[i]));
                }
            }
        };
    }

private:
    std::string file_;
    std::vector<std::string> errors_;
    std::set<std::string> bad_paths_;  // cross-field checks skip values that were already wrong
};

void read_server(Reader& r, const toml::table& t, const std::string& p, ServerSettings& s) {
    r.read_table(t, p,
                 {
                     {"startup_timeout_sec", r.number(s.startup_timeout_sec, kNonNegative)},
                     {"stop_grace_sec", r.number(s.stop_grace_sec, kNonNegative)},
                     {"end_grace_sec", r.number(s.end_grace_sec, kNonNegative)},
                     {"heartbeat_warn_factor", r.number(s.heartbeat_warn_factor, kPositive)},
                     {"heartbeat_kill_factor", r.number(s.heartbeat_kill_factor, kPositive)},
                     {"report_rate", r.number(s.report_rate, kPositive)},
                     {"auth_deadline_sec", r.number(s.auth_deadline_sec, kPositive)},
                     {"match_log_cap", r.integer(s.match_log_cap, 0)},
                     {"game_port_count", r.integer(s.game_port_count, 1, 20000)},
                     {"nodes", r.integer(s.nodes, 1, 8)},
                     {"extra_args", r.strings(s.extra_args)},
                 });
}

void read_workload(Reader& r, const toml::table& t, const std::string& p, Workload& w) {
    const auto arrival = [&r, &w](const toml::node& node, const std::string& path) {
        const auto* text = node.as_string();
        if (text == nullptr) {
            return r.error(path, "expected a string, got " + type_name(node));
        }
        const std::string& value = text->get();
        if (value == "burst") {
            w.arrival = Arrival::Burst;
        } else if (value == "uniform") {
            w.arrival = Arrival::Uniform;
        } else if (value == "poisson") {
            w.arrival = Arrival::Poisson;
        } else {
            r.error(path, "must be one of burst, uniform, poisson; got " + in_quotes(value));
        }
    };
    r.read_table(t, p, {
        {"developers", r.integer(w.developers, 0)},
        {"players", r.integer(w.players, 0)},
        {"rooms", r.integer(w.rooms, 1)},
        {"rounds", r.integer(w.rounds, 1)},
        {"arrival", arrival},
        {"arrival_window_sec", r.number(w.arrival_window_sec, kNonNegative)},
        {"review_probability", r.number(w.review_probability, kProbability)},
        {"browse_interval_sec", r.number(w.browse_interval_sec, kPositive)},
        {"match_timeout_sec", r.number(w.match_timeout_sec, kPositive)},
    });
}

void read_game(Reader& r, const toml::table& t, const std::string& p, GameMix& g) {
    r.read_table(t, p, {
        {"profile", r.string(g.profile, check_profile)},
        {"weight", r.number(g.weight, kPositive)},
        {"expect", r.strings(g.expect, check_status, true)},
        {"min_members", r.integer(g.min_members, 1, 8)},
        {"max_members", r.integer(g.max_members, 1, 8)},
        {"think_ms", r.integer(g.think_ms, 0, 600000)},
        {"abandon_after_ms", r.integer(g.abandon_after_ms, 0, 600000)},
    });
    r.require(t, p, "profile", "the fakegame profile this entry plays");
    r.require(t, p, "expect", "the acceptable match.ended statuses, e.g. [\"END\"]");
    if (r.ok(p + ".min_members") && r.ok(p + ".max_members") && g.max_members < g.min_members) {
        r.error(p + ".max_members", "must be >= min_members (" + std::to_string(g.min_members) + "), got " +
                                        std::to_string(g.max_members));
    }
}

void read_abuse(Reader& r, const toml::table& t, const std::string& p, Abuse& a) {
    r.read_table(t, p, {
        {"start_sec", r.number(a.start_sec, kNonNegative)},
        {"duration_sec", r.number(a.duration_sec, kNonNegative)},
        {"lobby_flood_connections", r.integer(a.lobby_flood_connections, 0)},
        {"lobby_oversized_lines", r.integer(a.lobby_oversized_lines, 0)},
        {"lobby_slowloris", r.integer(a.lobby_slowloris, 0)},
        {"lobby_malformed_lines", r.integer(a.lobby_malformed_lines, 0)},
        {"report_flood_connections", r.integer(a.report_flood_connections, 0)},
        {"report_oversized_lines", r.integer(a.report_oversized_lines, 0)},
        {"report_slowloris", r.integer(a.report_slowloris, 0)},
        {"report_malformed_lines", r.integer(a.report_malformed_lines, 0)},
        {"forged_reports", r.integer(a.forged_reports, 0)},
    });
}

void read_kill(Reader& r, const toml::table& t, const std::string& p, KillPoint& k) {
    double at_sec = 0;
    int after_matches = 0;
    r.read_table(t, p,
                 {
                     {"at_sec", r.number(at_sec, kNonNegative)},
                     {"after_matches", r.integer(after_matches, 1)},
                     {"node", r.integer(k.node, 0, 7)},
                 });
    const bool has_at = t.contains("at_sec"), has_after = t.contains("after_matches");
    if (has_at == has_after) {
        r.error(p, has_at ? "give at_sec or after_matches, not both" : "needs at_sec or after_matches");
    }
    if (has_at && r.ok(p + ".at_sec")) {
        k.at_sec = at_sec;
    }
    if (has_after && r.ok(p + ".after_matches")) {
        k.after_matches = after_matches;
    }
}

void read_expect(Reader& r, const toml::table& t, const std::string& p, Expectations& e) {
    r.read_table(t, p, {
        {"ping_p99_ms", r.number(e.ping_p99_ms, kPositive)},
        {"min_matches", r.integer(e.min_matches, 0)},
        {"invariants", r.strings(e.invariants, check_invariant)},
        {"broken", r.strings(e.broken, check_invariant)},
    });
    // A repeat is harmless to run but is almost always a typo for another name.
    for (const auto* list : {&e.invariants, &e.broken}) {
        const std::string key = p + (list == &e.invariants ? ".invariants" : ".broken");
        for (std::size_t i = 0; i < list->size(); ++i) {
            const std::string item = key + "[" + std::to_string(i) + "]";
            if (r.ok(item) && std::find(list->begin(), list->begin() + i, (*list)[i]) != list->begin() + i) {
                r.error(item, (*list)[i] + " is listed twice");
            }
        }
    }
    // An unchecked invariant can never break, so the scenario could never pass.
    if (!e.invariants.empty() && r.ok(p + ".invariants")) {
        for (std::size_t i = 0; i < e.broken.size(); ++i) {
            const std::string item = p + ".broken[" + std::to_string(i) + "]";
            const auto& name = e.broken[i];
            if (r.ok(item) && std::find(e.invariants.begin(), e.invariants.end(), name) == e.invariants.end()) {
                r.error(item, name + " is not in expect.invariants, so it is never checked and cannot break");
            }
        }
    }
}

}  // namespace

const std::vector<std::string>& invariant_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& [name, summary] : kInvariants) {
            out.push_back(name);
        }
        return out;
    }();
    return names;
}

std::string invariant_summary(const std::string& name) {
    for (const auto& [known, summary] : kInvariants) {
        if (known == name) {
            return summary;
        }
    }
    return "unknown invariant";
}

Scenario parse_scenario(const std::string& toml_text, const std::filesystem::path& file) {
    const std::string shown = file.empty() ? "<scenario>" : file.string();
    toml::table root;
    try {
        root = toml::parse(toml_text, shown);
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        throw ScenarioError(shown + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                            ": TOML syntax error: " + std::string(e.description()));
    }

    Scenario s;
    s.file = file;
    Reader r(shown);
    const auto section = [&r](auto read, auto& into) {
        return r.table([&r, read, &into](const toml::table& t, const std::string& p) { read(r, t, p, into); });
    };
    const auto list = [&r](auto read, auto& into) {
        return r.tables([&r, read, &into](const toml::table& t, const std::string& p) {
            read(r, t, p, into.emplace_back());
        });
    };
    r.read_table(root, "", {
        {"name", r.string(s.name, check_non_empty)},
        {"description", r.string(s.description)},
        {"time_limit_sec", r.number(s.time_limit_sec, kPositive)},
        {"server", section(read_server, s.server)},
        {"workload", section(read_workload, s.workload)},
        {"games", list(read_game, s.games)},
        {"abuse", section(read_abuse, s.abuse)},
        {"kills", list(read_kill, s.kills)},
        {"expect", section(read_expect, s.expect)},
    });
    r.require(root, "", "name", "every scenario needs a name");
    if (s.games.empty() && r.ok("games")) {
        r.error("games", "at least one [[games]] table is required");
    }
    if (r.ok("workload.players") && r.ok("workload.rooms") && s.workload.players < s.workload.rooms) {
        r.error("workload.players", "must be >= workload.rooms (" + std::to_string(s.workload.rooms) +
                                        ", one host per room), got " + std::to_string(s.workload.players));
    }
    for (std::size_t i = 0; i < s.kills.size(); ++i) {
        const auto path = "kills[" + std::to_string(i) + "].node";
        if (r.ok(path) && r.ok("server.nodes") && s.kills[i].node >= s.server.nodes) {
            r.error(path, "names node " + std::to_string(s.kills[i].node) +
                              " but server.nodes is " + std::to_string(s.server.nodes) +
                              " (nodes count from 0)");
        }
    }
    if (r.ok("server.nodes") && r.ok("server.game_port_count") &&
        s.server.game_port_count < s.server.nodes) {
        r.error("server.game_port_count", "must give every node at least one port (" +
                                              std::to_string(s.server.nodes) + " nodes)");
    }
    if (!r.errors().empty()) {
        throw ScenarioError(join(r.errors(), "\n"));
    }
    return s;
}

Scenario load_scenario(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw ScenarioError(file.string() + ": cannot read: " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        throw ScenarioError(file.string() + ": cannot read: " + std::strerror(errno));
    }
    return parse_scenario(text.str(), file);
}

}  // namespace gamestore::sim
