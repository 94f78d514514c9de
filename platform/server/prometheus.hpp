#pragma once
// The Prometheus text exposition format (version 0.0.4), written by hand:
// Debian packages no C++ client library. Exposition renders families of
// counters, gauges and histograms and enforces the naming rules it can check
// (metric and label names, `_total` on counters, each family once, reserved
// label names); Histogram is a thread-safe fixed-bucket histogram. What the
// server exports is listed in docs/OPERATIONS.md.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gamestore::server {

enum class MetricType { Counter, Gauge, Histogram };

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

struct HistogramSnapshot {
    std::vector<double> bounds;          // upper bounds, ascending, without +Inf
    std::vector<std::uint64_t> buckets;  // per bound, not cumulative; one more for +Inf
    double sum = 0;
    std::uint64_t count = 0;
};

class Histogram {
  public:
    // `bounds`: ascending, finite upper bounds (the +Inf bucket is implicit).
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);
    HistogramSnapshot snapshot() const;

  private:
    mutable std::mutex mutex_;
    HistogramSnapshot data_;
};

class Exposition {
  public:
    // Starts a family; the samples that follow belong to it. Throws
    // std::invalid_argument on a name the format or its conventions refuse
    // (a counter must end in `_total`, a histogram must not use the
    // reserved suffixes) or on a family started twice.
    void family(std::string_view name, MetricType type, std::string_view help);
    // A sample of the current counter or gauge family.
    void sample(double value, const MetricLabels& labels = {});
    // The _bucket, _sum and _count samples of the current histogram family.
    void histogram(const HistogramSnapshot& histogram, const MetricLabels& labels = {});

    const std::string& text() const { return text_; }

  private:
    void require(MetricType type) const;

    std::string text_;
    std::string name_;
    MetricType type_ = MetricType::Gauge;
    std::vector<std::string> families_;
};

// The format's rendering of a sample value (shortest round trip, +Inf,
// -Inf, NaN).
std::string format_metric_value(double value);

}  // namespace gamestore::server
