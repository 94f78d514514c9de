#include "platform/server/prometheus.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace gamestore::server {

namespace {

bool valid_name(std::string_view name, bool allow_colon) {
    if (name.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                           (allow_colon && c == ':');
        const bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0)) {
            return false;
        }
    }
    return true;
}

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string escape_help(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string escape_label_value(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string render_labels(const MetricLabels& labels, std::string_view le = {}) {
    if (labels.empty() && le.empty()) {
        return {};
    }
    std::string out = "{";
    bool first = true;
    for (const auto& [name, value] : labels) {
        if (!valid_name(name, false) || name.rfind("__", 0) == 0 || name == "le") {
            throw std::invalid_argument("invalid metric label name '" + name + "'");
        }
        out += first ? "" : ",";
        out += name + "=\"" + escape_label_value(value) + "\"";
        first = false;
    }
    if (!le.empty()) {
        out += first ? "" : ",";
        out += "le=\"" + std::string(le) + "\"";
    }
    return out + "}";
}

}  // namespace

std::string format_metric_value(double value) {
    if (std::isnan(value)) {
        return "NaN";
    }
    if (std::isinf(value)) {
        return value > 0 ? "+Inf" : "-Inf";
    }
    return fmt::format("{}", value);
}

Histogram::Histogram(std::vector<double> bounds) {
    if (!std::is_sorted(bounds.begin(), bounds.end()) ||
        std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end() ||
        std::any_of(bounds.begin(), bounds.end(), [](double b) { return !std::isfinite(b); })) {
        throw std::invalid_argument("histogram bounds must be finite and strictly ascending");
    }
    data_.buckets.assign(bounds.size() + 1, 0);
    data_.bounds = std::move(bounds);
}

void Histogram::observe(double value) {
    const auto bucket = static_cast<std::size_t>(
        std::lower_bound(data_.bounds.begin(), data_.bounds.end(), value) - data_.bounds.begin());
    std::lock_guard lock(mutex_);
    ++data_.buckets[bucket];
    data_.sum += value;
    ++data_.count;
}

HistogramSnapshot Histogram::snapshot() const {
    std::lock_guard lock(mutex_);
    return data_;
}

void Exposition::family(std::string_view name, MetricType type, std::string_view help) {
    if (!valid_name(name, true)) {
        throw std::invalid_argument("invalid metric name '" + std::string(name) + "'");
    }
    if (type == MetricType::Counter && !ends_with(name, "_total")) {
        throw std::invalid_argument("counter '" + std::string(name) + "' must end in _total");
    }
    if (type != MetricType::Counter && ends_with(name, "_total")) {
        throw std::invalid_argument("only counters end in _total: '" + std::string(name) + "'");
    }
    if (type == MetricType::Histogram &&
        (ends_with(name, "_bucket") || ends_with(name, "_sum") || ends_with(name, "_count"))) {
        throw std::invalid_argument("histogram '" + std::string(name) + "' uses a reserved suffix");
    }
    if (std::find(families_.begin(), families_.end(), name) != families_.end()) {
        throw std::invalid_argument("metric family '" + std::string(name) + "' written twice");
    }
    families_.emplace_back(name);
    name_ = name;
    type_ = type;
    const std::string_view type_name = type == MetricType::Counter ? "counter"
                                       : type == MetricType::Gauge ? "gauge"
                                                                   : "histogram";
    text_ +=
        fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, escape_help(help), name_, type_name);
}

void Exposition::require(MetricType type) const {
    if (name_.empty() || type_ != type) {
        throw std::logic_error("metric sample does not match its family");
    }
}

void Exposition::sample(double value, const MetricLabels& labels) {
    if (name_.empty() || type_ == MetricType::Histogram) {
        throw std::logic_error("metric sample does not match its family");
    }
    if (type_ == MetricType::Counter && (value < 0 || std::isnan(value))) {
        throw std::invalid_argument("counter '" + name_ + "' must not be negative");
    }
    text_ += name_ + render_labels(labels) + " " + format_metric_value(value) + "\n";
}

void Exposition::histogram(const HistogramSnapshot& histogram, const MetricLabels& labels) {
    require(MetricType::Histogram);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < histogram.bounds.size(); ++i) {
        cumulative += histogram.buckets[i];
        text_ += name_ + "_bucket" +
                 render_labels(labels, format_metric_value(histogram.bounds[i])) + " " +
                 std::to_string(cumulative) + "\n";
    }
    text_ += name_ + "_bucket" + render_labels(labels, "+Inf") + " " +
             std::to_string(histogram.count) + "\n";
    text_ +=
        name_ + "_sum" + render_labels(labels) + " " + format_metric_value(histogram.sum) + "\n";
    text_ +=
        name_ + "_count" + render_labels(labels) + " " + std::to_string(histogram.count) + "\n";
}

}  // namespace gamestore::server
