#include "tests/support/prometheus_check.hpp"

#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

namespace gamestore::testing {

namespace {

bool valid_name(const std::string& name, bool metric) {
    if (name.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                        (metric && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok) {
            return false;
        }
    }
    return true;
}

bool parse_value(const std::string& text, double& value) {
    if (text == "+Inf" || text == "Inf") {
        value = std::numeric_limits<double>::infinity();
        return true;
    }
    if (text == "-Inf") {
        value = -std::numeric_limits<double>::infinity();
        return true;
    }
    if (text == "NaN") {
        value = std::numeric_limits<double>::quiet_NaN();
        return true;
    }
    if (text.empty()) {
        return false;
    }
    std::size_t used = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        return false;
    }
    return used == text.size();
}

std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s(suffix);
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
            const auto base = name.substr(0, name.size() - s.size());
            const auto type = types.find(base);
            if (type != types.end() && (type->second == "histogram" || type->second == "summary")) {
                return base;
            }
        }
    }
    return name;
}

struct Bucket {
    double le;
    double count;
};

}  // namespace

double ParsedMetrics::value(const std::string& series) const {
    const auto found = samples.find(series);
    return found == samples.end() ? std::numeric_limits<double>::quiet_NaN() : found->second;
}

ParsedMetrics parse_prometheus_text(const std::string& text) {
    ParsedMetrics out;
    auto problem = [&out](int line, const std::string& what) {
        out.problems.push_back("line " + std::to_string(line) + ": " + what);
    };
    if (!text.empty() && text.back() != '\n') {
        out.problems.push_back("the text does not end in a newline");
    }
    std::set<std::string> helped, finished_families, sampled_families;
    std::string current_family;
    // Histogram series (labels without le) -> buckets, and which have _sum/_count.
    std::map<std::string, std::vector<Bucket>> buckets;
    std::map<std::string, double> counts;
    std::set<std::string> sums;

    std::istringstream in(text);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty()) {
            continue;
        }
        if (line[0] == '#') {
            std::istringstream words(line.substr(1));
            std::string keyword, name;
            words >> keyword >> name;
            if (keyword != "HELP" && keyword != "TYPE") {
                continue;  // a plain comment
            }
            if (!valid_name(name, true)) {
                problem(number, "invalid metric name '" + name + "' in " + keyword);
                continue;
            }
            if (finished_families.count(name) != 0 || sampled_families.count(name) != 0) {
                problem(number, keyword + " for '" + name + "' after its samples");
            }
            if (current_family != name && !current_family.empty()) {
                finished_families.insert(current_family);
            }
            current_family = name;
            if (keyword == "HELP") {
                if (!helped.insert(name).second) {
                    problem(number, "second HELP for '" + name + "'");
                }
            } else {
                std::string type;
                words >> type;
                static const std::set<std::string> kTypes = {"counter", "gauge", "histogram",
                                                             "summary", "untyped"};
                if (kTypes.count(type) == 0) {
                    problem(number, "unknown type '" + type + "'");
                }
                if (!out.types.emplace(name, type).second) {
                    problem(number, "second TYPE for '" + name + "'");
                }
            }
            continue;
        }
        // name[{labels}] value [timestamp]
        std::size_t pos = 0;
        while (pos < line.size() && line[pos] != '{' && line[pos] != ' ') {
            ++pos;
        }
        const std::string name = line.substr(0, pos);
        if (!valid_name(name, true)) {
            problem(number, "invalid metric name '" + name + "'");
            continue;
        }
        std::vector<std::pair<std::string, std::string>> labels;
        std::string label_text;
        bool labels_ok = true;
        if (pos < line.size() && line[pos] == '{') {
            const std::size_t open = pos;
            ++pos;
            std::set<std::string> seen;
            while (pos < line.size() && line[pos] != '}') {
                std::size_t eq = line.find('=', pos);
                if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
                    labels_ok = false;
                    break;
                }
                const std::string label = line.substr(pos, eq - pos);
                if (!valid_name(label, false) || label.rfind("__", 0) == 0 ||
                    !seen.insert(label).second) {
                    problem(number, "invalid or repeated label name '" + label + "'");
                }
                std::string value;
                std::size_t i = eq + 2;
                for (; i < line.size() && line[i] != '"'; ++i) {
                    if (line[i] == '\\') {
                        if (i + 1 >= line.size() ||
                            (line[i + 1] != '\\' && line[i + 1] != '"' && line[i + 1] != 'n')) {
                            labels_ok = false;
                            break;
                        }
                        value += line[i + 1] == 'n' ? '\n' : line[i + 1];
                        ++i;
                    } else {
                        value += line[i];
                    }
                }
                if (!labels_ok || i >= line.size()) {
                    labels_ok = false;
                    break;
                }
                labels.emplace_back(label, value);
                pos = i + 1;
                if (pos < line.size() && line[pos] == ',') {
                    ++pos;
                }
            }
            if (!labels_ok || pos >= line.size()) {
                problem(number, "malformed labels");
                continue;
            }
            label_text = line.substr(open, pos + 1 - open);
            ++pos;
        }
        if (pos >= line.size() || line[pos] != ' ') {
            problem(number, "no space before the value");
            continue;
        }
        std::istringstream rest(line.substr(pos + 1));
        std::string value_text, timestamp;
        rest >> value_text >> timestamp;
        double value = 0;
        if (!parse_value(value_text, value)) {
            problem(number, "value '" + value_text + "' is not a float");
            continue;
        }
        const std::string series = name + label_text;
        if (!out.samples.emplace(series, value).second) {
            problem(number, "series '" + series + "' appears twice");
        }
        const std::string family = family_of(name, out.types);
        if (family != current_family) {
            if (finished_families.count(family) != 0) {
                problem(number, "samples of '" + family + "' are not contiguous");
            }
            if (!current_family.empty()) {
                finished_families.insert(current_family);
            }
            current_family = family;
        }
        sampled_families.insert(family);
        const auto type = out.types.count(family) != 0 ? out.types.at(family) : std::string();
        if (type == "counter" && (value < 0 || std::isnan(value))) {
            problem(number, "counter '" + series + "' is negative");
        }
        if (type == "histogram") {
            std::string key = family + "{";
            std::optional<double> le;
            for (const auto& [label, text_value] : labels) {
                if (label == "le") {
                    double bound = 0;
                    if (!parse_value(text_value, bound)) {
                        problem(number, "le '" + text_value + "' is not a float");
                    }
                    le = bound;
                } else {
                    key += label + "=" + text_value + ",";
                }
            }
            key += "}";
            if (name == family + "_bucket") {
                if (!le) {
                    problem(number, "bucket without le");
                } else {
                    buckets[key].push_back({*le, value});
                }
            } else if (name == family + "_count") {
                counts[key] = value;
            } else if (name == family + "_sum") {
                sums.insert(key);
            } else {
                problem(number, "histogram sample '" + name + "' is not _bucket, _sum or _count");
            }
        }
    }
    for (const auto& [key, series] : buckets) {
        for (std::size_t i = 1; i < series.size(); ++i) {
            if (!(series[i].le > series[i - 1].le) || series[i].count < series[i - 1].count) {
                out.problems.push_back("buckets of " + key + " are not cumulative in le order");
            }
        }
        if (series.empty() || !std::isinf(series.back().le)) {
            out.problems.push_back("buckets of " + key + " do not end with le=\"+Inf\"");
        } else if (counts.count(key) == 0 || counts.at(key) != series.back().count) {
            out.problems.push_back("the +Inf bucket of " + key + " differs from its _count");
        }
        if (sums.count(key) == 0) {
            out.problems.push_back(key + " has no _sum");
        }
    }
    return out;
}

}  // namespace gamestore::testing
