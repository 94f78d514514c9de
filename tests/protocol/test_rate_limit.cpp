#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include "platform/protocol/rate_limit.hpp"

using namespace gamestore::protocol;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {
// A fixed origin: these tests never read the real clock.
const Clock::time_point t0{std::chrono::hours(1000)};
}  // namespace

TEST_CASE("token bucket: burst, refill and cap", "[rate_limit]") {
    TokenBucket bucket(2.0, 3.0);  // 2 per second, 3 at once
    CHECK(bucket.try_take(t0));
    CHECK(bucket.try_take(t0));
    CHECK(bucket.try_take(t0));
    CHECK_FALSE(bucket.try_take(t0));          // burst used up
    CHECK_FALSE(bucket.try_take(t0 + 400ms));  // 0.8 tokens
    CHECK(bucket.try_take(t0 + 500ms));        // 1.0 token
    CHECK_FALSE(bucket.try_take(t0 + 500ms));
    // A long pause refills to the cap, not beyond.
    CHECK(bucket.available(t0 + 1h) == Approx(3.0));
    CHECK(bucket.try_take(t0 + 1h, 3.0));
    CHECK_FALSE(bucket.try_take(t0 + 1h));
    // A request larger than the burst can never succeed.
    CHECK_FALSE(bucket.try_take(t0 + 2h, 3.5));
}

TEST_CASE("token bucket: time going backwards adds nothing", "[rate_limit]") {
    TokenBucket bucket(1.0, 1.0);
    CHECK(bucket.try_take(t0 + 10s));
    CHECK_FALSE(bucket.try_take(t0));        // earlier than the last call
    CHECK_FALSE(bucket.try_take(t0 + 10s));  // and it did not reset the reference
    CHECK(bucket.try_take(t0 + 11s));
}

TEST_CASE("token bucket: nonsense settings are refused", "[rate_limit]") {
    CHECK_THROWS_AS(TokenBucket(0.0, 1.0), std::invalid_argument);
    CHECK_THROWS_AS(TokenBucket(1.0, 0.5), std::invalid_argument);
    CHECK_THROWS_AS(TokenBucket(-1.0, 5.0), std::invalid_argument);
}

TEST_CASE("abuse tracker: drop, warn once per cooldown, disconnect when sustained",
          "[rate_limit]") {
    AbusePolicy policy;
    policy.rate_per_sec = 1.0;
    policy.burst = 2.0;
    policy.warn_cooldown = 10s;
    policy.disconnect_after_drops = 5;
    policy.disconnect_window = 10s;
    AbuseTracker tracker(policy);

    CHECK(tracker.on_message(t0) == AbuseVerdict::Accept);
    CHECK(tracker.on_message(t0) == AbuseVerdict::Accept);
    CHECK(tracker.on_message(t0) == AbuseVerdict::DropAndWarn);      // first excess: one warning
    CHECK(tracker.on_message(t0 + 100ms) == AbuseVerdict::Drop);     // within cooldown: silent
    CHECK(tracker.on_message(t0 + 1100ms) == AbuseVerdict::Accept);  // refilled one token
    CHECK(tracker.dropped_total() == 2);

    SECTION("a burst now and then never disconnects") {
        // Drops stay at 2 per 20 s: under 5 per 10 s, so the connection lives.
        for (int round = 1; round <= 10; ++round) {
            const auto t = t0 + std::chrono::seconds(20 * round);
            CHECK(tracker.on_message(t) == AbuseVerdict::Accept);
            CHECK(tracker.on_message(t) == AbuseVerdict::Accept);
            CHECK(tracker.on_message(t) == AbuseVerdict::DropAndWarn);  // cooldown passed
            CHECK(tracker.on_message(t) == AbuseVerdict::Drop);
        }
    }
    SECTION("sustained flooding disconnects, and stays disconnected") {
        // 2 drops so far; 4 more within the window make 6 > 5.
        const auto t = t0 + 1200ms;
        CHECK(tracker.on_message(t) == AbuseVerdict::Drop);
        CHECK(tracker.on_message(t) == AbuseVerdict::Drop);
        CHECK(tracker.on_message(t) == AbuseVerdict::Drop);
        CHECK(tracker.on_message(t) == AbuseVerdict::Disconnect);
        CHECK(tracker.on_message(t + 1h) == AbuseVerdict::Disconnect);
    }
    SECTION("drops older than the window are forgotten") {
        const auto later = t0 + 11s;  // both earlier drops have left the 10 s window
        for (int i = 0; i < 2; ++i) {
            CHECK(tracker.on_message(later) == AbuseVerdict::Accept);
        }
        CHECK(tracker.on_message(later) == AbuseVerdict::DropAndWarn);
        for (int i = 0; i < 4; ++i) {
            CHECK(tracker.on_message(later) == AbuseVerdict::Drop);  // 5 drops: at the limit
        }
        CHECK(tracker.on_message(later) == AbuseVerdict::Disconnect);  // 6th
    }
}

TEST_CASE("abuse tracker: defaults allow a normal game's traffic", "[rate_limit]") {
    AbuseTracker tracker;  // default policy
    // A game sending a heartbeat every second plus bursts of 20 reports.
    for (int second = 0; second < 600; ++second) {
        const auto t = t0 + std::chrono::seconds(second);
        const int messages = second % 60 == 0 ? 20 : 1;
        for (int i = 0; i < messages; ++i) {
            REQUIRE(tracker.on_message(t) == AbuseVerdict::Accept);
        }
    }
    CHECK(tracker.dropped_total() == 0);
    CHECK_THROWS_AS(AbuseTracker(AbusePolicy{1.0, 1.0, 1s, 0, 1s}), std::invalid_argument);
}
