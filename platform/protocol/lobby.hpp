#pragma once
// Lobby protocol envelope (docs/PROTOCOL.md "Lobby protocol").
//
//   request   {"id":7,"op":"store.list",...args}            (+ "bytes":N)
//   response  {"id":7,"ok":true,"data":{...}}               (+ "bytes":N)
//   error     {"id":7,"ok":false,"error":{"code":"NOT_FOUND","message":"...","details":...}}
//   event     {"event":"room.updated","data":{...}}
//
// A line carrying "bytes":N is a blob header: exactly N raw bytes follow the
// line's '\n' (LineFramer::take_raw, then the socket). The codec only knows
// the envelope; which ops exist and what their args mean is the server's.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "platform/protocol/error_code.hpp"

namespace gamestore::protocol {

struct Request {
    std::int64_t id = 0;  // >= 0, echoed in the response
    std::string op;       // non-empty
    // The whole request object (id, op and bytes included): handlers read their
    // arguments from it by name.
    nlohmann::json args;
    std::optional<std::uint64_t> blob_bytes;  // "bytes": a blob follows the line
};

struct RequestError {
    std::optional<std::int64_t> id;  // recovered when the line had a usable id
    ErrorCode code = ErrorCode::BadRequest;
    std::string message;  // a sentence for the client
};

std::variant<Request, RequestError> parse_request(std::string_view line);

// Encoders return one complete line including the trailing '\n'. They never
// throw on content: invalid UTF-8 in strings is replaced, control characters
// are escaped.

// `args` must be an object (or null for none); its members are merged into
// the request, except "id", "op" and "bytes", which come from the parameters.
// Throws std::invalid_argument for a non-object `args` (a programming error).
std::string encode_request(std::int64_t id, std::string_view op, const nlohmann::json& args,
                           std::optional<std::uint64_t> blob_bytes = {});

std::string encode_ok(std::int64_t id, const nlohmann::json& data,
                      std::optional<std::uint64_t> blob_bytes = {});

// The same line for `data_text`, `data` already serialised as JSON (an
// object, as dump() writes it): a reply built once and sent many times
// skips the encoder.
std::string encode_ok_text(std::int64_t id, std::string_view data_text);
// encode_ok_text in three pieces, for a `data_text` sent without a copy:
// encode_ok_text_head(id) + data_text + kOkTextTail is the same line.
std::string encode_ok_text_head(std::int64_t id);
inline constexpr std::string_view kOkTextTail = "}\n";

// id is null when the failing line had no usable id. "details" is omitted
// when null.
std::string encode_error(std::optional<std::int64_t> id, ErrorCode code, std::string_view message,
                         const nlohmann::json& details = nullptr);

std::string encode_event(std::string_view name, const nlohmann::json& data);

// ---- client side ----

// Response.id for an error answering a line that had no usable id.
inline constexpr std::int64_t kNoRequestId = -1;

struct Response {
    std::int64_t id = kNoRequestId;
    bool ok = false;
    nlohmann::json data;     // ok responses ("data", null if absent)
    std::string error_code;  // error responses: wire text, e.g. "NOT_FOUND"
    std::string message;     // error responses
    nlohmann::json details;  // error responses, null if absent
    std::optional<std::uint64_t> blob_bytes;
};

struct Event {
    std::string name;
    nlohmann::json data;  // null if absent
};

struct MessageError {
    std::string message;
};

// Parses one line from the server. Unknown fields are ignored, and an
// error_code outside the known set is passed through as text so a newer
// server's codes still reach the user.
std::variant<Response, Event, MessageError> parse_server_message(std::string_view line);

// What a line is, read from its first bytes only, for a reader that needs no
// more than "was request N answered ok" at a rate where parsing every
// answer would cost more than producing it (a load generator). It knows only
// the envelope exactly as gamestore-server writes it (encode_ok,
// encode_ok_text, encode_error, encode_event: "id" then "ok" then "data" or
// "error", no whitespace) and the line must end with '}' (then "\r\n", "\n"
// or nothing): any other line, valid JSON or not, is Unrecognised, and only
// parse_server_message can tell what it holds.
struct LineHead {
    enum class Kind { Ok, Error, Event, Unrecognised };
    Kind kind = Kind::Unrecognised;
    std::int64_t id = kNoRequestId;  // Ok and Error; kNoRequestId for "id":null
};
LineHead peek_server_line(std::string_view line);

}  // namespace gamestore::protocol
