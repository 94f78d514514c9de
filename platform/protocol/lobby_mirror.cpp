#include "platform/protocol/lobby_mirror.hpp"

#include <optional>

namespace gamestore::protocol {

using nlohmann::json;

namespace {

std::optional<std::uint64_t> seq_of(const json& data) {
    if (!data.is_object()) {
        return std::nullopt;
    }
    const auto it = data.find("seq");
    if (it == data.end() || !it->is_number_integer()) {
        return std::nullopt;
    }
    if (!it->is_number_unsigned() && it->get<std::int64_t>() < 0) {
        return std::nullopt;
    }
    return it->get<std::uint64_t>();
}

std::optional<std::int64_t> room_id_of(const json& room) {
    if (!room.is_object()) {
        return std::nullopt;
    }
    const auto it = room.find("room_id");
    if (it == room.end() || !it->is_number_integer()) {
        return std::nullopt;
    }
    return it->get<std::int64_t>();
}

std::optional<std::string> name_of(const json& player) {
    if (!player.is_object()) {
        return std::nullopt;
    }
    const auto it = player.find("name");
    if (it == player.end() || !it->is_string()) {
        return std::nullopt;
    }
    return it->get<std::string>();
}

}  // namespace

bool is_lobby_delta(std::string_view event) {
    return event == kLobbyRoomAdded || event == kLobbyRoomChanged || event == kLobbyRoomRemoved ||
           event == kLobbyPlayerAdded || event == kLobbyPlayerChanged ||
           event == kLobbyPlayerRemoved;
}

MirrorStep LobbyMirror::apply_delta(std::string_view event, const json& data) {
    if (!is_lobby_delta(event)) {
        return MirrorStep::Malformed;
    }
    const auto seq = seq_of(data);
    if (!seq) {
        return MirrorStep::Malformed;
    }
    if (!synced_) {
        return MirrorStep::Unsynced;
    }
    if (*seq <= seq_) {
        return MirrorStep::Stale;
    }
    if (*seq != seq_ + 1) {
        synced_ = false;
        return MirrorStep::Gap;
    }
    // Added and changed both carry the whole row and replace it: a row is
    // never patched field by field, so a copy cannot drift.
    if (event == kLobbyRoomAdded || event == kLobbyRoomChanged) {
        const auto room = data.find("room");
        const auto id = room == data.end() ? std::nullopt : room_id_of(*room);
        if (!id) {
            return MirrorStep::Malformed;
        }
        rooms_[*id] = *room;
    } else if (event == kLobbyRoomRemoved) {
        const auto id = room_id_of(data);
        if (!id) {
            return MirrorStep::Malformed;
        }
        rooms_.erase(*id);
    } else if (event == kLobbyPlayerAdded || event == kLobbyPlayerChanged) {
        const auto player = data.find("player");
        const auto name = player == data.end() ? std::nullopt : name_of(*player);
        if (!name) {
            return MirrorStep::Malformed;
        }
        players_[*name] = *player;
    } else {
        const auto name = name_of(data);
        if (!name) {
            return MirrorStep::Malformed;
        }
        players_.erase(*name);
    }
    seq_ = *seq;
    return MirrorStep::Applied;
}

bool LobbyMirror::apply_snapshot(const json& data) {
    const auto seq = seq_of(data);
    if (!seq || !data.contains("rooms") || !data.at("rooms").is_array() ||
        !data.contains("players") || !data.at("players").is_array()) {
        return false;
    }
    std::map<std::int64_t, json> rooms;
    for (const auto& room : data.at("rooms")) {
        const auto id = room_id_of(room);
        if (!id) {
            return false;
        }
        rooms[*id] = room;
    }
    std::map<std::string, json> players;
    for (const auto& player : data.at("players")) {
        const auto name = name_of(player);
        if (!name) {
            return false;
        }
        players[*name] = player;
    }
    rooms_ = std::move(rooms);
    players_ = std::move(players);
    seq_ = *seq;
    synced_ = true;
    return true;
}

void LobbyMirror::reset() {
    rooms_.clear();
    players_.clear();
    seq_ = 0;
    synced_ = false;
}

json LobbyMirror::to_snapshot() const {
    json rooms = json::array();
    for (const auto& [id, room] : rooms_) {
        rooms.push_back(room);
    }
    json players = json::array();
    for (const auto& [name, player] : players_) {
        players.push_back(player);
    }
    return {{"seq", seq_}, {"rooms", std::move(rooms)}, {"players", std::move(players)}};
}

}  // namespace gamestore::protocol
