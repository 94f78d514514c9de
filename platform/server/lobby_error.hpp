#pragma once
// The one exception type handlers throw to answer a request with an error.
// It stops at the session, which turns it into an error response; anything
// else that escapes a handler is logged once and answered as INTERNAL.

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "platform/protocol/error_code.hpp"

namespace gamestore::server {

class LobbyError : public std::runtime_error {
public:
    LobbyError(protocol::ErrorCode code, std::string message, nlohmann::json details = nullptr)
        : std::runtime_error(std::move(message)), code_(code), details_(std::move(details)) {}

    protocol::ErrorCode code() const { return code_; }
    const nlohmann::json& details() const { return details_; }

private:
    protocol::ErrorCode code_;
    nlohmann::json details_;
};

}  // namespace gamestore::server
