#pragma once
// Tolerant readers for what the sim receives and finds: a JSON field that is
// missing, null or of another type reads as the default (the sim must never
// die on what a server sends), and a file that cannot be read reads as "".

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

namespace gamestore::sim {

inline const nlohmann::json& sub(const nlohmann::json& object, const char* key) {
    static const nlohmann::json null;
    if (object.is_object()) {
        const auto it = object.find(key);
        if (it != object.end()) return *it;
    }
    return null;
}

inline std::string str(const nlohmann::json& object, const char* key) {
    const auto& value = sub(object, key);
    return value.is_string() ? value.get<std::string>() : std::string();
}

inline std::int64_t num(const nlohmann::json& object, const char* key) {
    const auto& value = sub(object, key);
    return value.is_number_integer() ? value.get<std::int64_t>() : 0;
}

// The array at `key`, or an empty one.
inline const nlohmann::json& list(const nlohmann::json& object, const char* key) {
    static const nlohmann::json empty = nlohmann::json::array();
    const auto& value = sub(object, key);
    return value.is_array() ? value : empty;
}

inline std::string read_text(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    // libstdc++ throws from a failed read(); /proc/<pid>/cmdline fails with
    // ESRCH when the process exits between open and read: nothing to read.
    try {
        return std::string(std::istreambuf_iterator<char>(in), {});
    } catch (const std::ios_base::failure&) {
        return {};
    }
}

}  // namespace gamestore::sim
