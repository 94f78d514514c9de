// Handshake v1 on both sides: the validator's verdicts, interoperability
// with the platform's codec, and a real exchange over loopback.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "gamestore/sdk/handshake.hpp"
#include "platform/protocol/handshake.hpp"

namespace sdk = gamestore::sdk;
namespace protocol = gamestore::protocol;
using namespace std::chrono_literals;

namespace {

std::string request(std::int64_t room, const std::string& match, const std::string& player,
                    const std::string& token, int version = 1) {
    return sdk::HandshakeRequest{room, match, player, token, version}.to_line();
}

sdk::HandshakeValidator make_validator() {
    return sdk::HandshakeValidator(5, "m-5", "client-secret", {"alice", "bob"});
}

sdk::ClientContext client_context(const std::string& player, const std::string& token, int port) {
    std::map<std::string, std::string> vars{{"ROOM_ID", "5"},        {"MATCH_ID", "m-5"},
                                            {"HOST", "127.0.0.1"},   {"PORT", std::to_string(port)},
                                            {"PLAYER_NAME", player}, {"CLIENT_TOKEN", token}};
    return sdk::ClientContext::from_env(
        {}, [vars](const std::string& name) -> std::optional<std::string> {
            const auto it = vars.find(name);
            return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
        });
}

}  // namespace

TEST_CASE("The validator admits each listed player once, with their seat", "[sdk][handshake]") {
    auto v = make_validator();
    auto bob = v.validate(request(5, "m-5", "bob", "client-secret"));
    CHECK(bob.ok);
    CHECK(bob.player_index == 1);
    CHECK(bob.player_name == "bob");
    CHECK(v.joined_count() == 1);
    CHECK_FALSE(v.all_joined());

    auto again = v.validate(request(5, "m-5", "bob", "client-secret"));
    CHECK_FALSE(again.ok);
    CHECK(again.reason == "player \"bob\" has already joined");

    v.release("bob");
    CHECK(v.validate(request(5, "m-5", "bob", "client-secret")).ok);
    CHECK(v.validate(request(5, "m-5", "alice", "client-secret")).ok);
    CHECK(v.all_joined());
}

TEST_CASE("The validator refuses bad handshakes with a reason", "[sdk][handshake]") {
    auto v = make_validator();
    struct Case {
        std::string line;
        std::string reason;
    };
    const std::vector<Case> cases = {
        {request(5, "m-5", "alice", "wrong-secret"), "invalid client_token"},
        {request(5, "m-5", "alice", "client-secre"), "invalid client_token"},
        {request(5, "m-4", "alice", "client-secret"),
         "stale or unknown match_id (this server runs another match)"},
        {request(6, "m-5", "alice", "client-secret"), "wrong room_id"},
        {request(5, "m-5", "mallory", "client-secret"), "player \"mallory\" is not in this match"},
        {request(5, "m-5", "alice", "client-secret", 2),
         "unsupported client_protocol_version 2 (this server speaks 1)"},
        {"not json", "handshake is not a JSON object"},
        {"[1,2]", "handshake is not a JSON object"},
        {R"({"room_id":5,"match_id":"m-5","player_name":"alice"})",
         "handshake field \"client_token\" must be a string"},
        {R"({"room_id":true,"match_id":"m-5","player_name":"alice","client_token":"client-secret"})",
         "handshake field \"room_id\" must be an integer"},
    };
    for (const auto& c : cases) {
        INFO(c.line);
        const auto d = v.validate(c.line);
        CHECK_FALSE(d.ok);
        CHECK(d.reason == c.reason);
        CHECK(d.player_index == -1);
    }
    CHECK(v.joined_count() == 0);
}

TEST_CASE("The validator is as liberal as the platform codec", "[sdk][handshake]") {
    auto v = make_validator();
    // room_id as a decimal string, no client_protocol_version: both default sensibly.
    const auto d = v.validate(
        R"({"room_id":"5","match_id":"m-5","player_name":"alice","client_token":"client-secret"})");
    CHECK(d.ok);
    CHECK(d.player_index == 0);
}

TEST_CASE("SDK handshake lines and the platform codec understand each other", "[sdk][handshake]") {
    const auto line = request(5, "m-5", "alice", "client-secret");
    auto parsed = protocol::parse_handshake_request(line);
    REQUIRE(std::holds_alternative<protocol::HandshakeRequest>(parsed));
    const auto& req = std::get<protocol::HandshakeRequest>(parsed);
    CHECK(req.room_id == 5);
    CHECK(req.match_id == "m-5");
    CHECK(req.player_name == "alice");
    CHECK(req.client_token == "client-secret");
    CHECK(req.client_protocol_version == 1);

    // The platform encoder's request is admitted by the SDK validator.
    auto encoded = protocol::encode_handshake_request(req);
    encoded.pop_back();  // '\n'
    auto v = make_validator();
    CHECK(v.validate(encoded).ok);

    sdk::HandshakeDecision refused;
    refused.reason = "invalid client_token";
    auto response = protocol::parse_handshake_response(refused.response().to_line());
    REQUIRE(std::holds_alternative<protocol::HandshakeResponse>(response));
    CHECK_FALSE(std::get<protocol::HandshakeResponse>(response).ok);
    CHECK(std::get<protocol::HandshakeResponse>(response).reason == "invalid client_token");

    protocol::HandshakeResponse accepted;
    accepted.ok = true;
    accepted.assigned_player_index = 1;
    accepted.game_protocol_version = 1;
    auto accepted_line = protocol::encode_handshake_response(accepted);
    accepted_line.pop_back();
    const auto sdk_view = sdk::HandshakeResponse::parse(accepted_line);
    CHECK(sdk_view.ok);
    CHECK(sdk_view.assigned_player_index == 1);
    CHECK(sdk_view.game_protocol_version == 1);
    CHECK_THROWS_AS(sdk::HandshakeResponse::parse(R"({"reason":"x"})"), sdk::HandshakeError);
}

TEST_CASE("constant_time_equal compares whole strings", "[sdk][handshake]") {
    CHECK(sdk::detail::constant_time_equal("secret", "secret"));
    CHECK_FALSE(sdk::detail::constant_time_equal("secret", "secreT"));
    CHECK_FALSE(sdk::detail::constant_time_equal("secret", "secret2"));
    CHECK_FALSE(sdk::detail::constant_time_equal("", "x"));
    CHECK(sdk::detail::constant_time_equal("", ""));
}

TEST_CASE("accept_players admits valid clients over loopback and refuses the rest",
          "[sdk][handshake][integration]") {
    sdk::GameServerSocket listener("127.0.0.1", 0);
    REQUIRE(listener.port() > 0);
    auto validator = make_validator();
    std::vector<std::string> decisions;
    sdk::AcceptOptions options;
    options.timeout = 20s;
    options.handshake_timeout = 300ms;
    options.on_decision = [&](const std::string&, const sdk::HandshakeDecision& d) {
        decisions.push_back(d.ok ? "ok " + d.player_name : "refused " + d.reason);
    };
    auto server = std::async(std::launch::async,
                             [&] { return sdk::accept_players(listener, validator, options); });

    // A silent connection must not hold up the others; it is dropped after
    // handshake_timeout with a reason.
    sdk::LineConnection silent(sdk::connect_tcp("127.0.0.1", listener.port(), 5s));
    auto intruder = sdk::connect_and_handshake(
        "127.0.0.1", listener.port(), client_context("alice", "wrong", listener.port()), 5s);
    CHECK_FALSE(intruder.response.ok);
    CHECK(intruder.response.reason == "invalid client_token");
    auto bob =
        sdk::connect_and_handshake(client_context("bob", "client-secret", listener.port()), 5s);
    CHECK(bob.response.ok);
    CHECK(bob.response.assigned_player_index == 1);
    CHECK(bob.response.game_protocol_version == 1);

    auto dropped = silent.read_line(5s);
    REQUIRE(dropped.ok());
    CHECK_THAT(dropped.line, Catch::Contains("no handshake within 300 ms"));
    CHECK(silent.read_line(5s).status == sdk::ReadStatus::Closed);

    auto alice =
        sdk::connect_and_handshake(client_context("alice", "client-secret", listener.port()), 5s);
    CHECK(alice.response.ok);
    auto result = server.get();
    CHECK(result.status == sdk::AcceptStatus::AllJoined);
    REQUIRE(result.players.size() == 2);
    CHECK(result.players[0].name == "alice");
    CHECK(result.players[1].name == "bob");
    CHECK(result.rejected == 2);

    // The accepted connections are live game connections.
    result.players[1].connection.send_line(R"({"hello":"bob"})");
    auto got = bob.connection.read_line(5s);
    REQUIRE(got.ok());
    CHECK(got.line == R"({"hello":"bob"})");
}

TEST_CASE("A player whose accepted handshake cannot be answered gets the seat back",
          "[sdk][handshake][integration]") {
    sdk::GameServerSocket listener("127.0.0.1", 0);
    sdk::HandshakeValidator validator(5, "m-5", "client-secret", {"alice"});
    // alice's first client sends a valid handshake and is gone with a reset
    // (SO_LINGER 0) before the server even accepts the connection: the
    // server reads the handshake, admits alice, and cannot send {"ok":true}.
    {
        sdk::LineConnection gone(sdk::connect_tcp("127.0.0.1", listener.port(), 5s));
        gone.send_line(request(5, "m-5", "alice", "client-secret"));
        const linger reset{1, 0};
        REQUIRE(::setsockopt(gone.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == 0);
    }
    std::vector<std::string> decisions;
    sdk::AcceptOptions options;
    options.timeout = 20s;
    options.on_decision = [&](const std::string&, const sdk::HandshakeDecision& d) {
        decisions.push_back(d.ok ? "ok " + d.player_name : "refused " + d.reason);
    };
    auto server = std::async(std::launch::async,
                             [&] { return sdk::accept_players(listener, validator, options); });

    // She reconnects: without the release she would be "already joined" for good.
    auto alice =
        sdk::connect_and_handshake(client_context("alice", "client-secret", listener.port()), 5s);
    CHECK(alice.response.ok);
    CHECK(alice.response.reason.empty());
    REQUIRE(server.wait_for(20s) == std::future_status::ready);
    const auto result = server.get();
    CHECK(result.status == sdk::AcceptStatus::AllJoined);
    REQUIRE(result.players.size() == 1);
    CHECK(result.players[0].name == "alice");
    CHECK(result.unanswered == 1);
    CHECK(result.rejected == 0);
    CHECK(decisions == std::vector<std::string>{"ok alice", "ok alice"});
    CHECK(validator.joined_count() == 1);

    // The same holds for a custom admission function with its own release.
    sdk::HandshakeValidator own(5, "m-5", "client-secret", {"alice"});
    std::vector<std::string> released;
    {
        sdk::LineConnection gone(sdk::connect_tcp("127.0.0.1", listener.port(), 5s));
        gone.send_line(request(5, "m-5", "alice", "client-secret"));
        const linger reset{1, 0};
        REQUIRE(::setsockopt(gone.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == 0);
    }
    auto custom = std::async(std::launch::async, [&] {
        return sdk::accept_players(
            listener, 1, [&](std::string_view line) { return own.validate(line); },
            [&](const std::string& player) {
                released.push_back(player);
                own.release(player);
            },
            options);
    });
    auto again =
        sdk::connect_and_handshake(client_context("alice", "client-secret", listener.port()), 5s);
    CHECK(again.response.ok);
    REQUIRE(custom.wait_for(20s) == std::future_status::ready);
    CHECK(custom.get().unanswered == 1);
    CHECK(released == std::vector<std::string>{"alice"});
}

TEST_CASE("accept_players stops when the interrupt fd fires or the timeout passes",
          "[sdk][handshake][integration]") {
    sdk::GameServerSocket listener("127.0.0.1", 0);
    auto validator = make_validator();
    SECTION("interrupt") {
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        sdk::UniqueFd read_end(fds[0]), write_end(fds[1]);
        sdk::AcceptOptions options;
        options.timeout = 30s;
        options.interrupt_fd = read_end.get();
        auto server = std::async(std::launch::async,
                                 [&] { return sdk::accept_players(listener, validator, options); });
        REQUIRE(::write(write_end.get(), "x", 1) == 1);
        REQUIRE(server.wait_for(10s) == std::future_status::ready);
        CHECK(server.get().status == sdk::AcceptStatus::Interrupted);
    }
    SECTION("timeout") {
        sdk::AcceptOptions options;
        options.timeout = 100ms;
        auto result = sdk::accept_players(listener, validator, options);
        CHECK(result.status == sdk::AcceptStatus::TimedOut);
        CHECK(result.players.empty());
    }
}

TEST_CASE("connect_and_handshake names the address when nobody listens",
          "[sdk][handshake][integration]") {
    int port = 0;
    {
        sdk::GameServerSocket probe("127.0.0.1", 0);
        port = probe.port();
    }
    CHECK_THROWS_WITH(
        sdk::connect_and_handshake(client_context("alice", "client-secret", port), 2s),
        Catch::Contains("cannot connect to 127.0.0.1:" + std::to_string(port)) &&
            Catch::Contains("refused"));
}
