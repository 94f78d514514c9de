// The client's launch context from a room's launch object.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "platform/packages/launch_info.hpp"

using gamestore::packages::client_context_from_launch;
using gamestore::packages::LaunchInfoError;
using nlohmann::json;

namespace {

json valid_launch() {
    return {{"room_id", 7},          {"match_id", "m-1"},  {"host", "10.0.0.2"},
            {"port", 40001},         {"client_token", "c0ffee"}, {"extra", "ignored"}};
}

}  // namespace

TEST_CASE("a launch object becomes the client's context, seats from the room's members", "[packages][unit]") {
    const json room = {{"members", {{{"name", "ann"}, {"ready", true}}, {{"name", "bob"}}}}};
    const auto context = client_context_from_launch(valid_launch(), room, "bob", "/tmp/m-1");
    CHECK(context.room_id == 7);
    CHECK(context.match_id == "m-1");
    CHECK(context.host == "10.0.0.2");
    CHECK(context.port == 40001);
    CHECK(context.client_token == "c0ffee");
    CHECK(context.player_name == "bob");
    CHECK(context.client_token_path == "/tmp/m-1/client_token");
    CHECK(context.players == std::vector<std::string>{"ann", "bob"});
    CHECK(client_context_from_launch(valid_launch(), json(), "bob", "/tmp/x").players.empty());
}

TEST_CASE("a launch object missing or mistyping a field is refused by name", "[packages][unit]") {
    for (const char* name : {"room_id", "match_id", "host", "port", "client_token"}) {
        DYNAMIC_SECTION("missing " << name) {
            auto launch = valid_launch();
            launch.erase(name);
            CHECK_THROWS_WITH(client_context_from_launch(launch, json(), "p", "/tmp/x"),
                              Catch::Contains(std::string("'") + name + "'"));
        }
    }
    auto launch = valid_launch();
    launch["port"] = 70000;
    CHECK_THROWS_AS(client_context_from_launch(launch, json(), "p", "/tmp/x"), LaunchInfoError);
    launch = valid_launch();
    launch["client_token"] = "";
    CHECK_THROWS_AS(client_context_from_launch(launch, json(), "p", "/tmp/x"), LaunchInfoError);
    CHECK_THROWS_AS(client_context_from_launch(json::array(), json(), "p", "/tmp/x"), LaunchInfoError);
}
