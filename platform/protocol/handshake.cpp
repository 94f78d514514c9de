#include "platform/protocol/handshake.hpp"

#include <limits>

#include <nlohmann/json.hpp>

#include "platform/protocol/json_codec.hpp"
#include "platform/protocol/redact.hpp"

namespace gamestore::protocol {

namespace {

using nlohmann::json;

// Internal early exit carrying the error sentence; never leaves this file.
struct Failure {
    std::string message;
};

class FieldReader {
  public:
    FieldReader(const json& object, std::string subject)
        : object_(object), subject_(std::move(subject)) {}

    // Explicit null counts as absent.
    const json* find(const char* field) const {
        const auto it = object_.find(field);
        return (it == object_.end() || it->is_null()) ? nullptr : &*it;
    }

    const json& require(const char* field) const {
        const json* value = find(field);
        if (value == nullptr) {
            throw Failure{subject_ + " is missing required field '" + field + "'"};
        }
        return *value;
    }

    [[noreturn]] void wrong_type(const char* field, std::string_view expected,
                                 const json& got) const {
        throw Failure{subject_ + " field '" + field + "' must be " + std::string(expected) +
                      ", got " + std::string(json_type_name(got))};
    }

    [[noreturn]] void invalid(const char* field, const std::string& why) const {
        throw Failure{subject_ + " field '" + field + "' " + why};
    }

    std::string non_empty_string(const char* field) const {
        const json& value = require(field);
        if (!value.is_string()) {
            wrong_type(field, "a string", value);
        }
        if (value.get_ref<const std::string&>().empty()) {
            invalid(field, "must not be empty");
        }
        return value.get<std::string>();
    }

    // An integer within [min, max].
    std::int64_t integer(const char* field, const json& value, std::int64_t min,
                         std::int64_t max) const {
        if (!value.is_number_integer()) {
            wrong_type(field, "an integer", value);
        }
        const auto v = json_to_int64(value);
        if (!v || *v < min || *v > max) {
            invalid(field, "must be an integer from " + std::to_string(min) + " to " +
                               std::to_string(max) + ", got " + dump_json(value));
        }
        return *v;
    }

  private:
    const json& object_;
    std::string subject_;
};

constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();

// Parses the line into an object or throws Failure.
json parse_object(std::string_view line, const std::string& subject) {
    std::string error;
    auto parsed = parse_json_text(line, error);
    if (!parsed) {
        throw Failure{subject + " " + error};
    }
    if (!parsed->is_object()) {
        throw Failure{subject + " must be a JSON object, got " +
                      std::string(json_type_name(*parsed))};
    }
    return std::move(*parsed);
}

HandshakeRequest read_request(std::string_view line) {
    const json object = parse_object(line, "Handshake");
    const FieldReader fields(object, "Handshake");
    HandshakeRequest request;

    const json& room_id = fields.require("room_id");
    if (room_id.is_string()) {
        const auto& text = room_id.get_ref<const std::string&>();
        const auto value = decimal_digits_to_int64(text);
        if (!value) {
            fields.invalid("room_id", "must be an integer or a string of decimal digits, got \"" +
                                          printable(text) + "\"");
        }
        request.room_id = *value;
    } else {
        request.room_id =
            fields.integer("room_id", room_id, 0, std::numeric_limits<std::int64_t>::max());
    }
    request.match_id = fields.non_empty_string("match_id");
    request.player_name = fields.non_empty_string("player_name");
    request.client_token = fields.non_empty_string("client_token");
    if (const json* version = fields.find("client_protocol_version")) {
        request.client_protocol_version =
            static_cast<int>(fields.integer("client_protocol_version", *version, 1, kIntMax));
    }
    return request;
}

HandshakeResponse read_response(std::string_view line) {
    const json object = parse_object(line, "Handshake response");
    const FieldReader fields(object, "Handshake response");
    HandshakeResponse response;

    const json& ok = fields.require("ok");
    if (!ok.is_boolean()) {
        fields.wrong_type("ok", "a boolean", ok);
    }
    response.ok = ok.get<bool>();
    if (const json* reason = fields.find("reason")) {
        if (!reason->is_string()) {
            fields.wrong_type("reason", "a string", *reason);
        }
        response.reason = reason->get<std::string>();
    }
    if (const json* index = fields.find("assigned_player_index")) {
        response.assigned_player_index =
            static_cast<int>(fields.integer("assigned_player_index", *index, 0, kIntMax));
    }
    if (const json* version = fields.find("game_protocol_version")) {
        response.game_protocol_version =
            static_cast<int>(fields.integer("game_protocol_version", *version, 1, kIntMax));
    }
    return response;
}

}  // namespace

std::variant<HandshakeRequest, std::string> parse_handshake_request(std::string_view line) {
    try {
        return read_request(line);
    } catch (Failure& failure) {
        return std::move(failure.message);
    }
}

std::variant<HandshakeResponse, std::string> parse_handshake_response(std::string_view line) {
    try {
        return read_response(line);
    } catch (Failure& failure) {
        return std::move(failure.message);
    }
}

std::string encode_handshake_request(const HandshakeRequest& request) {
    return JsonLineWriter()
        .field("room_id", request.room_id)
        .field("match_id", request.match_id)
        .field("player_name", request.player_name)
        .field("client_token", request.client_token)
        .field("client_protocol_version", request.client_protocol_version)
        .finish();
}

std::string encode_handshake_response(const HandshakeResponse& response) {
    JsonLineWriter writer;
    writer.field("ok", response.ok);
    if (response.reason) {
        writer.field("reason", *response.reason);
    }
    if (response.assigned_player_index) {
        writer.field("assigned_player_index", *response.assigned_player_index);
    }
    if (response.game_protocol_version) {
        writer.field("game_protocol_version", *response.game_protocol_version);
    }
    return writer.finish();
}

}  // namespace gamestore::protocol
