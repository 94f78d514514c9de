// Rooms: membership, readiness, host hand-over, views and events. The match
// lifecycle is in match_lifecycle.cpp; the ops that call into both are in
// room_ops.cpp.

#include "platform/server/room_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "platform/protocol/lobby_mirror.hpp"
#include "platform/protocol/text.hpp"
#include "platform/server/lobby_error.hpp"
#include "platform/server/lobby_session.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
using nlohmann::json;
using protocol::ErrorCode;

std::string_view to_string(RoomState state) {
    switch (state) {
        case RoomState::Waiting:
            return "WAITING";
        case RoomState::Starting:
            return "STARTING";
        case RoomState::InGame:
            return "IN_GAME";
        case RoomState::Ending:
            return "ENDING";
    }
    return "WAITING";
}

std::array<std::size_t, 4> RoomService::rooms_by_state() const {
    std::array<std::size_t, 4> counts{};
    for (const auto& [id, room] : rooms_) {
        ++counts[static_cast<std::size_t>(room.state)];
    }
    return counts;
}

json RoomService::admin_view() const {
    const auto now = std::chrono::steady_clock::now();
    const auto seconds_since = [now](std::chrono::steady_clock::time_point at) {
        return std::chrono::duration<double>(now - at).count();
    };
    json rooms = json::array();
    for (const auto& [id, room] : rooms_) {
        json view = public_view(room);
        if (room.match && !room.match->terminal) {
            const auto& match = *room.match;
            view["match"] = {{"match_id", match.match_id},
                             {"pid", match.pid},
                             {"port", match.port},
                             {"age_seconds", seconds_since(match.launched_at)},
                             {"started", match.started}};
            if (match.started) {
                view["match"]["last_heartbeat_seconds"] = seconds_since(match.last_heartbeat);
            }
        }
        if (!services_.config.node_id.empty()) {
            view["node"] = services_.config.node_id;
        }
        rooms.push_back(std::move(view));
    }
    // A cluster node also lists the other nodes' rooms, as the shared lobby
    // has them (their processes are those nodes' to show and stop).
    for (const auto& [node, part] : remote_lobby_) {
        for (const auto& [id, row] : part.rooms) {
            json view = row;
            view["node"] = node;
            view["remote"] = true;
            rooms.push_back(std::move(view));
        }
    }
    return rooms;
}

bool RoomService::admin_stop_match(std::int64_t room_id) {
    const auto found = rooms_.find(room_id);
    if (found == rooms_.end() || !found->second.match || found->second.match->terminal) {
        return false;
    }
    auto& room = found->second;
    return finish(room, room.match->match_id, store::MatchStatus::Aborted, "stopped by the admin",
                  nullptr);
}

std::uint64_t MatchCounters::rejected_reports() const {
    std::uint64_t total = 0;
    for (const auto reason : protocol::kReportRefusals) {
        if (reason != protocol::ReportRefusal::StaleMatch &&
            reason != protocol::ReportRefusal::WrongToken) {
            total += refusals(reason);
        }
    }
    return total;
}

RoomService::RoomService(PlatformServices& services, MatchHost& host, RoomTuning tuning)
    : services_(services),
      host_(host),
      tuning_(tuning),
      watchdog_(services.lobby.io()),
      lobby_update_(services.lobby.io()),
      lobby_fanout_(services.lobby.io()) {}

Room& RoomService::require_room(std::int64_t room_id) {
    const auto it = rooms_.find(room_id);
    if (it == rooms_.end()) {
        // A room of the shared lobby that lives on another node: its
        // operations are that node's (docs/SCALING.md, "Redirects").
        if (const auto node = room_node(room_id); node && node_address_) {
            if (const auto address = node_address_(*node)) {
                throw LobbyError(ErrorCode::Moved,
                                 "room " + std::to_string(room_id) + " is on node " + *node + " (" +
                                     *address + "); connect there",
                                 {{"node_id", *node}, {"address", *address}, {"room_id", room_id}});
            }
        }
        throw LobbyError(ErrorCode::NotFound, "there is no room " + std::to_string(room_id));
    }
    return it->second;
}

namespace {

// The entry of `account`, who must be a member of `room`.
RoomMember& member_entry(Room& room, store::AccountId account) {
    return *std::find_if(room.members.begin(), room.members.end(),
                         [&](const RoomMember& m) { return m.account_id == account; });
}

}  // namespace

bool has_member(const Room& room, store::AccountId account) {
    return std::any_of(room.members.begin(), room.members.end(),
                       [&](const RoomMember& m) { return m.account_id == account; });
}

const Room* RoomService::room_of(store::AccountId account) const {
    for (const auto& [id, room] : rooms_) {
        if (has_member(room, account)) {
            return &room;
        }
    }
    return nullptr;
}

Room* RoomService::room_of(store::AccountId account) {
    return const_cast<Room*>(std::as_const(*this).room_of(account));
}

json RoomService::public_view(const Room& room) const {
    json members = json::array();
    std::string host_name;
    for (const auto& member : room.members) {
        if (member.account_id == room.host) {
            host_name = member.name;
        }
        members.push_back({{"name", member.name},
                           {"ready", member.ready},
                           {"host", member.account_id == room.host},
                           {"connected", member.connected}});
    }
    json view = {{"room_id", room.id},
                 {"game", room.game_name},
                 {"version", room.version},
                 {"type", std::string(packages::to_string(room.manifest.type))},
                 {"state", std::string(to_string(room.state))},
                 {"host", host_name},
                 {"members", std::move(members)},
                 {"player_count", room.members.size()},
                 {"min_players", room.manifest.min_players},
                 {"max_players", room.manifest.max_players}};
    // match_id is correlation, not a secret: visible from STARTING on.
    if (room.match) {
        view["match_id"] = room.match->match_id;
    }
    return view;
}

json RoomService::member_view(const Room& room, const LobbySession& session) const {
    json view = public_view(room);
    // Launch information exists only in IN_GAME, only for members: the
    // platform guarantees IN_GAME => the server is ready and has these.
    if (room.state == RoomState::InGame && room.match && room.match->started) {
        const auto& config = services_.config;
        std::string host =
            config.advertise_host.empty() ? session.local_address() : config.advertise_host;
        if (host.empty() || host == "0.0.0.0" || host == "::") {
            host = "127.0.0.1";
        }
        view["launch"] = {{"host", host},
                          {"port", room.match->port},
                          {"client_token", room.match->client_token},
                          {"match_id", room.match->match_id},
                          {"room_id", room.id}};
    }
    if (!room.last_error.empty()) {
        view["last_error"] = room.last_error;
    }
    if (!room.last_result.is_null()) {
        view["last_result"] = room.last_result;
    }
    return view;
}

void RoomService::for_each_member_session(const Room& room,
                                          const std::function<void(LobbySession&)>& fn) {
    services_.lobby.for_each_session([&](LobbySession& session) {
        const auto& who = session.signed_in();
        if (who && who->role == AccountRole::Player && has_member(room, who->account_id)) {
            fn(session);
        }
    });
}

void RoomService::send_to_members(const Room& room, std::string_view event, const json& data) {
    for_each_member_session(room, [&](LobbySession& session) { session.push_event(event, data); });
}

void RoomService::publish_room(const Room& room) {
    for_each_member_session(room, [&](LobbySession& session) {
        session.push_event("room.updated", member_view(room, session));
    });
    mark_room(room.id);
}

json RoomService::lobby_rooms() const {
    json rooms = json::array();
    for (const auto& [id, room] : rooms_) {
        rooms.push_back(public_view(room));
    }
    return rooms;
}

std::map<std::string, json> RoomService::player_rows(const std::set<std::string>* only) const {
    const auto wanted = [only](const std::string& name) { return !only || only->count(name) > 0; };
    // One row per signed-in player account, however many connections it has.
    std::map<std::string, json> players;
    services_.lobby.for_each_session([&](LobbySession& session) {
        const auto& who = session.signed_in();
        if (!who || who->role != AccountRole::Player || !wanted(who->name) ||
            players.count(who->name)) {
            return;
        }
        players[who->name] = {{"name", who->name}, {"room_id", nullptr}, {"state", "idle"}};
    });
    for (const auto& [id, room] : rooms_) {
        for (const auto& member : room.members) {
            if (!wanted(member.name)) {
                continue;
            }
            auto& row = players[member.name];
            if (row.is_null()) {
                row = {{"name", member.name}};
            }
            row["room_id"] = room.id;
            const bool playing =
                room.match && room.state != RoomState::Waiting &&
                std::any_of(room.match->players.begin(), room.match->players.end(),
                            [&](const RoomMember& p) { return p.account_id == member.account_id; });
            row["state"] = playing ? "playing" : "in_room";
            row["connected"] = member.connected;
        }
    }
    return players;
}

json RoomService::lobby_players() const {
    json list = json::array();
    for (auto& [name, row] : player_rows(nullptr)) {
        list.push_back(std::move(row));
    }
    return list;
}

json RoomService::lobby_snapshot() const {
    json rooms = json::array();
    for (const auto& [id, room] : published_rooms_) {
        rooms.push_back(room);
    }
    json players = json::array();
    for (const auto& [name, player] : published_players_) {
        players.push_back(player);
    }
    return {
        {"seq", lobby_counters_.seq}, {"rooms", std::move(rooms)}, {"players", std::move(players)}};
}

void RoomService::mark_room(std::int64_t room_id) {
    dirty_rooms_.insert(room_id);
    if (const auto it = rooms_.find(room_id); it != rooms_.end()) {
        for (const auto& member : it->second.members) {
            dirty_players_.insert(member.name);
        }
    }
    // Whoever the clients last saw in the room: a member who left has a new row too.
    if (const auto it = published_rooms_.find(room_id); it != published_rooms_.end()) {
        for (const auto& member : it->second.at("members")) {
            dirty_players_.insert(member.at("name").get<std::string>());
        }
    }
    schedule_lobby_flush();
}

std::optional<json> RoomService::remote_room(std::int64_t room_id) const {
    for (const auto& [node, part] : remote_lobby_) {
        if (const auto found = part.rooms.find(room_id); found != part.rooms.end()) {
            return found->second;
        }
    }
    return std::nullopt;
}

std::optional<json> RoomService::merged_player(const std::string& name,
                                               const std::optional<json>& local) const {
    // The same account on two nodes (two terminals) is one row: in a room
    // if either says so, else as this node sees it.
    const auto in_room = [](const json& row) {
        return row.contains("room_id") && !row["room_id"].is_null();
    };
    if (local && in_room(*local)) {
        return local;
    }
    std::optional<json> other;
    for (const auto& [node, part] : remote_lobby_) {
        if (const auto found = part.players.find(name); found != part.players.end()) {
            if (in_room(found->second)) {
                return found->second;
            }
            other = found->second;
        }
    }
    return local ? local : other;
}

std::optional<std::string> RoomService::room_node(std::int64_t room_id) const {
    for (const auto& [node, part] : remote_lobby_) {
        if (part.rooms.count(room_id)) {
            return node;
        }
    }
    return std::nullopt;
}

void RoomService::apply_remote_lobby(const std::string& node_id, bool reset,
                                     const std::vector<LobbyItem>& items) {
    auto& part = remote_lobby_[node_id];
    if (reset) {
        for (const auto& [id, row] : part.rooms) {
            dirty_rooms_.insert(id);
        }
        for (const auto& [name, row] : part.players) {
            dirty_players_.insert(name);
        }
        part.rooms.clear();
        part.players.clear();
    }
    for (const auto& change : items) {
        std::optional<json> row;
        if (change.row_json) {
            auto parsed = json::parse(*change.row_json, nullptr, false);
            if (!parsed.is_object()) {
                spdlog::warn("cluster: node '{}' shared a lobby row that is not JSON ({}); ignored",
                             node_id, change.item);
                continue;
            }
            row = std::move(parsed);
        }
        if (change.item.rfind("room:", 0) == 0) {
            std::int64_t id = 0;
            try {
                id = std::stoll(change.item.substr(5));
            } catch (const std::exception&) {
                continue;
            }
            if (row) {
                part.rooms[id] = std::move(*row);
            } else {
                part.rooms.erase(id);
            }
            dirty_rooms_.insert(id);
        } else if (change.item.rfind("player:", 0) == 0) {
            const auto name = change.item.substr(7);
            if (row) {
                part.players[name] = std::move(*row);
            } else {
                part.players.erase(name);
            }
            dirty_players_.insert(name);
        }
    }
    if (part.rooms.empty() && part.players.empty()) {
        remote_lobby_.erase(node_id);
    }
    // Already batched by their node: pushed at once rather than after a
    // window of this node's own (5 ms still gathers several nodes' changes).
    schedule_lobby_flush(std::chrono::milliseconds(5));
}

void RoomService::share_lobby(std::function<void(std::vector<LobbyItem>)> share) {
    share_lobby_ = std::move(share);
    shared_rows_.clear();
    // Everything this node has, as if it had all just changed.
    for (const auto& [id, room] : rooms_) {
        dirty_rooms_.insert(id);
    }
    for (const auto& [name, row] : player_rows(nullptr)) {
        dirty_players_.insert(name);
    }
    schedule_lobby_flush();
}

void RoomService::mark_player(const std::string& name) {
    dirty_players_.insert(name);
    schedule_lobby_flush();
}

void RoomService::schedule_lobby_flush(std::chrono::milliseconds within) {
    // Coalesce bursts (a match ending touches several rows) into one batch;
    // a batch already due sooner takes these changes too.
    const auto due = std::chrono::steady_clock::now() + within;
    if (lobby_update_pending_ && lobby_update_.expiry() <= due) {
        return;
    }
    lobby_update_pending_ = true;
    lobby_update_.expires_at(due);  // a later wait still pending ends as aborted
    lobby_update_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            lobby_update_pending_ = false;
            flush_lobby();
        }
    });
}

void RoomService::flush_lobby() {
    if (fanout_batch_) {
        // The last batch has not reached every connection yet; this one
        // follows it once it has, so each connection gets them in order.
        flush_after_fanout_ = true;
        return;
    }
    // Every delta of the batch is encoded once; the batch is one string that
    // each watching connection queues by reference.
    std::string lines;
    const auto emit = [&](std::string_view event, json data) {
        data["seq"] = ++lobby_counters_.seq;
        lines += protocol::encode_event(event, data);
    };
    // On a cluster node, this node's own rows also go to the others, and
    // the lobby clients see is this node's rows merged with theirs.
    std::vector<LobbyItem> shared;
    const auto share = [&](std::map<std::string, json>& last, const std::string& item,
                           const std::optional<json>& local) {
        if (!share_lobby_) {
            return;
        }
        const auto known = last.find(item);
        if (!local) {
            if (known != last.end()) {
                last.erase(known);
                shared.push_back({item, std::nullopt});
            }
        } else if (known == last.end() || known->second != *local) {
            last[item] = *local;
            shared.push_back({item, local->dump()});
        }
    };
    for (const auto id : dirty_rooms_) {
        const auto live = rooms_.find(id);
        const auto published = published_rooms_.find(id);
        std::optional<json> local;
        if (live != rooms_.end()) {
            local = public_view(live->second);
        }
        share(shared_rows_, "room:" + std::to_string(id), local);
        std::optional<json> current = local ? local : remote_room(id);
        if (!current) {
            if (published != published_rooms_.end()) {
                published_rooms_.erase(published);
                emit(protocol::kLobbyRoomRemoved, {{"room_id", id}});
            }
            continue;
        }
        json view = std::move(*current);
        if (published == published_rooms_.end()) {
            emit(protocol::kLobbyRoomAdded, {{"room", view}});
            published_rooms_.emplace(id, std::move(view));
        } else if (published->second != view) {
            emit(protocol::kLobbyRoomChanged, {{"room", view}});
            published->second = std::move(view);
        }
    }
    auto rows = player_rows(&dirty_players_);
    for (const auto& name : dirty_players_) {
        const auto live = rows.find(name);
        const auto published = published_players_.find(name);
        std::optional<json> local;
        if (live != rows.end()) {
            local = std::move(live->second);
        }
        share(shared_rows_, "player:" + name, local);
        auto current = merged_player(name, local);
        if (!current) {
            if (published != published_players_.end()) {
                published_players_.erase(published);
                emit(protocol::kLobbyPlayerRemoved, {{"name", name}});
            }
            continue;
        }
        if (published == published_players_.end()) {
            emit(protocol::kLobbyPlayerAdded, {{"player", *current}});
            published_players_.emplace(name, std::move(*current));
        } else if (published->second != *current) {
            emit(protocol::kLobbyPlayerChanged, {{"player", *current}});
            published->second = std::move(*current);
        }
    }
    dirty_rooms_.clear();
    dirty_players_.clear();
    if (!shared.empty()) {
        share_lobby_(std::move(shared));
    }
    if (lines.empty()) {
        return;
    }
    ++lobby_counters_.flushes;
    fanout_batch_ = std::make_shared<const std::string>(std::move(lines));
    fanout_next_ = 0;
    fanout_end_ = services_.lobby.next_session_id();
    continue_fanout();
}

void RoomService::continue_fanout() {
    // A slice of the connections at a time: with 10,000 watchers one batch is
    // 10,000 sends, and between slices the thread answers the requests that
    // arrived meanwhile instead of making them wait for the whole fan-out.
    constexpr std::size_t kSlice = 512;
    fanout_next_ = services_.lobby.for_some_sessions(
        fanout_next_, fanout_end_, kSlice,
        [this](LobbySession& session) { offer_lobby_batch(session); });
    if (fanout_next_ != fanout_end_) {
        lobby_fanout_.expires_after(std::chrono::steady_clock::duration::zero());
        lobby_fanout_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) {
                continue_fanout();
            }
        });
        return;
    }
    fanout_batch_.reset();
    if (flush_after_fanout_) {
        flush_after_fanout_ = false;
        flush_lobby();
    }
}

void RoomService::offer_lobby_batch(LobbySession& session) {
    if (session.lobby_batch() == lobby_counters_.flushes) {
        return;
    }
    session.set_lobby_batch(lobby_counters_.flushes);
    const auto& who = session.signed_in();
    if (!who || who->role != AccountRole::Player || !session.wants_lobby_updates()) {
        return;
    }
    if (session.push_lobby_deltas(fanout_batch_)) {
        lobby_counters_.pushed_bytes += fanout_batch_->size();
    } else {
        ++lobby_counters_.dropped_batches;
    }
}

void RoomService::catch_up_lobby(LobbySession& session) {
    if (fanout_batch_ && session.id() < fanout_end_ &&
        session.lobby_batch() != lobby_counters_.flushes) {
        ++lobby_counters_.caught_up;
        offer_lobby_batch(session);
    }
}

void RoomService::remove_member(Room& room, store::AccountId account, const std::string& why) {
    const auto it = std::find_if(room.members.begin(), room.members.end(),
                                 [&](const RoomMember& m) { return m.account_id == account; });
    if (it == room.members.end()) {
        return;
    }
    const std::string name = it->name;
    room.members.erase(it);
    spdlog::info("room {}: {} left ({})", room.id, name, why);
    if (room.members.empty()) {
        if (room.match && !room.match->terminal) {
            finish(room, room.match->match_id, store::MatchStatus::Aborted,
                   "every player left the room", nullptr);
        }
        if (!room.match) {
            spdlog::info("room {}: deleted (last member left)", room.id);
            const auto room_id = room.id;
            rooms_.erase(room_id);
            mark_room(room_id);
        }
        // With a cleanup under way the room goes once that finishes.
        return;
    }
    if (room.host == account) {
        // Hand-over to the earliest-joined remaining member.
        room.host = room.members.front().account_id;
        spdlog::info("room {}: {} is the host now", room.id, room.members.front().name);
    }
    publish_room(room);
}

void RoomService::on_session_closed(LobbySession& session) {
    const auto& who = session.signed_in();
    if (!who || who->role != AccountRole::Player) {
        return;
    }
    bool other_connection = false;
    services_.lobby.for_each_session([&](LobbySession& other) {
        if (&other != &session && other.signed_in() &&
            other.signed_in()->account_id == who->account_id &&
            other.signed_in()->role == AccountRole::Player) {
            other_connection = true;
        }
    });
    if (other_connection) {
        return;
    }
    Room* room = room_of(who->account_id);
    if (room) {
        if (room->state == RoomState::Waiting) {
            remove_member(*room, who->account_id, "disconnected");
        } else {
            // Mid-match the player's game client may still be playing; they
            // leave when the match is over unless they come back first.
            member_entry(*room, who->account_id).connected = false;
            publish_room(*room);
        }
    }
    mark_player(who->name);
}

void RoomService::on_session_signed_in(LobbySession& session) {
    const auto& who = session.signed_in();
    if (!who || who->role != AccountRole::Player) {
        return;
    }
    if (Room* room = room_of(who->account_id)) {
        member_entry(*room, who->account_id).connected = true;
        publish_room(*room);
    }
    // A match that ended while this account had no connection: its result
    // now, once (the launcher that reconnects learns how its match went).
    if (auto missed = missed_results_.find(who->account_id); missed != missed_results_.end()) {
        session.push_event("match.ended", missed->second.ended);
        missed_results_.erase(missed);
    }
    mark_player(who->name);
}

void RoomService::on_session_signed_out(const SignedIn& who) {
    if (who.role == AccountRole::Player) {
        mark_player(who.name);
    }
}

void RoomService::keep_missed_result(const Room& room, const json& ended) {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(missed_results_, [&](const auto& entry) {
        return now - entry.second.at > tuning_.missed_result_keep;
    });
    for (const auto& member : room.members) {
        if (!member.connected) {
            missed_results_[member.account_id] = MissedResult{ended, now};
        }
    }
}

std::optional<json> RoomService::release_stale_room(const LobbySession& requester) {
    const auto account = requester.signed_in()->account_id;
    Room* room = room_of(account);
    if (!room) {
        return std::nullopt;
    }
    bool entered_by_live_connection = false;
    services_.lobby.for_each_session([&](LobbySession& session) {
        const auto& who = session.signed_in();
        if (who && who->role == AccountRole::Player && who->account_id == account &&
            session.attached_room() == room->id) {
            entered_by_live_connection = true;
        }
    });
    if (entered_by_live_connection) {
        throw LobbyError(ErrorCode::Conflict,
                         "you are already in room " + std::to_string(room->id) +
                             " (another connection of yours is in it); leave it there first, or "
                             "rejoin it with room.join");
    }
    json left = {{"room_id", room->id}, {"game", room->game_name}};
    remove_member(*room, account, "its earlier session is gone and a new one moved on");
    return left;
}

void RoomService::client_state(const SignedIn& sender, const std::string& match_id, bool running) {
    auto& room = room_of_member(sender.account_id);
    if (!room.match || room.match->match_id != match_id) {
        throw LobbyError(
            ErrorCode::Conflict,
            "match " + match_id + " is not the current match of room " + std::to_string(room.id));
    }
    auto& match = *room.match;
    if (std::none_of(match.players.begin(), match.players.end(),
                     [&](const RoomMember& p) { return p.account_id == sender.account_id; })) {
        throw LobbyError(ErrorCode::Conflict, "you do not play in match " + match_id);
    }
    if (running) {
        match.clients_exited.erase(sender.account_id);
    } else if (match.clients_exited.insert(sender.account_id).second) {
        spdlog::info("room {}: match {}: {}'s game client exited", room.id, match_id, sender.name);
    }
}

void RoomService::require_no_room(const SignedIn& who) {
    if (Room* current = room_of(who.account_id)) {
        throw LobbyError(ErrorCode::Conflict, "you are already in room " +
                                                  std::to_string(current->id) + "; leave it first");
    }
    for (const auto& [node, part] : remote_lobby_) {
        const auto row = part.players.find(who.name);
        if (row == part.players.end()) {
            continue;
        }
        const auto room_id = row->second.find("room_id");
        if (room_id != row->second.end() && room_id->is_number_integer()) {
            throw LobbyError(ErrorCode::Conflict, "you are already in room " +
                                                      std::to_string(room_id->get<std::int64_t>()) +
                                                      " on node " + node +
                                                      "; leave it there first");
        }
    }
}

bool RoomService::has_room(store::AccountId account) const {
    return room_of(account) != nullptr;
}

Room& RoomService::create_room(const SignedIn& creator, const store::Game& game,
                               const store::Version& version) {
    // The version was looked up on the pool: another request of this account
    // may have put it in a room meanwhile.
    require_no_room(creator);
    auto manifest = packages::parse_manifest(version.manifest_json);
    if (!manifest.ok()) {
        throw LobbyError(ErrorCode::Internal, "the stored manifest of '" + game.name + "' " +
                                                  version.version +
                                                  " no longer parses; tell the developer");
    }
    Room room;
    if (room_ids_) {
        const auto id = room_ids_();
        if (!id) {
            throw LobbyError(
                ErrorCode::Unavailable,
                "this node has no room id at hand (the database is not answering); try again");
        }
        room.id = *id;
    } else {
        room.id = next_room_id_++;
    }
    room.game_id = game.id;
    room.game_name = game.name;
    room.version_id = version.id;
    room.version = version.version;
    room.manifest = std::move(*manifest.manifest);
    room.package_root = services_.config.data_dir / version.extracted_path;
    room.members.push_back(RoomMember{creator.account_id, creator.name, false, true});
    room.host = creator.account_id;
    room.created_at = std::chrono::system_clock::now();
    auto& stored = rooms_.emplace(room.id, std::move(room)).first->second;
    spdlog::info("room {}: created by {} for '{}' {}", stored.id, creator.name, stored.game_name,
                 stored.version);
    publish_room(stored);
    return stored;
}

Room& RoomService::join_room(std::int64_t room_id, const SignedIn& joiner) {
    auto& room = require_room(room_id);
    if (has_member(room, joiner.account_id)) {
        return room;
    }
    require_no_room(joiner);
    if (room.state != RoomState::Waiting) {
        throw LobbyError(ErrorCode::Conflict,
                         "room " + std::to_string(room.id) +
                             " is playing a match; join when it is back to WAITING");
    }
    if (static_cast<int>(room.members.size()) >= room.manifest.max_players) {
        throw LobbyError(ErrorCode::Conflict, "room " + std::to_string(room.id) + " is full (" +
                                                  std::to_string(room.manifest.max_players) +
                                                  " players)");
    }
    room.members.push_back(RoomMember{joiner.account_id, joiner.name, false, true});
    spdlog::info("room {}: {} joined", room.id, joiner.name);
    publish_room(room);
    return room;
}

Room& RoomService::room_of_member(store::AccountId account) {
    Room* room = room_of(account);
    if (!room) {
        throw LobbyError(ErrorCode::NotFound, "you are not in a room");
    }
    return *room;
}

std::int64_t RoomService::leave_room(store::AccountId account) {
    auto& room = room_of_member(account);
    const auto room_id = room.id;
    remove_member(room, account, "left");
    return room_id;
}

Room& RoomService::set_ready(store::AccountId account, bool ready) {
    auto& room = room_of_member(account);
    if (room.state != RoomState::Waiting) {
        throw LobbyError(ErrorCode::Conflict,
                         "readiness can change only while the room is WAITING");
    }
    member_entry(room, account).ready = ready;
    publish_room(room);
    return room;
}

asio::awaitable<json> RoomService::start(const LobbySession& host) {
    const auto me = host.signed_in()->account_id;
    auto& room = room_of_member(me);
    if (room.host != me) {
        throw LobbyError(ErrorCode::Forbidden, "only the host can start the match");
    }
    if (shutting_down_) {
        throw LobbyError(ErrorCode::Unavailable, "the server is shutting down");
    }
    if (room.state != RoomState::Waiting) {
        throw LobbyError(ErrorCode::Conflict,
                         "a match is already " +
                             std::string(room.state == RoomState::Ending ? "ending" : "running") +
                             " in this room");
    }
    const int count = static_cast<int>(room.members.size());
    if (count < room.manifest.min_players) {
        throw LobbyError(ErrorCode::Conflict, "'" + room.game_name + "' needs at least " +
                                                  std::to_string(room.manifest.min_players) +
                                                  " players; the room has " +
                                                  std::to_string(count));
    }
    std::vector<std::string> not_ready;
    for (const auto& member : room.members) {
        if (!member.ready) {
            not_ready.push_back(member.name);
        }
    }
    if (!not_ready.empty()) {
        throw LobbyError(ErrorCode::Conflict, "everyone must be ready first; not ready: " +
                                                  protocol::join(not_ready, ", "));
    }
    const auto room_id = room.id;
    const auto match_id = start_match(room);
    json view = member_view(room, host);
    // Acknowledge only once the match is on disk: a kill -9 after the answer
    // must leave a record for the restart to close (ABORTED), never a started
    // match nobody knows about (found by gamestore-sim's soak, invariant I8).
    co_await launch(room_id, match_id);
    co_return view;
}

void RoomService::chat(const SignedIn& sender, const std::string& text) {
    if (text.empty()) {
        throw LobbyError(ErrorCode::BadRequest, "the message is empty");
    }
    const auto& room = room_of_member(sender.account_id);
    send_to_members(room, "room.chat",
                    {{"room_id", room.id},
                     {"from", sender.name},
                     {"text", text},
                     {"at", store::unix_ms_now()}});
}

}  // namespace gamestore::server
