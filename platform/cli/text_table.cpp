#include "platform/cli/text_table.hpp"

#include <algorithm>
#include <ctime>
#include <ostream>

#include <nlohmann/json.hpp>

namespace gamestore::cli {

namespace {

std::size_t display_width(const std::string& text) {
    // Code points, not bytes: continuation bytes (10xxxxxx) do not count.
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0u) != 0x80u;
    }));
}

}  // namespace

TextTable::TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void TextTable::add_row(std::vector<std::string> cells) {
    cells.resize(headers_.size());
    rows_.push_back(std::move(cells));
}

void TextTable::print(std::ostream& out) const {
    std::vector<std::size_t> widths(headers_.size());
    for (std::size_t i = 0; i < headers_.size(); ++i) {
        widths[i] = display_width(headers_[i]);
        for (const auto& row : rows_) {
            widths[i] = std::max(widths[i], display_width(row[i]));
        }
    }
    auto print_row = [&](const std::vector<std::string>& cells) {
        std::string line;
        for (std::size_t i = 0; i < cells.size(); ++i) {
            line += cells[i];
            if (i + 1 < cells.size()) {
                line.append(widths[i] - display_width(cells[i]) + 2, ' ');
            }
        }
        out << line << "\n";
    };
    print_row(headers_);
    for (const auto& row : rows_) {
        print_row(row);
    }
}

std::string format_unix_ms(const nlohmann::json& value) {
    if (!value.is_number()) {
        return "-";
    }
    const auto seconds = static_cast<std::time_t>(value.get<double>() / 1000.0);
    std::tm utc{};
    if (!::gmtime_r(&seconds, &utc)) {
        return "-";
    }
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &utc);
    return text;
}

std::string format_rating(const nlohmann::json& rating) {
    if (!rating.is_object()) {
        return "no reviews";
    }
    const auto count = static_cast<long long>(number_or(rating, "count", 0));
    if (count <= 0) {
        return "no reviews";
    }
    char text[48];
    std::snprintf(text, sizeof text, "%.1f (%lld)", number_or(rating, "average", 0.0), count);
    return text;
}

std::string format_players(const nlohmann::json& game) {
    const int low = static_cast<int>(number_or(game, "min_players", 0));
    const int high = static_cast<int>(number_or(game, "max_players", 0));
    if (low == high || low == 0) {
        return std::to_string(high);
    }
    return std::to_string(low) + "-" + std::to_string(high);
}

std::string string_or(const nlohmann::json& object, const char* key, const std::string& fallback) {
    if (!object.is_object()) {
        return fallback;
    }
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string()) {
        return fallback;
    }
    return it->get<std::string>();
}

double number_or(const nlohmann::json& object, const char* key, double fallback) {
    if (!object.is_object()) {
        return fallback;
    }
    const auto it = object.find(key);
    if (it == object.end() || !it->is_number()) {
        return fallback;
    }
    return it->get<double>();
}

bool bool_or(const nlohmann::json& object, const char* key, bool fallback) {
    if (!object.is_object()) {
        return fallback;
    }
    const auto it = object.find(key);
    if (it == object.end() || !it->is_boolean()) {
        return fallback;
    }
    return it->get<bool>();
}

nlohmann::json object_or_empty(const nlohmann::json& object, const char* key) {
    if (object.is_object()) {
        const auto it = object.find(key);
        if (it != object.end() && it->is_object()) {
            return *it;
        }
    }
    return nlohmann::json::object();
}

nlohmann::json array_or_empty(const nlohmann::json& object, const char* key) {
    if (object.is_object()) {
        const auto it = object.find(key);
        if (it != object.end() && it->is_array()) {
            return *it;
        }
    }
    return nlohmann::json::array();
}

}  // namespace gamestore::cli
