#pragma once
// The lobby as deltas (docs/PROTOCOL.md "Lobby deltas"): the event names, and
// LobbyMirror, a client's copy of the lobby's rooms and players built from a
// `lobby.snapshot` and the numbered delta events that follow it.
//
// Every delta carries the lobby sequence number `seq`, one more than the
// delta before it. The mirror applies a delta only when it is the next one;
// an older one is stale (already in the snapshot it was built from), a newer
// one means deltas were missed (a gap): the mirror stops applying and the
// client asks for a snapshot again. Responses and events travel on one
// ordered stream, so every delta up to the snapshot's `seq` arrives before
// the snapshot and every later one after it.
//
// Pure: no I/O, no clock. The client decides when to ask for a snapshot.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gamestore::protocol {

inline constexpr std::string_view kLobbyRoomAdded = "lobby.room_added";
inline constexpr std::string_view kLobbyRoomChanged = "lobby.room_changed";
inline constexpr std::string_view kLobbyRoomRemoved = "lobby.room_removed";
inline constexpr std::string_view kLobbyPlayerAdded = "lobby.player_added";
inline constexpr std::string_view kLobbyPlayerChanged = "lobby.player_changed";
inline constexpr std::string_view kLobbyPlayerRemoved = "lobby.player_removed";

// Whether `event` is one of the six lobby delta events.
bool is_lobby_delta(std::string_view event);

// Where a lobby delta stands in the sequence, read from its line without
// building a JSON document.
struct DeltaNumber {
    std::string_view event;  // one of the six names, a view into the line
    std::uint64_t seq = 0;
};

// The event name and `data.seq` of a server line shaped like a lobby delta,
// `{"event":"lobby.…","data":{…,"seq":N,…}}` (members in any order, blanks
// allowed, the last of a repeated member counts, as for the full parser).
// nullopt when the line is not a lobby delta or not shaped like one (an
// escaped name, a seq that is not a plain non-negative integer): parse it
// the usual way then. The rows are skipped, not validated, so this serves a
// client that only checks the numbering; one that keeps the rows parses.
std::optional<DeltaNumber> scan_lobby_delta(std::string_view line);

enum class MirrorStep {
    Applied,    // the next delta: the mirror is at its seq now
    Stale,      // seq at or before the mirror's: already included, dropped
    Unsynced,   // no snapshot yet (or one is awaited after a gap): dropped
    Gap,        // deltas were missed: the mirror is unsynced until a snapshot
    Malformed,  // not a lobby delta, or its data lacks seq or the row: dropped
};

class LobbyMirror {
  public:
    // Applies one delta event (name and data as received).
    MirrorStep apply_delta(std::string_view event, const nlohmann::json& data);
    // Replaces everything with a `lobby.snapshot` answer {seq, rooms, players};
    // false (and unchanged) if it is not one.
    bool apply_snapshot(const nlohmann::json& data);
    // Forget everything and wait for a snapshot (a new connection).
    void reset();

    bool synced() const { return synced_; }
    std::uint64_t seq() const { return seq_; }
    const std::map<std::int64_t, nlohmann::json>& rooms() const { return rooms_; }
    const std::map<std::string, nlohmann::json>& players() const { return players_; }
    // {seq, rooms (by room_id), players (by name)}: the shape of a snapshot
    // answer, so a mirror compares equal to a fresh snapshot of the same seq.
    nlohmann::json to_snapshot() const;

  private:
    std::map<std::int64_t, nlohmann::json> rooms_;
    std::map<std::string, nlohmann::json> players_;
    std::uint64_t seq_ = 0;
    bool synced_ = false;
};

}  // namespace gamestore::protocol
