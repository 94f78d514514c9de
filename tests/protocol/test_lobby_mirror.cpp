#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/protocol/lobby.hpp"
#include "platform/protocol/lobby_mirror.hpp"

using namespace gamestore::protocol;
using nlohmann::json;

namespace {

struct Delta {
    std::string event;
    json data;
};

// A lobby that changes at random and numbers its deltas the way the server
// does: the reference a mirror is compared with.
class ModelLobby {
  public:
    explicit ModelLobby(std::uint32_t seed) : rng_(seed) {}

    Delta churn() {
        std::uniform_int_distribution<int> pick(0, 5);
        for (;;) {
            switch (pick(rng_)) {
                case 0: {
                    const std::int64_t id = next_room_++;
                    rooms_[id] = room(id, 0);
                    return emit(std::string(kLobbyRoomAdded), {{"room", rooms_[id]}});
                }
                case 1:
                    if (rooms_.empty())
                        break;
                    {
                        auto& [id, row] = nth(rooms_);
                        row = room(id, row.at("player_count").get<int>() + 1);
                        return emit(std::string(kLobbyRoomChanged), {{"room", row}});
                    }
                case 2:
                    if (rooms_.empty())
                        break;
                    {
                        const auto id = nth(rooms_).first;
                        rooms_.erase(id);
                        return emit(std::string(kLobbyRoomRemoved), {{"room_id", id}});
                    }
                case 3: {
                    const std::string name = "p" + std::to_string(next_player_++);
                    players_[name] = {{"name", name}, {"room_id", nullptr}, {"state", "idle"}};
                    return emit(std::string(kLobbyPlayerAdded), {{"player", players_[name]}});
                }
                case 4:
                    if (players_.empty() || rooms_.empty())
                        break;
                    {
                        auto& [name, row] = nth(players_);
                        row = {{"name", name},
                               {"room_id", nth(rooms_).first},
                               {"state", "in_room"},
                               {"connected", true}};
                        return emit(std::string(kLobbyPlayerChanged), {{"player", row}});
                    }
                case 5:
                    if (players_.empty())
                        break;
                    {
                        const auto name = nth(players_).first;
                        players_.erase(name);
                        return emit(std::string(kLobbyPlayerRemoved), {{"name", name}});
                    }
            }
        }
    }

    json snapshot() const {
        json rooms = json::array();
        for (const auto& [id, row] : rooms_)
            rooms.push_back(row);
        json players = json::array();
        for (const auto& [name, row] : players_)
            players.push_back(row);
        return {{"seq", seq_}, {"rooms", rooms}, {"players", players}};
    }

  private:
    static json room(std::int64_t id, int count) {
        return {{"room_id", id},
                {"game", "g"},
                {"state", "WAITING"},
                {"player_count", count},
                {"members", json::array()}};
    }
    template <class Map>
    typename Map::value_type& nth(Map& map) {
        std::uniform_int_distribution<std::size_t> index(0, map.size() - 1);
        auto it = map.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(index(rng_)));
        return *it;
    }
    Delta emit(std::string event, json data) {
        data["seq"] = ++seq_;
        return Delta{std::move(event), std::move(data)};
    }

    std::mt19937 rng_;
    std::map<std::int64_t, json> rooms_;
    std::map<std::string, json> players_;
    std::uint64_t seq_ = 0;
    std::int64_t next_room_ = 1;
    int next_player_ = 1;
};

}  // namespace

TEST_CASE("lobby mirror: deltas after random churn equal a fresh snapshot",
          "[protocol][lobby_mirror]") {
    const std::uint32_t seed = GENERATE(1u, 7u, 20261205u);
    INFO("seed " << seed);
    ModelLobby lobby(seed);
    for (int i = 0; i < 50; ++i)
        lobby.churn();

    LobbyMirror mirror;
    // Before its snapshot a new client drops what it is sent.
    const auto early = lobby.churn();
    CHECK(mirror.apply_delta(early.event, early.data) == MirrorStep::Unsynced);
    REQUIRE(mirror.apply_snapshot(lobby.snapshot()));
    for (int i = 0; i < 2000; ++i) {
        const auto delta = lobby.churn();
        REQUIRE(mirror.apply_delta(delta.event, delta.data) == MirrorStep::Applied);
    }
    CHECK(mirror.to_snapshot() == lobby.snapshot());
}

TEST_CASE("lobby mirror: a client with a gap resynchronises from a snapshot",
          "[protocol][lobby_mirror]") {
    const std::uint32_t seed = GENERATE(3u, 11u, 424242u);
    INFO("seed " << seed);
    ModelLobby lobby(seed);
    LobbyMirror mirror;
    REQUIRE(mirror.apply_snapshot(lobby.snapshot()));
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> lost(1, 20);
    for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 30; ++i) {
            const auto delta = lobby.churn();
            REQUIRE(mirror.apply_delta(delta.event, delta.data) == MirrorStep::Applied);
        }
        for (int i = lost(rng); i > 0; --i)
            lobby.churn();  // never delivered
        const auto after_gap = lobby.churn();
        REQUIRE(mirror.apply_delta(after_gap.event, after_gap.data) == MirrorStep::Gap);
        CHECK_FALSE(mirror.synced());
        // Deltas sent before the server answers the snapshot request are in
        // the snapshot; the mirror drops them.
        const auto in_flight = lobby.churn();
        CHECK(mirror.apply_delta(in_flight.event, in_flight.data) == MirrorStep::Unsynced);
        REQUIRE(mirror.apply_snapshot(lobby.snapshot()));
        CHECK(mirror.apply_delta(in_flight.event, in_flight.data) == MirrorStep::Stale);
        CHECK(mirror.to_snapshot() == lobby.snapshot());
    }
}

TEST_CASE("lobby mirror: malformed deltas and snapshots change nothing",
          "[protocol][lobby_mirror]") {
    LobbyMirror mirror;
    CHECK_FALSE(mirror.apply_snapshot(json::object()));
    CHECK_FALSE(
        mirror.apply_snapshot({{"seq", -1}, {"rooms", json::array()}, {"players", json::array()}}));
    CHECK_FALSE(mirror.apply_snapshot(
        {{"seq", 1}, {"rooms", {{{"game", "x"}}}}, {"players", json::array()}}));
    CHECK_FALSE(mirror.synced());
    REQUIRE(
        mirror.apply_snapshot({{"seq", 4}, {"rooms", json::array()}, {"players", json::array()}}));
    CHECK(mirror.apply_delta("room.updated", {{"seq", 5}}) == MirrorStep::Malformed);
    CHECK(mirror.apply_delta(kLobbyRoomAdded, {{"seq", "5"}}) == MirrorStep::Malformed);
    CHECK(mirror.apply_delta(kLobbyRoomAdded, {{"seq", 5}, {"room", {{"room_id", "one"}}}}) ==
          MirrorStep::Malformed);
    CHECK(mirror.apply_delta(kLobbyPlayerRemoved, {{"seq", 5}}) == MirrorStep::Malformed);
    CHECK(mirror.seq() == 4);
    CHECK(mirror.apply_delta(kLobbyPlayerAdded, {{"seq", 5}, {"player", {{"name", "ana"}}}}) ==
          MirrorStep::Applied);
    CHECK(mirror.players().count("ana") == 1);
    CHECK(is_lobby_delta("lobby.room_changed"));
    CHECK_FALSE(is_lobby_delta("lobby.updated"));
}

TEST_CASE("scan_lobby_delta reads the name and seq the full parser reads",
          "[protocol][lobby][unit]") {
    const std::uint32_t seed = 42;
    INFO("seed " << seed);
    ModelLobby lobby(seed);
    for (int i = 0; i < 500; ++i) {
        const auto delta = lobby.churn();
        const auto line = encode_event(delta.event, delta.data);
        const auto scanned = scan_lobby_delta(line);
        REQUIRE(scanned);
        CHECK(scanned->event == delta.event);
        CHECK(scanned->seq == delta.data.at("seq").get<std::uint64_t>());
    }
}

TEST_CASE("scan_lobby_delta: members in any order, blanks, strings that look like members",
          "[protocol][lobby][unit]") {
    const auto scanned = scan_lobby_delta(
        " { \"data\" : { \"seq\" : 7 , \"room\" : {\"game\":\"x\\\"seq\\\":9 "
        "{[\",\"members\":[{\"seq\":3}],"
        "\"n\":-1.5e3,\"t\":true,\"z\":null} } , \"event\" : \"lobby.room_changed\" }\r\n");
    REQUIRE(scanned);
    CHECK(scanned->event == "lobby.room_changed");
    CHECK(scanned->seq == 7);
    // A repeated member: the last counts, as for the full parser.
    const auto twice = scan_lobby_delta(
        R"({"event":"room.updated","event":"lobby.player_removed","data":{"seq":1,"seq":2}})");
    REQUIRE(twice);
    CHECK(twice->event == "lobby.player_removed");
    CHECK(twice->seq == 2);
    CHECK(scan_lobby_delta(
              R"({"event":"lobby.room_removed","data":{"room_id":1,"seq":18446744073709551615}})")
              ->seq == UINT64_MAX);
}

TEST_CASE("scan_lobby_delta leaves to the full parser what is not a plainly numbered delta",
          "[protocol][lobby][unit]") {
    for (const std::string line : {
             R"({"event":"room.updated","data":{"seq":1}})",            // another event
             R"({"id":1,"ok":true,"data":{"seq":1}})",                  // a response
             R"({"event":"lobby.room_removed","data":{"room_id":1}})",  // no seq
             R"({"event":"lobby.room_removed","data":{"seq":-1}})",     // negative
             R"({"event":"lobby.room_removed","data":{"seq":1.0}})",    // not an integer
             R"({"event":"lobby.room_removed","data":{"seq":2e3}})",    // exponent
             R"({"event":"lobby.room_removed","data":{"seq":01}})",     // leading zero
             R"({"event":"lobby.room_removed","data":{"seq":"1"}})",    // a string
             R"({"event":"lobby.room_removed","data":{"seq":18446744073709551616}})",  // too big
             R"({"event":"lobby.room_remov\u0065d","data":{"seq":1}})",  // escaped name
             R"({"event":"lobby.room_removed","data":{"s\u0065q":1}})",  // escaped member
             R"({"event":"lobby.room_removed","data":null})",
             R"({"event":"lobby.room_removed","data":{"seq":1})",  // cut short
             R"({"event":"lobby.room_removed","data":{"seq":1,"room":{"a":"}}})",
             R"({"event":"lobby.room_removed","data":{"seq":1}} trailing)",
             R"(["event","lobby.room_removed"])",
             "",
             "{",
         }) {
        INFO(line);
        CHECK_FALSE(scan_lobby_delta(line));
    }
}
