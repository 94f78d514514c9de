#pragma once
// Making secrets and untrusted text safe to log.

#include <cstddef>
#include <string>
#include <string_view>

namespace gamestore::protocol {

// Tokens are secrets (docs/PROTOCOL.md "Authentication and identity"): logs show
// a short prefix only, enough to tell two tokens apart. Returns the first 6
// characters followed by "…" (U+2026); a token shorter than 12 characters shows
// only half of itself (rounded down) so that a short token is never revealed
// whole; "(empty)" for an empty token. Bytes outside printable ASCII are shown
// as '?' (tokens are hex, so anything else is a forgery and must not inject into
// log lines).
std::string redact_token(std::string_view token);

// Untrusted text (a match_id, a player name, a bad value) made safe for one
// log line or error sentence: control characters and invalid UTF-8 become
// '?', and text longer than max_bytes is cut at a character boundary and
// ends with "…".
std::string printable(std::string_view text, std::size_t max_bytes = 64);

}  // namespace gamestore::protocol
