#pragma once
// JSON helpers shared by the three NDJSON codecs (lobby, control plane,
// handshake): one hardened parse, one never-throwing dump, type names for
// error sentences, and a writer that keeps fields in a readable order.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gamestore::protocol {

// Deepest array/object nesting accepted. Copying, comparing and dumping a
// nlohmann::json recurse once per level, so a 64 KiB line of '[' would
// otherwise be a stack overflow waiting to happen; no message of ours nests
// more than a few levels.
inline constexpr std::size_t kMaxJsonDepth = 64;

// Parses text holding exactly one JSON value (surrounding whitespace allowed).
// On failure returns nullopt and sets `error` to a clause such as
// "is not valid JSON (syntax error at byte 12)", ready to follow a noun
// ("request ", "report ").
std::optional<nlohmann::json> parse_json_text(std::string_view text, std::string& error);

// Compact single-line dump that never throws: invalid UTF-8 in strings built
// by our own code is replaced by U+FFFD, and control characters are escaped,
// so the result never contains a raw '\n'.
std::string dump_json(const nlohmann::json& value);

// "null", "boolean", "integer", "number", "string", "array", "object", ...
std::string_view json_type_name(const nlohmann::json& value);

// The value if it is a JSON integer that fits in int64, else nullopt
// (floats such as 3.0 are not integers on this wire).
std::optional<std::int64_t> json_to_int64(const nlohmann::json& value);

// The value of a non-empty string of ASCII decimal digits ("0042" -> 42);
// nullopt for anything else (signs, spaces, empty) or a value above int64.
std::optional<std::int64_t> decimal_digits_to_int64(std::string_view text);

// Builds one NDJSON line field by field, in call order (nlohmann::json sorts
// keys, which would put "bytes" before "id" and make logs harder to read).
class JsonLineWriter {
  public:
    JsonLineWriter& field(std::string_view key, const nlohmann::json& value);
    // "{...}\n"; the writer is empty afterwards.
    std::string finish();

  private:
    std::string text_ = "{";
};

}  // namespace gamestore::protocol
