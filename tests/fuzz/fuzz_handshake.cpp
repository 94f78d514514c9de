// Fuzzing handshake v1 in both directions: a parsed handshake re-encodes to
// one line that parses back to the same values.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "platform/protocol/handshake.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace gamestore::protocol;

void check_one_line(const std::string& line) {
    FUZZ_CHECK(!line.empty() && line.back() == '\n');
    FUZZ_CHECK(line.find('\n') == line.size() - 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    auto request = parse_handshake_request(input);
    if (const auto* error = std::get_if<std::string>(&request)) {
        FUZZ_CHECK(error->rfind("Handshake", 0) == 0);
    } else {
        const auto& r = std::get<HandshakeRequest>(request);
        FUZZ_CHECK(r.room_id >= 0 && r.client_protocol_version >= 1);
        const std::string line = encode_handshake_request(r);
        check_one_line(line);
        auto again = parse_handshake_request(line);
        FUZZ_CHECK(std::holds_alternative<HandshakeRequest>(again));
        const auto& a = std::get<HandshakeRequest>(again);
        FUZZ_CHECK(a.room_id == r.room_id && a.match_id == r.match_id &&
                   a.player_name == r.player_name && a.client_token == r.client_token &&
                   a.client_protocol_version == r.client_protocol_version);
    }

    auto response = parse_handshake_response(input);
    if (const auto* error = std::get_if<std::string>(&response)) {
        FUZZ_CHECK(error->rfind("Handshake response", 0) == 0);
    } else {
        const auto& r = std::get<HandshakeResponse>(response);
        const std::string line = encode_handshake_response(r);
        check_one_line(line);
        auto again = parse_handshake_response(line);
        FUZZ_CHECK(std::holds_alternative<HandshakeResponse>(again));
        const auto& a = std::get<HandshakeResponse>(again);
        FUZZ_CHECK(a.ok == r.ok && a.reason == r.reason &&
                   a.assigned_player_index == r.assigned_player_index &&
                   a.game_protocol_version == r.game_protocol_version);
    }
    return 0;
}
