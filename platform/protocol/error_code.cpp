#include "platform/protocol/error_code.hpp"

#include <array>
#include <utility>

namespace gamestore::protocol {

namespace {
constexpr std::array<std::pair<ErrorCode, std::string_view>, 13> kNames{{
    {ErrorCode::BadRequest, "BAD_REQUEST"},
    {ErrorCode::UnknownOp, "UNKNOWN_OP"},
    {ErrorCode::Unauthenticated, "UNAUTHENTICATED"},
    {ErrorCode::Forbidden, "FORBIDDEN"},
    {ErrorCode::NotFound, "NOT_FOUND"},
    {ErrorCode::Conflict, "CONFLICT"},
    {ErrorCode::InvalidPackage, "INVALID_PACKAGE"},
    {ErrorCode::TooLarge, "TOO_LARGE"},
    {ErrorCode::RateLimited, "RATE_LIMITED"},
    {ErrorCode::Timeout, "TIMEOUT"},
    {ErrorCode::Unavailable, "UNAVAILABLE"},
    {ErrorCode::Internal, "INTERNAL"},
    {ErrorCode::Moved, "MOVED"},
}};
}  // namespace

std::string_view to_string(ErrorCode code) {
    for (const auto& [value, name] : kNames) {
        if (value == code) {
            return name;
        }
    }
    // Only reachable through a cast of an out-of-range integer.
    return "INTERNAL";
}

std::optional<ErrorCode> error_code_from_string(std::string_view text) {
    for (const auto& [value, name] : kNames) {
        if (name == text) {
            return value;
        }
    }
    return std::nullopt;
}

}  // namespace gamestore::protocol
