#pragma once
// Client <-> game server handshake v1 (docs/PROTOCOL.md "Client <-> game
// server handshake v1"): the first line on a game connection, NDJSON.
//
//   client -> server {"room_id":3,"match_id":"...","player_name":"alice",
//                     "client_token":"...","client_protocol_version":1}
//   server -> client {"ok":true,"assigned_player_index":0,"game_protocol_version":1}
//                    {"ok":false,"reason":"bad client token"}
//
// The server must check client_token and match_id before answering ok; that
// check belongs to the game (SDK), this codec only checks the shape.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace gamestore::protocol {

inline constexpr int kHandshakeProtocolVersion = 1;

struct HandshakeRequest {
    std::int64_t room_id = 0;
    std::string match_id;
    std::string player_name;
    std::string client_token;
    int client_protocol_version = kHandshakeProtocolVersion;
};

struct HandshakeResponse {
    bool ok = false;
    std::optional<std::string> reason;
    std::optional<int> assigned_player_index;
    std::optional<int> game_protocol_version;
};

// Errors are sentences naming the field, e.g.
// "Handshake is missing required field 'client_token'". room_id may also be
// a string of decimal digits (clients forward ROOM_ID from the environment);
// client_protocol_version defaults to 1 when absent.
std::variant<HandshakeRequest, std::string> parse_handshake_request(std::string_view line);
std::variant<HandshakeResponse, std::string> parse_handshake_response(std::string_view line);

// One line each, with '\n'. Optional response fields are omitted when unset.
std::string encode_handshake_request(const HandshakeRequest& request);
std::string encode_handshake_response(const HandshakeResponse& response);

}  // namespace gamestore::protocol
