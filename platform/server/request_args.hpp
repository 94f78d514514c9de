#pragma once
// Reading typed arguments out of a request object. A missing or mistyped
// argument is a BAD_REQUEST naming it, so handlers stay free of checks.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace gamestore::server {

std::string require_string(const nlohmann::json& args, const char* name, std::size_t max_bytes = 4096);
std::optional<std::string> optional_string(const nlohmann::json& args, const char* name,
                                           std::size_t max_bytes = 4096);
std::int64_t require_int(const nlohmann::json& args, const char* name);
std::optional<std::int64_t> optional_int(const nlohmann::json& args, const char* name);
bool optional_bool(const nlohmann::json& args, const char* name, bool fallback);

}  // namespace gamestore::server
