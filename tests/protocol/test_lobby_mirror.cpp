#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
