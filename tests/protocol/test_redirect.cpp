#include <catch2/catch.hpp>

#include <string>

#include "platform/protocol/redirect.hpp"

using namespace gamestore::protocol;

namespace {
Response parsed(const std::string& line) {
    return std::get<Response>(parse_server_message(line));
}
}  // namespace

TEST_CASE("redirect: a MOVED answer names the node, its address and the room", "[redirect]") {
    const auto response = parsed(
        R"({"id":4,"ok":false,"error":{"code":"MOVED","message":"room 7 is on node b","details":{"node_id":"b","address":"127.0.0.1:7002","room_id":7,"future":1}}})");
    std::string error;
    const auto redirect = redirect_of(response, &error);
    REQUIRE(redirect);
    CHECK(redirect->node_id == "b");
    CHECK(redirect->address == "127.0.0.1:7002");
    CHECK(redirect->room_id == 7);
    CHECK(error.empty());
}

TEST_CASE("redirect: a placement redirect carries no room id", "[redirect]") {
    const auto redirect = redirect_of(parsed(
        R"({"id":4,"ok":false,"error":{"code":"MOVED","message":"m","details":{"node_id":"c","address":"[::1]:9"}}})"));
    REQUIRE(redirect);
    CHECK_FALSE(redirect->room_id);
}

TEST_CASE("redirect: other answers are not redirects", "[redirect]") {
    std::string error;
    CHECK_FALSE(redirect_of(parsed(R"({"id":1,"ok":true,"data":{}})"), &error));
    CHECK_FALSE(redirect_of(
        parsed(
            R"({"id":1,"ok":false,"error":{"code":"NOT_FOUND","message":"no room 7","details":{"node_id":"b","address":"h:1"}}})"),
        &error));
    CHECK(error.empty());
}

TEST_CASE("redirect: a MOVED answer that does not say where is an error, not a redirect",
          "[redirect]") {
    for (
        const auto* line : {
            R"({"id":1,"ok":false,"error":{"code":"MOVED","message":"m"}})",
            R"({"id":1,"ok":false,"error":{"code":"MOVED","message":"m","details":[1]}})",
            R"({"id":1,"ok":false,"error":{"code":"MOVED","message":"m","details":{"node_id":"b"}}})",
            R"({"id":1,"ok":false,"error":{"code":"MOVED","message":"m","details":{"node_id":"b","address":7}}})",
        }) {
        INFO(line);
        std::string error;
        CHECK_FALSE(redirect_of(parsed(line), &error));
        CHECK(error.find("MOVED") != std::string::npos);
    }
}
