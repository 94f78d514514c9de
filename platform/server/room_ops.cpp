// room.*, lobby.* and server.stats: gathering in rooms and starting matches.
// RoomService (room_service.hpp) holds the rooms and does what the ops ask.

#include "platform/server/blocking.hpp"
#include "platform/server/cluster_service.hpp"
#include "platform/server/lobby_error.hpp"
#include "platform/server/lobby_session.hpp"
#include "platform/server/platform_services.hpp"
#include "platform/server/released_version.hpp"
#include "platform/server/request_args.hpp"
#include "platform/server/room_service.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
using nlohmann::json;
using protocol::ErrorCode;

namespace {

Reply room_reply(json view) {
    return Reply{{{"room", std::move(view)}}, std::nullopt};
}

// The room the requester entered, and the stale one it was taken out of
// first (RoomService::release_stale_room), if any.
Reply entered_reply(LobbySession& session, const Room& room, json view,
                    const std::optional<json>& left) {
    session.attach_room(room.id);
    auto reply = room_reply(std::move(view));
    if (left) {
        reply.data["left_room"] = *left;
    }
    return reply;
}

// {"stale_match": n, ...}: every refusal reason, zero or not, so a reader
// can tell "none refused" from "not reported by this server".
json refusals_json(const MatchCounters& counters) {
    json out = json::object();
    for (const auto reason : protocol::kReportRefusals) {
        out[std::string(protocol::to_string(reason))] = counters.refusals(reason);
    }
    return out;
}

json stats_json(const PlatformServices& services, const RoomService& rooms) {
    const auto& counters = rooms.counters();
    return {{"rooms", rooms.room_count()},
            {"sessions", services.lobby.session_count()},
            {"auth_in_flight", services.lobby.auth_in_flight()},
            {"ports_in_use", rooms.ports_in_use()},
            {"matches",
             {{"launched", counters.launched},
              {"started", counters.started},
              {"finished", counters.finished},
              {"stale_reports", counters.stale_reports()},
              {"forged_reports", counters.forged_reports()},
              {"rejected_reports", counters.rejected_reports()},
              {"refusals", refusals_json(counters)},
              {"reports_after_exit", counters.reports_after_exit},
              {"healthchecks_passed", counters.healthchecks_passed},
              {"healthchecks_failed", counters.healthchecks_failed},
              {"healthchecks_abandoned", counters.healthchecks_abandoned},
              {"sandbox_failures", counters.sandbox_failures},
              {"cleanups_in_flight", rooms.cleanups_in_flight()}}},
            {"lobby",
             {{"seq", rooms.lobby_counters().seq},
              {"flushes", rooms.lobby_counters().flushes},
              {"pushed_bytes", rooms.lobby_counters().pushed_bytes},
              {"dropped_batches", rooms.lobby_counters().dropped_batches},
              {"caught_up", rooms.lobby_counters().caught_up}}},
            {"sandbox", launch::sandbox_mode_name(services.sandbox.mode())}};
}

}  // namespace

void register_room_ops(PlatformServices& services, RoomService& rooms) {
    auto& lobby = services.lobby;
    auto& store = services.store;

    // The op table reads like the other *_ops.cpp files, each handler's body
    // one indent in; clang-format would push the bodies under OpSpec{.
    // clang-format off

    lobby.ops().add("lobby.players", OpSpec{[&rooms](RequestContext&) -> asio::awaitable<Reply> {
        co_return Reply{{{"players", rooms.lobby_players()}}, std::nullopt};
    }, Access::Authenticated, 0});

    lobby.ops().add("lobby.watch", OpSpec{[](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto& args = ctx.request.args;
        bool on = true;
        if (args.contains("on")) {
            if (!args.at("on").is_boolean()) {
                throw LobbyError(ErrorCode::BadRequest, "'on' must be true or false");
            }
            on = args.at("on").get<bool>();
        }
        ctx.session.set_wants_lobby_updates(on);
        co_return Reply{{{"on", on}}, std::nullopt};
    }, Access::Authenticated, 0});

    lobby.ops().add("lobby.snapshot", OpSpec{[&rooms](RequestContext& ctx) -> asio::awaitable<Reply> {
        rooms.catch_up_lobby(ctx.session);
        co_return Reply{rooms.lobby_snapshot(), std::nullopt};
    }, Access::Authenticated, 0});

    lobby.ops().add("room.list", OpSpec{[&rooms](RequestContext&) -> asio::awaitable<Reply> {
        co_return Reply{{{"rooms", rooms.lobby_rooms()}}, std::nullopt};
    }, Access::Authenticated, 0});

    lobby.ops().add("room.get", OpSpec{[&rooms](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto& room = rooms.require_room(require_int(ctx.request.args, "room_id"));
        const auto& me = *ctx.session.signed_in();
        // Launch details and results are for members; a developer's account id
        // is another namespace, so a developer is never one.
        const bool member = me.role == AccountRole::Player && has_member(room, me.account_id);
        co_return room_reply(member ? rooms.member_view(room, ctx.session)
                                    : rooms.public_view(room));
    }, Access::Authenticated, 0});

    lobby.ops().add("room.create", OpSpec{[&](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto game_name = require_string(ctx.request.args, "game", 256);
        const auto wanted = optional_string(ctx.request.args, "version", 256);
        const auto me = *ctx.session.signed_in();
        // A cluster node sends new rooms to the least loaded node; a player
        // who still has a room here is answered here (CONFLICT, or the stale
        // room released).
        if (services.cluster && !rooms.has_room(me.account_id)) {
            if (const auto target = services.cluster->place_room(me.account_id)) {
                throw LobbyError(ErrorCode::Moved,
                                 "new rooms go to node " + target->node_id + " (" + target->address +
                                     "), which is the least loaded; connect there",
                                 {{"node_id", target->node_id}, {"address", target->address}});
            }
        }
        // Looked up before a stale room is released: a typo in the game's
        // name must not cost the player their room.
        // The room's matches launch from this server's extracted copy, fetched
        // from the store now if the version was published through another server.
        auto [game, version] = co_await run_blocking(lobby.blocking_pool(), [&] {
            auto found = released_version(store, game_name, wanted, VersionUse::NewRoom);
            services.packages.extracted(found.version);
            return found;
        });
        const auto left = rooms.release_stale_room(ctx.session);
        const auto& room = rooms.create_room(me, game, version);
        co_return entered_reply(ctx.session, room, rooms.member_view(room, ctx.session), left);
    }, Access::Player, 0});

    lobby.ops().add("room.join", OpSpec{[&rooms](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto room_id = require_int(ctx.request.args, "room_id");
        const auto& me = *ctx.session.signed_in();
        std::optional<json> left;
        if (!has_member(rooms.require_room(room_id), me.account_id)) {
            left = rooms.release_stale_room(ctx.session);
        }
        const auto& room = rooms.join_room(room_id, me);
        co_return entered_reply(ctx.session, room, rooms.member_view(room, ctx.session), left);
    }, Access::Player, 0});

    lobby.ops().add("room.leave", OpSpec{[&rooms](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto room_id = rooms.leave_room(ctx.session.signed_in()->account_id);
        ctx.session.attach_room(0);
        co_return Reply{{{"room_id", room_id}}, std::nullopt};
    }, Access::Player, 0});

    lobby.ops().add("room.ready", OpSpec{[&rooms](RequestContext& ctx) -> asio::awaitable<Reply> {
        const bool ready = optional_bool(ctx.request.args, "ready", true);
        const auto& room = rooms.set_ready(ctx.session.signed_in()->account_id, ready);
        ctx.session.attach_room(room.id);
        co_return room_reply(rooms.member_view(room, ctx.session));
    }, Access::Player, 0});

    lobby.ops().add("room.start", OpSpec{[&rooms](RequestContext& ctx) -> asio::awaitable<Reply> {
        auto view = co_await rooms.start(ctx.session);
        ctx.session.attach_room(view.at("room_id").get<std::int64_t>());
        co_return room_reply(std::move(view));
    }, Access::Player, 0});

    lobby.ops().add("room.chat", OpSpec{[&rooms](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto text = require_string(ctx.request.args, "text", 2000);
        rooms.chat(*ctx.session.signed_in(), text);
        co_return Reply{};
    }, Access::Player, 0});

    lobby.ops().add("match.client", OpSpec{[&rooms](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto match_id = require_string(ctx.request.args, "match_id", 64);
        const auto state = require_string(ctx.request.args, "state", 16);
        if (state != "running" && state != "exited") {
            throw LobbyError(ErrorCode::BadRequest, "'state' must be \"running\" or \"exited\"");
        }
        rooms.client_state(*ctx.session.signed_in(), match_id, state == "running");
        co_return Reply{{{"match_id", match_id}, {"state", state}}, std::nullopt};
    }, Access::Player, 0});

    lobby.ops().add("server.stats", OpSpec{[&](RequestContext&) -> asio::awaitable<Reply> {
        co_return Reply{stats_json(services, rooms), std::nullopt};
    }, Access::Authenticated, 0});
    // clang-format on
}

}  // namespace gamestore::server
