#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "platform/protocol/handshake.hpp"

using namespace gamestore::protocol;
using nlohmann::json;

namespace {

json valid_request() {
    return {{"room_id", 3},
            {"match_id", "m-42"},
            {"player_name", "alice"},
            {"client_token", "0123456789abcdef0123456789abcdef"},
            {"client_protocol_version", 1}};
}

std::string request_error(const json& j) {
    auto result = parse_handshake_request(j.dump());
    REQUIRE(std::holds_alternative<std::string>(result));
    return std::get<std::string>(result);
}

std::string response_error(const std::string& line) {
    auto result = parse_handshake_response(line);
    REQUIRE(std::holds_alternative<std::string>(result));
    return std::get<std::string>(result);
}

}  // namespace

TEST_CASE("handshake: request round trip", "[handshake]") {
    HandshakeRequest request{12, "m-7", "bob", "feedface", 1};
    const std::string line = encode_handshake_request(request);
    CHECK(line ==
          "{\"room_id\":12,\"match_id\":\"m-7\",\"player_name\":\"bob\",\"client_token\":"
          "\"feedface\",\"client_protocol_version\":1}\n");
    auto parsed = parse_handshake_request(line);
    REQUIRE(std::holds_alternative<HandshakeRequest>(parsed));
    const auto& r = std::get<HandshakeRequest>(parsed);
    CHECK(r.room_id == 12);
    CHECK(r.match_id == "m-7");
    CHECK(r.player_name == "bob");
    CHECK(r.client_token == "feedface");
    CHECK(r.client_protocol_version == 1);
}

TEST_CASE("handshake: request tolerance", "[handshake]") {
    json j = valid_request();
    j.erase("client_protocol_version");
    j["room_id"] = "3";          // forwarded from ROOM_ID as text
    j["display_color"] = "red";  // unknown fields are ignored
    auto parsed = parse_handshake_request(j.dump());
    REQUIRE(std::holds_alternative<HandshakeRequest>(parsed));
    CHECK(std::get<HandshakeRequest>(parsed).room_id == 3);
    CHECK(std::get<HandshakeRequest>(parsed).client_protocol_version == 1);
}

TEST_CASE("handshake: request errors name the field", "[handshake]") {
    for (const char* field : {"room_id", "match_id", "player_name", "client_token"}) {
        json j = valid_request();
        j.erase(field);
        CHECK(request_error(j) ==
              std::string("Handshake is missing required field '") + field + "'");
    }
    json j = valid_request();
    j["room_id"] = 1.5;
    CHECK(request_error(j) == "Handshake field 'room_id' must be an integer, got number");
    j = valid_request();
    j["room_id"] = "three";
    CHECK(request_error(j) ==
          "Handshake field 'room_id' must be an integer or a string of decimal digits, got "
          "\"three\"");
    j = valid_request();
    j["client_token"] = 5;
    CHECK(request_error(j) == "Handshake field 'client_token' must be a string, got integer");
    j = valid_request();
    j["player_name"] = "";
    CHECK(request_error(j) == "Handshake field 'player_name' must not be empty");
    j = valid_request();
    j["client_protocol_version"] = 0;
    CHECK(request_error(j) ==
          "Handshake field 'client_protocol_version' must be an integer from 1 to 2147483647, "
          "got 0");
    CHECK(std::get<std::string>(parse_handshake_request("HELLO"))
              .rfind("Handshake is not valid JSON", 0) == 0);
    CHECK(std::get<std::string>(parse_handshake_request("[]")) ==
          "Handshake must be a JSON object, got array");
}

TEST_CASE("handshake: response round trip", "[handshake]") {
    const HandshakeResponse accept{true, std::nullopt, 1, 1};
    CHECK(encode_handshake_response(accept) ==
          "{\"ok\":true,\"assigned_player_index\":1,\"game_protocol_version\":1}\n");
    const HandshakeResponse reject{false, "bad client token", std::nullopt, std::nullopt};
    CHECK(encode_handshake_response(reject) == "{\"ok\":false,\"reason\":\"bad client token\"}\n");

    for (const auto& original : {accept, reject}) {
        auto parsed = parse_handshake_response(encode_handshake_response(original));
        REQUIRE(std::holds_alternative<HandshakeResponse>(parsed));
        const auto& r = std::get<HandshakeResponse>(parsed);
        CHECK(r.ok == original.ok);
        CHECK(r.reason == original.reason);
        CHECK(r.assigned_player_index == original.assigned_player_index);
        CHECK(r.game_protocol_version == original.game_protocol_version);
    }
}

TEST_CASE("handshake: response errors name the field", "[handshake]") {
    CHECK(response_error("{}") == "Handshake response is missing required field 'ok'");
    CHECK(response_error(R"({"ok":"yes"})") ==
          "Handshake response field 'ok' must be a boolean, got string");
    CHECK(response_error(R"({"ok":false,"reason":7})") ==
          "Handshake response field 'reason' must be a string, got integer");
    CHECK(response_error(R"({"ok":true,"assigned_player_index":-1})") ==
          "Handshake response field 'assigned_player_index' must be an integer from 0 to "
          "2147483647, got -1");
    CHECK(response_error(R"({"ok":true,"game_protocol_version":"1"})") ==
          "Handshake response field 'game_protocol_version' must be an integer, got string");
}
