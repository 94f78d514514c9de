#pragma once
// Per-connection rate limiting with explicit time, for the control plane's
// policy (docs/PROTOCOL.md "Hardening": drop with a warning cooldown,
// disconnect only on sustained abuse). Callers pass steady_clock::now(); tests pass made-up times.
// Nothing here sleeps: excess messages are dropped at once so one noisy connection never stalls a
// shared handler.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

namespace gamestore::protocol {

// Classic token bucket: holds up to `burst` tokens, refills at rate_per_sec.
// It starts full, so a fresh connection may send `burst` messages at once.
class TokenBucket {
  public:
    using Clock = std::chrono::steady_clock;

    // Throws std::invalid_argument unless rate_per_sec > 0 and burst >= 1.
    TokenBucket(double rate_per_sec, double burst);

    // Takes n tokens if available. A time earlier than a previous call counts
    // as no time passed. A request for more than `burst` never succeeds.
    bool try_take(Clock::time_point now, double n = 1.0);

    // Tokens that would be available at `now`, without taking any.
    double available(Clock::time_point now) const;

  private:
    double refilled(Clock::time_point now) const;

    double rate_;
    double burst_;
    double tokens_;
    std::optional<Clock::time_point> last_;
};

struct AbusePolicy {
    double rate_per_sec = 20.0;  // sustained messages per second allowed
    double burst = 50.0;         // messages allowed at once on top of that
    // At most one warning per window, however many messages are dropped.
    std::chrono::duration<double> warn_cooldown{10.0};
    // Sustained abuse: more than this many drops within disconnect_window.
    std::size_t disconnect_after_drops = 200;
    std::chrono::duration<double> disconnect_window{10.0};
};

enum class AbuseVerdict {
    Accept,       // process the message
    Drop,         // over the limit: discard it silently (a warning went out recently)
    DropAndWarn,  // over the limit: discard it and log one warning (with match_id)
    Disconnect,   // sustained abuse: close the connection (sticky from then on)
};

class AbuseTracker {
  public:
    using Clock = std::chrono::steady_clock;

    explicit AbuseTracker(AbusePolicy policy = {});

    // Call once per received message (line), before parsing it.
    AbuseVerdict on_message(Clock::time_point now);

    std::uint64_t dropped_total() const { return dropped_total_; }
    const AbusePolicy& policy() const { return policy_; }

  private:
    AbusePolicy policy_;
    TokenBucket bucket_;
    std::optional<Clock::time_point> last_warning_;
    // Times of recent drops, oldest first; never longer than
    // disconnect_after_drops + 1 entries.
    std::deque<Clock::time_point> recent_drops_;
    std::uint64_t dropped_total_ = 0;
    bool disconnected_ = false;
};

}  // namespace gamestore::protocol
