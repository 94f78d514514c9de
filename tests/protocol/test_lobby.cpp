#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "platform/protocol/lobby.hpp"

using namespace gamestore::protocol;
using nlohmann::json;

namespace {

Request request_ok(const std::string& line) {
    auto result = parse_request(line);
    if (const auto* error = std::get_if<RequestError>(&result)) {
        FAIL("unexpected error: " << error->message);
    }
    return std::get<Request>(result);
}

RequestError request_error(const std::string& line) {
    auto result = parse_request(line);
    REQUIRE(std::holds_alternative<RequestError>(result));
    return std::get<RequestError>(result);
}

template <typename T>
T server_message(const std::string& line) {
    auto result = parse_server_message(line);
    if (const auto* error = std::get_if<MessageError>(&result)) {
        FAIL("unexpected error: " << error->message);
    }
    REQUIRE(std::holds_alternative<T>(result));
    return std::get<T>(result);
}

std::string message_error(const std::string& line) {
    auto result = parse_server_message(line);
    REQUIRE(std::holds_alternative<MessageError>(result));
    return std::get<MessageError>(result).message;
}

}  // namespace

TEST_CASE("lobby: parse a request", "[lobby]") {
    const Request r = request_ok(R"({"id":7,"op":"store.list","page":2,"filter":{"tag":"card"}})");
    CHECK(r.id == 7);
    CHECK(r.op == "store.list");
    CHECK(r.args["page"] == 2);
    CHECK(r.args["filter"]["tag"] == "card");
    CHECK(r.args["id"] == 7);  // args is the whole object
    CHECK_FALSE(r.blob_bytes);

    const Request upload = request_ok(R"({"id":0,"op":"dev.upload","bytes":1048576})");
    CHECK(upload.id == 0);
    CHECK(upload.blob_bytes == 1048576u);

    const Request null_bytes = request_ok(R"({"id":1,"op":"x","bytes":null})");
    CHECK_FALSE(null_bytes.blob_bytes);

    const Request big = request_ok(R"({"id":9223372036854775807,"op":"x"})");
    CHECK(big.id == INT64_MAX);
}

TEST_CASE("lobby: malformed requests are BAD_REQUEST with a sentence", "[lobby]") {
    struct Case {
        std::string line;
        std::optional<std::int64_t> id;
        std::string message;
    };
    const std::vector<Case> cases{
        {"", std::nullopt, "The request is empty."},
        {"{\"id\":1,", std::nullopt,
         "The request is not valid JSON (it ends before the value is complete)."},
        {"{\"id\":1,]", std::nullopt, "The request is not valid JSON (syntax error at byte 9)."},
        {"[1,2]", std::nullopt, "The request must be a JSON object, got array."},
        {R"({"op":"ping"})", std::nullopt,
         "The request has no \"id\" (a non-negative integer the response echoes)."},
        {R"({"id":null,"op":"ping"})", std::nullopt,
         "The request has no \"id\" (a non-negative integer the response echoes)."},
        {R"({"id":-1,"op":"ping"})", std::nullopt,
         "The request \"id\" must be a non-negative integer, got -1."},
        {R"({"id":"7","op":"ping"})", std::nullopt,
         "The request \"id\" must be a non-negative integer, got string."},
        {R"({"id":1.0,"op":"ping"})", std::nullopt,
         "The request \"id\" must be a non-negative integer, got number."},
        {R"({"id":18446744073709551615,"op":"ping"})", std::nullopt,
         "The request \"id\" must be a non-negative integer, got a value above "
         "9223372036854775807."},
        {R"({"id":4})", 4, "The request has no \"op\" (the operation name)."},
        {R"({"id":4,"op":17})", 4, "The request \"op\" must be a string, got integer."},
        {R"({"id":4,"op":""})", 4, "The request \"op\" must not be empty."},
        {R"({"id":5,"op":"dev.upload","bytes":-5})", 5,
         "The request \"bytes\" (the size of the raw payload after the line) must be a "
         "non-negative integer, got -5."},
        {R"({"id":5,"op":"dev.upload","bytes":"10"})", 5,
         "The request \"bytes\" (the size of the raw payload after the line) must be a "
         "non-negative integer, got string."},
    };
    for (const auto& c : cases) {
        INFO(c.line);
        const RequestError e = request_error(c.line);
        CHECK(e.code == ErrorCode::BadRequest);
        CHECK(e.id == c.id);
        CHECK(e.message == c.message);
    }
}

TEST_CASE("lobby: request encoding", "[lobby]") {
    CHECK(encode_request(7, "store.list", {{"page", 2}}) ==
          "{\"id\":7,\"op\":\"store.list\",\"page\":2}\n");
    CHECK(encode_request(1, "ping", nullptr) == "{\"id\":1,\"op\":\"ping\"}\n");
    CHECK(encode_request(3, "dev.upload", {{"game", "wordle"}}, 1024) ==
          "{\"id\":3,\"op\":\"dev.upload\",\"game\":\"wordle\",\"bytes\":1024}\n");
    // The envelope comes from the parameters, never from args.
    CHECK(encode_request(2, "real", {{"id", 99}, {"op", "fake"}, {"bytes", 5}}) ==
          "{\"id\":2,\"op\":\"real\"}\n");
    CHECK_THROWS_AS(encode_request(1, "x", json::array()), std::invalid_argument);

    // Round trip through the server-side parser.
    const Request r = request_ok(encode_request(11, "room.create", {{"game", "bigtwo"}}, 0));
    CHECK(r.id == 11);
    CHECK(r.op == "room.create");
    CHECK(r.args["game"] == "bigtwo");
    CHECK(r.blob_bytes == 0u);
}

TEST_CASE("lobby: response, error and event encoding", "[lobby]") {
    CHECK(encode_ok(7, {{"games", json::array()}}) ==
          "{\"id\":7,\"ok\":true,\"data\":{\"games\":[]}}\n");
    CHECK(encode_ok(8, nullptr, 4096) == "{\"id\":8,\"ok\":true,\"data\":null,\"bytes\":4096}\n");
    CHECK(encode_error(7, ErrorCode::NotFound, "No game named \"tetris\".") ==
          "{\"id\":7,\"ok\":false,\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"No game named "
          "\\\"tetris\\\".\"}}\n");
    CHECK(encode_error(std::nullopt, ErrorCode::BadRequest, "Bad.") ==
          "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"Bad.\"}}\n");
    const json with_details =
        json::parse(encode_error(3, ErrorCode::InvalidPackage, "Package refused.",
                                 {{"reasons", json::array({"no manifest"})}}));
    CHECK(with_details["error"]["details"]["reasons"][0] == "no manifest");
    CHECK(encode_event("room.updated", {{"room_id", 1}}) ==
          "{\"event\":\"room.updated\",\"data\":{\"room_id\":1}}\n");
}

TEST_CASE("lobby: encoders never emit a raw newline and never throw", "[lobby]") {
    const std::string bad_utf8 = "caf\xC3 \xFF\n\r\x01";
    for (const std::string& line :
         {encode_error(1, ErrorCode::Internal, bad_utf8, {{"k", bad_utf8}}),
          encode_ok(1, {{bad_utf8, bad_utf8}}), encode_event(bad_utf8, bad_utf8),
          encode_request(1, bad_utf8, {{"v", bad_utf8}})}) {
        INFO(line);
        CHECK(line.back() == '\n');
        CHECK(line.find('\n') == line.size() - 1);
        CHECK(line.find('\r') == std::string::npos);
        CHECK_NOTHROW(json::parse(line));
    }
}

TEST_CASE("lobby: parse server messages", "[lobby]") {
    SECTION("ok response") {
        const auto r = server_message<Response>(
            R"({"id":7,"ok":true,"data":{"n":1},"server_time":5,"bytes":12})");
        CHECK(r.id == 7);
        CHECK(r.ok);
        CHECK(r.data == json{{"n", 1}});
        CHECK(r.blob_bytes == 12u);
        CHECK(r.error_code.empty());
    }
    SECTION("ok response without data") {
        const auto r = server_message<Response>(R"({"id":1,"ok":true})");
        CHECK(r.data.is_null());
    }
    SECTION("error response") {
        const auto r = server_message<Response>(encode_error(
            9, ErrorCode::Conflict, "Version 1.0.0 is already published.", {{"version", "1.0.0"}}));
        CHECK(r.id == 9);
        CHECK_FALSE(r.ok);
        CHECK(r.error_code == "CONFLICT");
        CHECK(r.message == "Version 1.0.0 is already published.");
        CHECK(r.details == json{{"version", "1.0.0"}});
    }
    SECTION("error response with null id and an unknown code from a newer server") {
        const auto r = server_message<Response>(
            R"({"id":null,"ok":false,"error":{"code":"TEAPOT","message":"short"},"x":1})");
        CHECK(r.id == kNoRequestId);
        CHECK(r.error_code == "TEAPOT");
        CHECK_FALSE(error_code_from_string(r.error_code));
    }
    SECTION("event") {
        const auto e = server_message<Event>(encode_event("session.revoked", {{"reason", "x"}}));
        CHECK(e.name == "session.revoked");
        CHECK(e.data["reason"] == "x");
        CHECK(server_message<Event>(R"({"event":"ping"})").data.is_null());
    }
    SECTION("malformed messages") {
        CHECK(message_error("nope").rfind("The server message is not valid JSON", 0) == 0);
        CHECK(message_error("[]") == "The server message must be a JSON object, got array.");
        CHECK(message_error(R"({"id":1})") ==
              "The server message has neither an \"event\" name nor a boolean \"ok\".");
        CHECK(message_error(R"({"event":""})").rfind("The server event name", 0) == 0);
        CHECK(message_error(R"({"id":-4,"ok":true})") ==
              "The server response \"id\" must be a non-negative integer.");
        CHECK(message_error(R"({"id":1,"ok":false})") ==
              "The server error response has no \"error\" object.");
        CHECK(message_error(R"({"id":1,"ok":false,"error":{"message":"m"}})") ==
              "The server error response has no \"error.code\" string.");
        CHECK(message_error(R"({"id":1,"ok":true,"bytes":"5"})").find("\"bytes\"") !=
              std::string::npos);
    }
}

TEST_CASE("encode_ok_text: a pre-serialised reply reads back like encode_ok's",
          "[protocol][lobby]") {
    const json data = {{"games", json::array({{{"name", "wordle"}, {"note", "a\nb \u00e9"}}})},
                       {"total", 1}};
    const auto line = encode_ok_text(42, data.dump());
    CHECK(line.back() == '\n');
    CHECK(std::count(line.begin(), line.end(), '\n') == 1);
    const auto response = server_message<Response>(line);
    CHECK(response.id == 42);
    CHECK(response.ok);
    CHECK(response.data == data);
    CHECK(server_message<Response>(encode_ok(42, data)).data == response.data);
    // The same line in pieces, as a session sends a kept answer.
    CHECK(encode_ok_text_head(42) + data.dump() + std::string(kOkTextTail) == line);
}

TEST_CASE("peek_server_line: reads what the encoders write", "[lobby]") {
    using Kind = LineHead::Kind;
    auto head = peek_server_line(encode_ok(42, json{{"games", json::array()}}));
    CHECK(head.kind == Kind::Ok);
    CHECK(head.id == 42);
    head = peek_server_line(encode_ok_text(0, R"({"games":[],"total":0})"));
    CHECK(head.kind == Kind::Ok);
    CHECK(head.id == 0);
    head = peek_server_line(encode_ok(INT64_MAX, nullptr));
    CHECK(head.kind == Kind::Ok);
    CHECK(head.id == INT64_MAX);
    head = peek_server_line(encode_error(9, ErrorCode::NotFound, "No game named \"x\"."));
    CHECK(head.kind == Kind::Error);
    CHECK(head.id == 9);
    head = peek_server_line(encode_error(std::nullopt, ErrorCode::TooLarge, "too long"));
    CHECK(head.kind == Kind::Error);
    CHECK(head.id == kNoRequestId);
    CHECK(peek_server_line(encode_event("lobby.player_added", json{{"seq", 3}})).kind ==
          Kind::Event);
    // With or without the line's terminator, and with a '\r' before it.
    std::string line = encode_ok(5, json::object());
    line.pop_back();
    CHECK(peek_server_line(line).kind == Kind::Ok);
    CHECK(peek_server_line(line + "\r").kind == Kind::Ok);
}

TEST_CASE("peek_server_line: anything but the encoders' exact envelope is unrecognised",
          "[lobby]") {
    using Kind = LineHead::Kind;
    for (const std::string line : {
             "",
             "}",
             "not json",
             R"({"ok":true,"id":1,"data":null})",   // valid JSON, other key order
             R"({ "id":1,"ok":true,"data":null})",  // whitespace
             R"({"id":1, "ok":true,"data":null})",
             R"({"id":-1,"ok":true,"data":null})",                    // sign
             R"({"id":01,"ok":true,"data":null})",                    // leading zero
             R"({"id":1.0,"ok":true,"data":null})",                   // fraction
             R"({"id":"1","ok":true,"data":null})",                   // a string
             R"({"id":9223372036854775808,"ok":true,"data":null})",   // past INT64_MAX
             R"({"id":99999999999999999999,"ok":true,"data":null})",  // 20 digits
             R"({"id":null,"ok":true,"data":null})",  // an ok answer always has an id
             R"({"id":1,"ok":true})",                 // no data
             R"({"id":1,"ok":true,"data":[1,2)",      // cut inside
             R"({"id":1,"ok":true,"data":{}}x)",
             R"({"id":1,"ok":false,"data":null})",  // an error without its object
             R"({"id":1,"ok":1,"data":null})",
             R"({"id":1})",
             R"({"event":1,"data":null})",  // event name not a string
         }) {
        INFO(line);
        CHECK(peek_server_line(line).kind == Kind::Unrecognised);
    }
}
