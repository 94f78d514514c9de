// Fuzzing the lobby envelope both ways: parse_request on client input (the
// server side) and parse_server_message on server output (the client side).
// Whatever parses must survive encode -> parse unchanged, and every error
// must become a well-formed error line a client can read back.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "platform/protocol/lobby.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace gamestore::protocol;
using nlohmann::json;

void check_one_line(const std::string& line) {
    FUZZ_CHECK(!line.empty() && line.back() == '\n');
    FUZZ_CHECK(line.find('\n') == line.size() - 1);
}

json without_envelope(json args) {
    for (const char* key : {"id", "op", "bytes"}) {
        args.erase(key);
    }
    return args;
}

void fuzz_request(std::string_view input) {
    auto parsed = parse_request(input);
    if (const auto* error = std::get_if<RequestError>(&parsed)) {
        FUZZ_CHECK(!error->message.empty());
        FUZZ_CHECK(!error->id || *error->id >= 0);
        const std::string line = encode_error(error->id, error->code, error->message);
        check_one_line(line);
        auto reply = parse_server_message(line);
        FUZZ_CHECK(std::holds_alternative<Response>(reply));
        const auto& response = std::get<Response>(reply);
        FUZZ_CHECK(!response.ok);
        FUZZ_CHECK(response.id == error->id.value_or(kNoRequestId));
        FUZZ_CHECK(response.error_code == to_string(error->code));
        FUZZ_CHECK(response.message == error->message);
        return;
    }
    const Request& request = std::get<Request>(parsed);
    FUZZ_CHECK(request.id >= 0 && !request.op.empty() && request.args.is_object());
    const std::string line =
        encode_request(request.id, request.op, request.args, request.blob_bytes);
    check_one_line(line);
    auto reparsed = parse_request(line);
    FUZZ_CHECK(std::holds_alternative<Request>(reparsed));
    const Request& again = std::get<Request>(reparsed);
    FUZZ_CHECK(again.id == request.id);
    FUZZ_CHECK(again.op == request.op);
    FUZZ_CHECK(again.blob_bytes == request.blob_bytes);
    FUZZ_CHECK(without_envelope(again.args) == without_envelope(request.args));

    // The server answers it: the client must read back what was sent.
    const std::string ok = encode_ok(request.id, request.args, request.blob_bytes);
    check_one_line(ok);
    auto reply = parse_server_message(ok);
    FUZZ_CHECK(std::holds_alternative<Response>(reply));
    FUZZ_CHECK(std::get<Response>(reply).data == request.args);
    FUZZ_CHECK(std::get<Response>(reply).blob_bytes == request.blob_bytes);
}

void fuzz_server_message(std::string_view input) {
    auto parsed = parse_server_message(input);
    if (const auto* event = std::get_if<Event>(&parsed)) {
        FUZZ_CHECK(!event->name.empty());
        auto again = parse_server_message(encode_event(event->name, event->data));
        FUZZ_CHECK(std::holds_alternative<Event>(again));
        FUZZ_CHECK(std::get<Event>(again).name == event->name);
        FUZZ_CHECK(std::get<Event>(again).data == event->data);
        return;
    }
    const auto* response = std::get_if<Response>(&parsed);
    if (response == nullptr) {
        FUZZ_CHECK(!std::get<MessageError>(parsed).message.empty());
        return;
    }
    const std::optional<std::int64_t> id =
        response->id == kNoRequestId ? std::nullopt : std::optional<std::int64_t>(response->id);
    if (response->ok) {
        if (!id) {
            return;  // tolerated on input, but encode_ok always writes an id
        }
        auto again = parse_server_message(encode_ok(*id, response->data, response->blob_bytes));
        FUZZ_CHECK(std::holds_alternative<Response>(again));
        FUZZ_CHECK(std::get<Response>(again).data == response->data);
        return;
    }
    if (const auto code = error_code_from_string(response->error_code)) {
        auto again =
            parse_server_message(encode_error(id, *code, response->message, response->details));
        FUZZ_CHECK(std::holds_alternative<Response>(again));
        const auto& r = std::get<Response>(again);
        FUZZ_CHECK(r.id == response->id && !r.ok && r.error_code == response->error_code);
        FUZZ_CHECK(r.message == response->message && r.details == response->details);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    fuzz_request(input);
    fuzz_server_message(input);
    return 0;
}
