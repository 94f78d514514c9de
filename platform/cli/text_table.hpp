#pragma once
// Plain-text output helpers for listings: aligned columns (widths counted in
// code points, so game names in any script line up) and the few value
// formats the listings share.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace gamestore::cli {

class TextTable {
public:
    explicit TextTable(std::vector<std::string> headers);
    void add_row(std::vector<std::string> cells);
    bool empty() const { return rows_.empty(); }
    void print(std::ostream& out) const;

private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

// Unix milliseconds -> "2024-05-01 12:34 UTC"; "-" for anything else.
std::string format_unix_ms(const nlohmann::json& value);
// GameSummary.rating -> "4.5 (12)" or "no reviews".
std::string format_rating(const nlohmann::json& rating);
// "2-4" or "2" from min/max players.
std::string format_players(const nlohmann::json& game);
// A JSON string member, or `fallback` when absent/null/not a string.
std::string string_or(const nlohmann::json& object, const char* key, const std::string& fallback);
// A JSON number member, or `fallback` when absent/null/not a number.
double number_or(const nlohmann::json& object, const char* key, double fallback);
bool bool_or(const nlohmann::json& object, const char* key, bool fallback);
// An object member, or an empty object; an array member, or an empty array.
nlohmann::json object_or_empty(const nlohmann::json& object, const char* key);
nlohmann::json array_or_empty(const nlohmann::json& object, const char* key);

}  // namespace gamestore::cli
