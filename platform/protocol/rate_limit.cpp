#include "platform/protocol/rate_limit.hpp"

#include <algorithm>
#include <stdexcept>

namespace gamestore::protocol {

TokenBucket::TokenBucket(double rate_per_sec, double burst)
    : rate_(rate_per_sec), burst_(burst), tokens_(burst) {
    // Written to reject NaN as well.
    if (!(rate_per_sec > 0.0) || !(burst >= 1.0)) {
        throw std::invalid_argument("TokenBucket needs rate_per_sec > 0 and burst >= 1");
    }
}

double TokenBucket::refilled(Clock::time_point now) const {
    if (!last_ || now <= *last_) {
        return tokens_;
    }
    const double elapsed = std::chrono::duration<double>(now - *last_).count();
    return std::min(burst_, tokens_ + elapsed * rate_);
}

double TokenBucket::available(Clock::time_point now) const {
    return refilled(now);
}

bool TokenBucket::try_take(Clock::time_point now, double n) {
    tokens_ = refilled(now);
    if (!last_ || now > *last_) {
        last_ = now;
    }
    if (tokens_ < n) {
        return false;
    }
    tokens_ -= n;
    return true;
}

AbuseTracker::AbuseTracker(AbusePolicy policy)
    : policy_(policy), bucket_(policy.rate_per_sec, policy.burst) {
    if (policy_.disconnect_after_drops == 0) {
        throw std::invalid_argument("AbusePolicy.disconnect_after_drops must be at least 1");
    }
}

AbuseVerdict AbuseTracker::on_message(Clock::time_point now) {
    if (disconnected_) {
        return AbuseVerdict::Disconnect;
    }
    if (bucket_.try_take(now)) {
        return AbuseVerdict::Accept;
    }

    ++dropped_total_;
    const auto window = std::chrono::duration_cast<Clock::duration>(policy_.disconnect_window);
    while (!recent_drops_.empty() && now - recent_drops_.front() >= window) {
        recent_drops_.pop_front();
    }
    recent_drops_.push_back(now);
    if (recent_drops_.size() > policy_.disconnect_after_drops) {
        disconnected_ = true;
        recent_drops_.clear();
        return AbuseVerdict::Disconnect;
    }

    const auto cooldown = std::chrono::duration_cast<Clock::duration>(policy_.warn_cooldown);
    if (!last_warning_ || now - *last_warning_ >= cooldown) {
        last_warning_ = now;
        return AbuseVerdict::DropAndWarn;
    }
    return AbuseVerdict::Drop;
}

}  // namespace gamestore::protocol
