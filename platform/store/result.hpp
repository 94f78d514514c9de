// Error and result types of the store interface. Store methods never throw:
// every failure, SQL errors included, comes back as a StoreError whose
// message is a sentence the lobby can show to the user as is.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace gamestore::store {

struct StoreError {
    enum class Code {
        NotFound,   // the account, game, version, match or review does not exist
        Conflict,   // a unique name/version/match exists, or the match already ended
        Forbidden,  // authenticated but not allowed (not the owner, has not played, wrong role)
        Invalid,    // the input breaks a rule (name, password, rating, text length, semver)
        Unauthenticated,  // wrong name or password; unknown, revoked or expired session
        Internal,         // SQLite or libsodium failed; the message carries their text
    };
    Code code = Code::Internal;
    std::string
        message;  // a sentence for the user, e.g. "the game Foo belongs to another developer"
};

// Stable upper-case names ("NOT_FOUND", ...) matching the lobby's error codes.
std::string_view to_string(StoreError::Code code);

// Thrown only when a caller reads the value of a failed Result (a programming
// error, like std::bad_expected_access); the store itself never throws.
class BadResultAccess : public std::logic_error {
  public:
    explicit BadResultAccess(const StoreError& error)
        : std::logic_error("Result holds an error: " + error.message) {}
};

template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(StoreError error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { return check(), std::get<0>(v_); }
    const T& value() const& { return check(), std::get<0>(v_); }
    T&& value() && { return check(), std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    // Precondition: !ok().
    const StoreError& error() const { return std::get<1>(v_); }

  private:
    void check() const {
        if (!ok())
            throw BadResultAccess(std::get<1>(v_));
    }
    std::variant<T, StoreError> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(StoreError error) : failed_(true), error_(std::move(error)) {}

    bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }
    void value() const {
        if (failed_)
            throw BadResultAccess(error_);
    }
    const StoreError& error() const { return error_; }

  private:
    bool failed_ = false;
    StoreError error_;
};

}  // namespace gamestore::store
