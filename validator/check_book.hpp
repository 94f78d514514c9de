#pragma once
// Where the checks' verdicts are collected while a validation runs. Each
// check is decided once; the report lists them in check_names.hpp order.

#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "validator/validator.hpp"

namespace gamestore::validator {

class CheckBook {
  public:
    using Clock = std::chrono::steady_clock;

    explicit CheckBook(std::function<void(const CheckResult&)> on_check = {});

    // Records the verdict of `name`; a second verdict for the same check
    // replaces the first (the final word wins, e.g. a warn turned into a fail).
    void set(std::string_view name, CheckStatus status, std::string message,
             std::vector<std::string> details = {},
             std::chrono::milliseconds duration = std::chrono::milliseconds(0));

    void pass(std::string_view name, std::string message, std::chrono::milliseconds duration = {},
              std::vector<std::string> details = {});
    void fail(std::string_view name, std::string message, std::vector<std::string> details = {},
              std::chrono::milliseconds duration = {});
    void warn(std::string_view name, std::string message, std::vector<std::string> details = {},
              std::chrono::milliseconds duration = {});
    void skip(std::string_view name, std::string reason);
    // Skips every listed check not decided yet.
    void skip_undecided(std::initializer_list<std::string_view> names, const std::string& reason);

    bool decided(std::string_view name) const;
    // Skipped when undecided.
    CheckStatus status(std::string_view name) const;
    bool failed(std::string_view name) const { return status(name) == CheckStatus::Fail; }
    // True when a dynamic check (the ones that run the game) failed.
    bool any_dynamic_failed() const;

    // Every known check in report order, undecided ones as skipped with
    // `undecided_reason`.
    std::vector<CheckResult> ordered(const std::string& undecided_reason) const;

  private:
    std::map<std::string, CheckResult, std::less<>> results_;
    std::function<void(const CheckResult&)> on_check_;
};

// Milliseconds between two time points, never negative.
std::chrono::milliseconds elapsed_ms(CheckBook::Clock::time_point from, CheckBook::Clock::time_point to);
// "1.25 s", "250 ms": durations in messages.
std::string format_seconds(std::chrono::milliseconds duration);
std::string format_seconds(double seconds);

}  // namespace gamestore::validator
