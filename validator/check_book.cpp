#include "validator/check_book.hpp"

#include <cmath>
#include <cstdio>

#include "validator/check_names.hpp"

namespace gamestore::validator {

std::string_view to_string(CheckStatus status) {
    switch (status) {
        case CheckStatus::Pass:
            return "pass";
        case CheckStatus::Fail:
            return "fail";
        case CheckStatus::Warn:
            return "warn";
        case CheckStatus::Skipped:
            return "skipped";
    }
    return "skipped";
}

CheckBook::CheckBook(std::function<void(const CheckResult&)> on_check) : on_check_(std::move(on_check)) {}

void CheckBook::set(std::string_view name, CheckStatus status, std::string message,
                    std::vector<std::string> details, std::chrono::milliseconds duration) {
    CheckResult result;
    result.name = std::string(name);
    result.status = status;
    result.message = std::move(message);
    result.details = std::move(details);
    result.duration = duration;
    if (on_check_) {
        on_check_(result);
    }
    results_.insert_or_assign(result.name, std::move(result));
}

void CheckBook::pass(std::string_view name, std::string message, std::chrono::milliseconds duration,
                     std::vector<std::string> details) {
    set(name, CheckStatus::Pass, std::move(message), std::move(details), duration);
}

void CheckBook::fail(std::string_view name, std::string message, std::vector<std::string> details,
                     std::chrono::milliseconds duration) {
    set(name, CheckStatus::Fail, std::move(message), std::move(details), duration);
}

void CheckBook::warn(std::string_view name, std::string message, std::vector<std::string> details,
                     std::chrono::milliseconds duration) {
    set(name, CheckStatus::Warn, std::move(message), std::move(details), duration);
}

void CheckBook::skip(std::string_view name, std::string reason) {
    set(name, CheckStatus::Skipped, "skipped: " + reason);
}

void CheckBook::skip_undecided(std::initializer_list<std::string_view> names, const std::string& reason) {
    for (const auto name : names) {
        if (!decided(name)) {
            skip(name, reason);
        }
    }
}

bool CheckBook::decided(std::string_view name) const {
    return results_.find(name) != results_.end();
}

CheckStatus CheckBook::status(std::string_view name) const {
    const auto it = results_.find(name);
    return it == results_.end() ? CheckStatus::Skipped : it->second.status;
}

bool CheckBook::any_dynamic_failed() const {
    for (const auto name : checks::kDynamicChecks) {
        if (status(name) == CheckStatus::Fail) {
            return true;
        }
    }
    return false;
}

std::vector<CheckResult> CheckBook::ordered(const std::string& undecided_reason) const {
    std::vector<CheckResult> out;
    auto add = [&](std::string_view name) {
        const auto it = results_.find(name);
        if (it != results_.end()) {
            out.push_back(it->second);
        } else {
            CheckResult skipped;
            skipped.name = std::string(name);
            skipped.status = CheckStatus::Skipped;
            skipped.message = "skipped: " + undecided_reason;
            out.push_back(std::move(skipped));
        }
    };
    for (const auto name : checks::kStaticChecks) add(name);
    for (const auto name : checks::kDynamicChecks) add(name);
    return out;
}

std::chrono::milliseconds elapsed_ms(CheckBook::Clock::time_point from, CheckBook::Clock::time_point to) {
    if (to <= from) {
        return std::chrono::milliseconds(0);
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(to - from);
}

std::string format_seconds(std::chrono::milliseconds duration) {
    return format_seconds(static_cast<double>(duration.count()) / 1000.0);
}

std::string format_seconds(double seconds) {
    char buffer[64];
    if (seconds < 1.0) {
        std::snprintf(buffer, sizeof buffer, "%.0f ms", std::round(seconds * 1000.0));
    } else if (std::fabs(seconds - std::round(seconds)) < 0.005) {
        std::snprintf(buffer, sizeof buffer, "%.0f s", std::round(seconds));
    } else {
        std::snprintf(buffer, sizeof buffer, "%.2f s", seconds);
    }
    return buffer;
}

}  // namespace gamestore::validator
