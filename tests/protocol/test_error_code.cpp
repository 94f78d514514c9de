#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "platform/protocol/error_code.hpp"

using namespace gamestore::protocol;

TEST_CASE("error codes: wire names round trip", "[error_code]") {
    const std::vector<std::pair<ErrorCode, std::string>> table{
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
    };
    std::set<std::string> names;
    for (const auto& [code, name] : table) {
        CHECK(to_string(code) == name);
        CHECK(error_code_from_string(name) == code);
        names.insert(name);
    }
    CHECK(names.size() == 13);
    CHECK_FALSE(error_code_from_string("not_found"));
    CHECK_FALSE(error_code_from_string(""));
    CHECK_FALSE(error_code_from_string("TEAPOT"));
}
