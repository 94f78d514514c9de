#pragma once
// Control-plane reports: game server -> platform (docs/PROTOCOL.md
// "Control plane").
//
// One JSON object per line. Common required fields: room_id, report_token,
// match_id, status. STARTED also requires port. Unknown fields are ignored.
// The platform answers each line with {"ok":true} or {"ok":false,"error":"..."}.
// Whether a report is *authentic* (token, match_id, room state) is the
// caller's business; this codec only decides whether it is well formed.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace gamestore::protocol {

enum class ReportStatus { Started, Heartbeat, End, Error };
enum class Outcome { Win, Lose, Draw, Quit, Error };

std::string_view to_string(ReportStatus status);  // "STARTED", ...
std::string_view to_string(Outcome outcome);      // "WIN", ...
// Exact, case-sensitive wire names.
std::optional<ReportStatus> report_status_from_string(std::string_view text);
std::optional<Outcome> outcome_from_string(std::string_view text);

// Control-plane protocol version this codec speaks (PLATFORM_PROTOCOL_VERSION).
inline constexpr int kPlatformProtocolVersion = 1;

struct PlayerResult {
    std::string player;  // must name a room member (checked by the caller)
    Outcome outcome = Outcome::Error;
    std::optional<std::int64_t> rank;
    std::optional<double> score;
    std::optional<std::int64_t> player_id;
    nlohmann::json extra;  // object or null
};

struct Report {
    std::int64_t room_id = 0;
    std::string report_token;
    std::string match_id;
    ReportStatus status = ReportStatus::Heartbeat;
    std::optional<int> port;                          // STARTED: always set by parse_report
    int protocol_version = kPlatformProtocolVersion;  // STARTED
    std::optional<double> timestamp;                  // "timestamp" or "ts", seconds (game's clock)
    std::optional<std::vector<PlayerResult>> results;  // END
    std::optional<std::string> winner, loser, reason;  // END
    std::optional<std::string> err_msg;  // ERROR: always set ("" if the game sent none)
    nlohmann::json stats;                // END, any JSON, null if absent
    nlohmann::json details;              // any status, any JSON, null if absent
    // What the parser accepted although docs/PROTOCOL.md says it SHOULD be
    // written otherwise, one sentence each ("timestamp is a string, not a
    // number; it was ignored"): a validator turns them into warnings, the
    // platform ignores them. Never encoded.
    std::vector<std::string> tolerated;
};

struct ReportError {
    enum class Kind {
        BadJson,        // the line is not JSON (or nests too deeply)
        NotObject,      // valid JSON but not an object
        MissingField,   // a required field is absent
        WrongType,      // a field has the wrong JSON type
        InvalidValue,   // right type, unacceptable value (port 0, empty player, ...)
        UnknownStatus,  // "status" is not one of the four: warn and ignore
    };
    Kind kind = Kind::BadJson;
    std::string field;     // offending field, e.g. "port" or "results[2].outcome"
    std::string message;   // a sentence for the reply and the log
    std::string match_id;  // if one was readable, for logging; else ""
};

std::variant<Report, ReportError> parse_report(std::string_view line);

// One line with '\n'. Encodes what is set, without validating (tests use it
// to build malformed reports too): "type":"GAME.REPORT" first, HEARTBEAT's
// timestamp as "ts" and every other status's as "timestamp" (the names games
// written for the original prototype use), STARTED's port and
// protocol_version, END's fields, ERROR's err_msg, and stats/details when not
// null.
std::string encode_report(const Report& report);

std::string encode_report_reply_ok();                              // {"ok":true}\n
std::string encode_report_reply_error(std::string_view sentence);  // {"ok":false,"error":"..."}\n

}  // namespace gamestore::protocol
