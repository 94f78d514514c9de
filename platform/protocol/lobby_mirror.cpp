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

// A forward-only reader over one line: just enough JSON to find members by
// name and step over the values it does not want.
class LineScanner {
  public:
    explicit LineScanner(std::string_view text) : text_(text) {}

    void skip_blanks() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                       text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }
    bool at_end() {
        skip_blanks();
        return pos_ == text_.size();
    }
    bool take(char c) {
        skip_blanks();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    // A string's raw text between its quotes (escapes left as they are);
    // `escaped` says whether there were any.
    std::optional<std::string_view> string(bool& escaped) {
        escaped = false;
        if (!take('"')) {
            return std::nullopt;
        }
        const auto start = pos_;
        while (pos_ < text_.size()) {
            const char c = text_[pos_];
            if (c == '"') {
                return text_.substr(start, pos_++ - start);
            }
            if (c == '\\') {
                escaped = true;
                ++pos_;
            }
            ++pos_;
        }
        return std::nullopt;
    }
    // Steps over one value of any kind; false if the line ends inside it.
    bool skip_value() {
        skip_blanks();
        if (pos_ >= text_.size()) {
            return false;
        }
        const char first = text_[pos_];
        if (first == '"') {
            bool escaped = false;
            return string(escaped).has_value();
        }
        if (first == '{' || first == '[') {
            std::size_t depth = 0;
            while (pos_ < text_.size()) {
                const char c = text_[pos_];
                if (c == '"') {
                    bool escaped = false;
                    if (!string(escaped)) {
                        return false;
                    }
                    continue;
                }
                ++pos_;
                if (c == '{' || c == '[') {
                    ++depth;
                } else if ((c == '}' || c == ']') && --depth == 0) {
                    return true;
                }
            }
            return false;
        }
        // A number, true, false or null: up to the next delimiter.
        const auto start = pos_;
        while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '}' &&
               text_[pos_] != ']' && text_[pos_] != ' ' && text_[pos_] != '\t' &&
               text_[pos_] != '\n' && text_[pos_] != '\r') {
            ++pos_;
        }
        return pos_ > start;
    }
    // A plain non-negative integer (digits only, no sign, fraction or
    // exponent) that fits 64 bits.
    std::optional<std::uint64_t> unsigned_integer() {
        skip_blanks();
        const auto start = pos_;
        std::uint64_t value = 0;
        while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
            const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
            if (value > (UINT64_MAX - digit) / 10) {
                return std::nullopt;
            }
            value = value * 10 + digit;
            ++pos_;
        }
        if (pos_ == start || (pos_ - start > 1 && text_[start] == '0')) {
            return std::nullopt;
        }
        if (pos_ < text_.size() &&
            (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
            return std::nullopt;
        }
        return value;
    }

    // Walks the members of an object, handing each member's raw name to
    // `on_member`, which must consume the value; false if the object is
    // not well formed as far as it was read, or `on_member` said so.
    template <class OnMember>
    bool members(OnMember&& on_member) {
        if (!take('{')) {
            return false;
        }
        if (take('}')) {
            return true;
        }
        do {
            bool escaped = false;
            const auto name = string(escaped);
            if (!name || !take(':')) {
                return false;
            }
            // An escaped name is never one looked for: passed as "" so the
            // value is skipped.
            if (!on_member(escaped ? std::string_view() : *name)) {
                return false;
            }
        } while (take(','));
        return take('}');
    }

  private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

}  // namespace

std::optional<DeltaNumber> scan_lobby_delta(std::string_view line) {
    LineScanner scan(line);
    std::string_view event;
    bool has_event = false;
    std::uint64_t seq = 0;
    bool has_seq = false;
    bool shaped = true;
    const bool whole = scan.members([&](std::string_view name) {
        if (name == "event") {
            bool escaped = false;
            const auto text = scan.string(escaped);
            has_event = text.has_value() && !escaped;
            shaped = shaped && has_event;
            event = text.value_or(std::string_view());
            return text.has_value();
        }
        if (name == "data") {
            has_seq = false;
            return scan.members([&](std::string_view field) {
                if (field != "seq") {
                    return scan.skip_value();
                }
                const auto number = scan.unsigned_integer();
                has_seq = number.has_value();
                if (!has_seq) {
                    shaped = false;
                    return scan.skip_value();
                }
                seq = *number;
                return true;
            });
        }
        return scan.skip_value();
    });
    if (!whole || !shaped || !scan.at_end() || !has_event || !has_seq || !is_lobby_delta(event)) {
        return std::nullopt;
    }
    return DeltaNumber{event, seq};
}

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
