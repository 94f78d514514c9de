#pragma once
// Checks a Prometheus text exposition (format 0.0.4) against the format's
// rules, independently of the server's writer: promtool is not packaged
// for Debian 12, so the tests parse what GET /metrics serves with this.

#include <map>
#include <string>
#include <vector>

namespace gamestore::testing {

struct ParsedMetrics {
    // Every rule the text breaks, one sentence each; empty when it is valid.
    std::vector<std::string> problems;
    // Sample values by series, written `name{label="value",...}` with the
    // labels as they appear in the text (no labels: just the name).
    std::map<std::string, double> samples;
    std::map<std::string, std::string> types;  // family name -> counter|gauge|histogram|...

    double value(const std::string& series) const;  // NaN when absent
};

// Rules: HELP/TYPE comments name valid metric names and come before their
// family's samples, at most once each; a family's samples are contiguous;
// metric and label names are valid, label values properly escaped, label
// names not repeated in a series; values parse as floats (+Inf/-Inf/NaN);
// no series appears twice; histogram buckets carry `le`, are cumulative
// (non-decreasing in `le`), end with le="+Inf" equal to _count, and come
// with _sum and _count; counters are not negative; the text ends in "\n".
ParsedMetrics parse_prometheus_text(const std::string& text);

}  // namespace gamestore::testing
