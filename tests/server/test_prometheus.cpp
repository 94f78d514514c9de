// The exposition writer against the format's rules (checked by the test
// parser in tests/support/prometheus_check.hpp, written apart from it).

#include <cmath>
#include <limits>
#include <thread>

#include <catch2/catch.hpp>

#include "platform/server/prometheus.hpp"
#include "tests/support/prometheus_check.hpp"

using gamestore::server::Exposition;
using gamestore::server::Histogram;
using gamestore::server::MetricType;
using gamestore::testing::parse_prometheus_text;

TEST_CASE("the exposition writer renders counters, gauges and histograms by the format's rules",
          "[prometheus][unit]") {
    Exposition out;
    out.family("gamestore_things_total", MetricType::Counter, "Things.\nWith a \\ in the help.");
    out.sample(3, {{"kind", "a \"quoted\" \\ value\nwith a newline"}});
    out.sample(0, {{"kind", "b"}});
    out.family("gamestore_level", MetricType::Gauge, "A level.");
    out.sample(-2.5);
    out.family("gamestore_odd", MetricType::Gauge, "Odd values.");
    out.sample(std::numeric_limits<double>::infinity(), {{"which", "inf"}});
    out.sample(std::numeric_limits<double>::quiet_NaN(), {{"which", "nan"}});
    Histogram histogram({0.1, 1, 10});
    histogram.observe(0.05);
    histogram.observe(0.1);  // on a bound: counts in that bucket (le is <=)
    histogram.observe(5);
    histogram.observe(100);
    out.family("gamestore_wait_seconds", MetricType::Histogram, "Waits.");
    out.histogram(histogram.snapshot(), {{"kind", "read"}});
    out.histogram(Histogram({1}).snapshot(), {{"kind", "write"}});

    const auto parsed = parse_prometheus_text(out.text());
    INFO(out.text());
    CHECK(parsed.problems.empty());
    for (const auto& problem : parsed.problems) {
        UNSCOPED_INFO(problem);
    }
    CHECK(parsed.types.at("gamestore_things_total") == "counter");
    CHECK(parsed.types.at("gamestore_wait_seconds") == "histogram");
    CHECK(parsed.value("gamestore_things_total{kind=\"b\"}") == 0);
    CHECK(parsed.value("gamestore_level") == -2.5);
    CHECK(std::isinf(parsed.value("gamestore_odd{which=\"inf\"}")));
    CHECK(std::isnan(parsed.value("gamestore_odd{which=\"nan\"}")));
    CHECK(parsed.value("gamestore_wait_seconds_bucket{kind=\"read\",le=\"0.1\"}") == 2);
    CHECK(parsed.value("gamestore_wait_seconds_bucket{kind=\"read\",le=\"1\"}") == 2);
    CHECK(parsed.value("gamestore_wait_seconds_bucket{kind=\"read\",le=\"10\"}") == 3);
    CHECK(parsed.value("gamestore_wait_seconds_bucket{kind=\"read\",le=\"+Inf\"}") == 4);
    CHECK(parsed.value("gamestore_wait_seconds_count{kind=\"read\"}") == 4);
    CHECK(parsed.value("gamestore_wait_seconds_sum{kind=\"read\"}") == Approx(105.15));
    CHECK(parsed.value("gamestore_wait_seconds_count{kind=\"write\"}") == 0);
    CHECK(out.text().find("# HELP gamestore_things_total Things.\\nWith a \\\\ in the help.\n") !=
          std::string::npos);
    CHECK(out.text().find(R"(kind="a \"quoted\" \\ value\nwith a newline")") != std::string::npos);
}

TEST_CASE("the exposition writer refuses what the format or its conventions forbid",
          "[prometheus][unit]") {
    Exposition out;
    CHECK_THROWS_AS(out.family("gamestore_things", MetricType::Counter, "no _total"),
                    std::invalid_argument);
    CHECK_THROWS_AS(out.family("gamestore_level_total", MetricType::Gauge, "a _total gauge"),
                    std::invalid_argument);
    CHECK_THROWS_AS(out.family("9lives", MetricType::Gauge, "bad name"), std::invalid_argument);
    CHECK_THROWS_AS(out.family("gamestore_x_count", MetricType::Histogram, "reserved"),
                    std::invalid_argument);
    CHECK_THROWS_AS(out.sample(1), std::logic_error);  // no family yet
    out.family("gamestore_level", MetricType::Gauge, "A level.");
    CHECK_THROWS_AS(out.sample(1, {{"le", "1"}}), std::invalid_argument);
    CHECK_THROWS_AS(out.sample(1, {{"__reserved", "1"}}), std::invalid_argument);
    CHECK_THROWS_AS(out.sample(1, {{"bad-name", "1"}}), std::invalid_argument);
    CHECK_THROWS_AS(out.histogram(Histogram({1}).snapshot()), std::logic_error);
    CHECK_THROWS_AS(out.family("gamestore_level", MetricType::Gauge, "again"),
                    std::invalid_argument);
    out.family("gamestore_events_total", MetricType::Counter, "Events.");
    CHECK_THROWS_AS(out.sample(-1), std::invalid_argument);
    CHECK_THROWS_AS(Histogram({1, 1}), std::invalid_argument);
    CHECK_THROWS_AS(Histogram({2, 1}), std::invalid_argument);
}

TEST_CASE("histograms count every observation from several threads", "[prometheus][unit]") {
    Histogram histogram({0.5});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&histogram, t] {
            for (int i = 0; i < 1000; ++i) {
                histogram.observe(t % 2 == 0 ? 0.25 : 1.0);
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    const auto snapshot = histogram.snapshot();
    CHECK(snapshot.count == 4000);
    CHECK(snapshot.buckets[0] == 2000);
    CHECK(snapshot.buckets[1] == 2000);
    CHECK(snapshot.sum == Approx(2500));
}

TEST_CASE("the format check catches what a broken writer would produce", "[prometheus][unit]") {
    const auto problems = [](const std::string& text) {
        return parse_prometheus_text(text).problems.size();
    };
    CHECK(problems("# TYPE a counter\na 1\n") == 0);
    CHECK(problems("a 1") == 1);                           // no final newline
    CHECK(problems("# TYPE a counter\na -1\n") == 1);      // negative counter
    CHECK(problems("a{x=\"1\"} 1\na{x=\"1\"} 2\n") == 1);  // series twice
    CHECK(problems("a{x=\"1} 1\n") == 1);                  // unterminated label
    CHECK(problems("a 1\nb 1\na{y=\"2\"} 1\n") == 1);      // not contiguous
    CHECK(problems("a one\n") == 1);                       // not a float
    CHECK(problems("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                   "h_sum 1\nh_count 1\n") == 1);  // not cumulative
    CHECK(problems("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n") ==
          1);                                       // no +Inf
    CHECK(problems("a 1\n# TYPE a gauge\n") == 1);  // TYPE after samples
}
