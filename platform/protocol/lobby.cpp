#include "platform/protocol/lobby.hpp"

#include <stdexcept>

#include "platform/protocol/json_codec.hpp"

namespace gamestore::protocol {

namespace {

using nlohmann::json;

// A non-negative JSON integer, or a sentence fragment describing what was
// there instead ("got string", "got -3").
std::optional<std::uint64_t> non_negative_integer(const json& value, std::string& got) {
    if (value.is_number_unsigned()) {
        return value.get<std::uint64_t>();
    }
    if (value.is_number_integer()) {
        const auto v = value.get<std::int64_t>();
        if (v >= 0) {
            return static_cast<std::uint64_t>(v);
        }
        got = "got " + std::to_string(v);
        return std::nullopt;
    }
    got = "got " + std::string(json_type_name(value));
    return std::nullopt;
}

// Looks up a member, treating an explicit null like an absent member.
const json* member(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        return nullptr;
    }
    return &*it;
}

RequestError bad_request(std::optional<std::int64_t> id, std::string message) {
    return RequestError{id, ErrorCode::BadRequest, std::move(message)};
}

}  // namespace

std::variant<Request, RequestError> parse_request(std::string_view line) {
    std::string error;
    auto parsed = parse_json_text(line, error);
    if (!parsed) {
        return bad_request(std::nullopt, "The request " + error + ".");
    }
    json& object = *parsed;
    if (!object.is_object()) {
        return bad_request(std::nullopt, "The request must be a JSON object, got " +
                                             std::string(json_type_name(object)) + ".");
    }

    const json* id_value = member(object, "id");
    if (id_value == nullptr) {
        return bad_request(std::nullopt,
                           "The request has no \"id\" (a non-negative integer the response "
                           "echoes).");
    }
    std::string got;
    const auto id_unsigned = non_negative_integer(*id_value, got);
    if (!id_unsigned || *id_unsigned > static_cast<std::uint64_t>(INT64_MAX)) {
        if (id_unsigned) {
            got = "got a value above " + std::to_string(INT64_MAX);
        }
        return bad_request(std::nullopt,
                           "The request \"id\" must be a non-negative integer, " + got + ".");
    }
    const auto id = static_cast<std::int64_t>(*id_unsigned);

    const json* op_value = member(object, "op");
    if (op_value == nullptr) {
        return bad_request(id, "The request has no \"op\" (the operation name).");
    }
    if (!op_value->is_string()) {
        return bad_request(id, "The request \"op\" must be a string, got " +
                                   std::string(json_type_name(*op_value)) + ".");
    }
    std::string op = op_value->get<std::string>();
    if (op.empty()) {
        return bad_request(id, "The request \"op\" must not be empty.");
    }

    std::optional<std::uint64_t> blob_bytes;
    if (const json* bytes_value = member(object, "bytes")) {
        blob_bytes = non_negative_integer(*bytes_value, got);
        if (!blob_bytes) {
            return bad_request(id,
                               "The request \"bytes\" (the size of the raw payload after the "
                               "line) must be a non-negative integer, " +
                                   got + ".");
        }
    }

    return Request{id, std::move(op), std::move(object), blob_bytes};
}

std::string encode_request(std::int64_t id, std::string_view op, const json& args,
                           std::optional<std::uint64_t> blob_bytes) {
    if (!args.is_null() && !args.is_object()) {
        throw std::invalid_argument("encode_request: args must be a JSON object, got " +
                                    std::string(json_type_name(args)));
    }
    JsonLineWriter writer;
    writer.field("id", id).field("op", op);
    if (args.is_object()) {
        for (const auto& [key, value] : args.items()) {
            if (key != "id" && key != "op" && key != "bytes") {
                writer.field(key, value);
            }
        }
    }
    if (blob_bytes) {
        writer.field("bytes", *blob_bytes);
    }
    return writer.finish();
}

std::string encode_ok(std::int64_t id, const json& data, std::optional<std::uint64_t> blob_bytes) {
    JsonLineWriter writer;
    writer.field("id", id).field("ok", true).field("data", data);
    if (blob_bytes) {
        writer.field("bytes", *blob_bytes);
    }
    return writer.finish();
}

std::string encode_ok_text_head(std::int64_t id) {
    return "{\"id\":" + std::to_string(id) + ",\"ok\":true,\"data\":";
}

std::string encode_ok_text(std::int64_t id, std::string_view data_text) {
    std::string line = encode_ok_text_head(id);
    line.append(data_text);
    line += kOkTextTail;
    return line;
}

std::string encode_error(std::optional<std::int64_t> id, ErrorCode code, std::string_view message,
                         const json& details) {
    // nlohmann::json sorts keys, which happens to give code, details, message:
    // fine inside the error object; the envelope keeps id first via the writer.
    json error = {{"code", to_string(code)}, {"message", message}};
    if (!details.is_null()) {
        error["details"] = details;
    }
    JsonLineWriter writer;
    writer.field("id", id ? json(*id) : json(nullptr)).field("ok", false).field("error", error);
    return writer.finish();
}

std::string encode_event(std::string_view name, const json& data) {
    return JsonLineWriter().field("event", name).field("data", data).finish();
}

std::variant<Response, Event, MessageError> parse_server_message(std::string_view line) {
    std::string error;
    auto parsed = parse_json_text(line, error);
    if (!parsed) {
        return MessageError{"The server message " + error + "."};
    }
    json& object = *parsed;
    if (!object.is_object()) {
        return MessageError{"The server message must be a JSON object, got " +
                            std::string(json_type_name(object)) + "."};
    }

    if (const json* event = member(object, "event")) {
        if (!event->is_string() || event->get_ref<const std::string&>().empty()) {
            return MessageError{"The server event name must be a non-empty string, got " +
                                std::string(json_type_name(*event)) + "."};
        }
        const json* data = member(object, "data");
        return Event{event->get<std::string>(), data ? std::move(object["data"]) : json()};
    }

    const json* ok = member(object, "ok");
    if (ok == nullptr || !ok->is_boolean()) {
        return MessageError{
            "The server message has neither an \"event\" name nor a boolean \"ok\"."};
    }

    Response response;
    response.ok = ok->get<bool>();
    std::string got;
    if (const json* id = member(object, "id")) {
        const auto value = non_negative_integer(*id, got);
        if (!value || *value > static_cast<std::uint64_t>(INT64_MAX)) {
            return MessageError{"The server response \"id\" must be a non-negative integer."};
        }
        response.id = static_cast<std::int64_t>(*value);
    }
    if (const json* bytes = member(object, "bytes")) {
        response.blob_bytes = non_negative_integer(*bytes, got);
        if (!response.blob_bytes) {
            return MessageError{"The server response \"bytes\" must be a non-negative integer, " +
                                got + "."};
        }
    }

    if (response.ok) {
        if (member(object, "data") != nullptr) {
            response.data = std::move(object["data"]);
        }
        return response;
    }

    const json* error_object = member(object, "error");
    if (error_object == nullptr || !error_object->is_object()) {
        return MessageError{"The server error response has no \"error\" object."};
    }
    const json* code = member(*error_object, "code");
    if (code == nullptr || !code->is_string()) {
        return MessageError{"The server error response has no \"error.code\" string."};
    }
    response.error_code = code->get<std::string>();
    if (const json* message = member(*error_object, "message")) {
        if (!message->is_string()) {
            return MessageError{"The server error response \"error.message\" must be a string."};
        }
        response.message = message->get<std::string>();
    }
    if (const json* details = member(*error_object, "details")) {
        response.details = *details;
    }
    return response;
}

LineHead peek_server_line(std::string_view line) {
    const LineHead unrecognised;
    if (!line.empty() && line.back() == '\n') {
        line.remove_suffix(1);
    }
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    if (line.empty() || line.back() != '}') {
        return unrecognised;
    }
    if (line.starts_with(R"({"event":")")) {
        return LineHead{LineHead::Kind::Event, kNoRequestId};
    }
    constexpr std::string_view kId = R"({"id":)";
    if (!line.starts_with(kId)) {
        return unrecognised;
    }
    line.remove_prefix(kId.size());
    std::int64_t id = kNoRequestId;
    if (line.starts_with("null")) {
        line.remove_prefix(4);
    } else {
        // The encoder writes a plain decimal: no sign, no leading zero, no
        // fraction or exponent.
        std::size_t digits = 0;
        while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9') {
            ++digits;
        }
        if (digits == 0 || digits > 19 || (digits > 1 && line[0] == '0')) {
            return unrecognised;
        }
        std::uint64_t value = 0;
        for (std::size_t i = 0; i < digits; ++i) {
            value = value * 10 + static_cast<std::uint64_t>(line[i] - '0');
        }
        // 19 digits may pass INT64_MAX (but never wrap a uint64).
        if (value > static_cast<std::uint64_t>(INT64_MAX)) {
            return unrecognised;
        }
        id = static_cast<std::int64_t>(value);
        line.remove_prefix(digits);
    }
    if (line.starts_with(R"(,"ok":true,"data":)") && id != kNoRequestId) {
        return LineHead{LineHead::Kind::Ok, id};
    }
    if (line.starts_with(R"(,"ok":false,"error":{)")) {
        return LineHead{LineHead::Kind::Error, id};
    }
    return unrecognised;
}

}  // namespace gamestore::protocol
