#pragma once
// Small text helpers for the sentences people read: error replies, refusal
// reasons, validator and scenario messages. Pure, like the rest of
// platform/protocol, so every library that writes such sentences can share
// them.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace gamestore::protocol {

// Most bytes of the quoted text that in_quotes shows by default: enough for
// a zip entry path or a manifest command, short enough for one log line.
inline constexpr std::size_t kQuotedMaxBytes = 256;

// `text` in single quotes for a sentence: 'serve.py'. The text is often
// untrusted (a zip entry name, a match id a game sent, a value from a file),
// so it goes through printable(): control characters and invalid UTF-8
// become '?', so it can neither break the line nor forge another one, and
// text over `max_bytes` is cut at a character boundary and ends with "…".
// Single quotes because these sentences often end up inside JSON strings,
// where double quotes would come out escaped.
std::string in_quotes(std::string_view text, std::size_t max_bytes = kQuotedMaxBytes);

// The items with `separator` between them; "" for none.
std::string join(std::span<const std::string> items, std::string_view separator);
std::string join(std::span<const std::string_view> items, std::string_view separator);

}  // namespace gamestore::protocol
