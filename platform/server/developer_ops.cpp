// dev.*: publishing and managing one's own games.

#include <spdlog/spdlog.h>

#include "platform/server/blocking.hpp"
#include "platform/server/lobby_session.hpp"
#include "platform/server/package_ingest.hpp"
#include "platform/server/platform_services.hpp"
#include "platform/server/request_args.hpp"
#include "platform/server/store_views.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
using nlohmann::json;
using protocol::ErrorCode;

namespace {

// The named game, which must belong to `developer`.
store::Game owned_game(store::Store& store, const std::string& name, store::AccountId developer) {
    auto game = unwrap(store.find_game(name));
    if (game.owner_id != developer) {
        throw LobbyError(ErrorCode::Forbidden, "the game '" + game.name + "' belongs to another developer");
    }
    return game;
}

json summary_with_rating(store::Store& store, const store::Game& game) {
    auto rating = store.rating_summary(game.id);
    return game_summary_json(game, rating ? *rating : store::RatingSummary{});
}

using GameAction = store::Result<store::Game> (store::Store::*)(store::AccountId, store::GameId);

void add_game_action(PlatformServices& services, const char* op, GameAction action, const char* verb) {
    auto& store = services.store;
    auto& lobby = services.lobby;
    auto& catalog = services.catalog;
    lobby.ops().add(op, OpSpec{[&store, &lobby, &catalog, action,
                                verb](RequestContext& ctx) -> asio::awaitable<Reply> {
                                   const auto name = require_string(ctx.request.args, "game", 256);
                                   const auto developer = ctx.session.signed_in()->account_id;
                                   store::GameId changed_id = 0;
                                   auto data = co_await run_blocking(lobby.blocking_pool(), [&] {
                                       auto game = owned_game(store, name, developer);
                                       auto changed = unwrap((store.*action)(developer, game.id));
                                       changed_id = changed.id;
                                       return json{{"game", summary_with_rating(store, changed)}};
                                   });
                                   co_await catalog.refresh(changed_id);
                                   spdlog::info("store: {} '{}' by developer {}", verb, name,
                                                developer);
                                   co_return Reply{std::move(data), std::nullopt};
                               },
                               Access::Developer, 0});
}

}  // namespace

void register_developer_ops(PlatformServices& services) {
    auto& lobby = services.lobby;
    auto& store = services.store;
    const auto& config = services.config;

    auto& metrics = services.metrics;
    auto& catalog = services.catalog;

    lobby.ops().add(
        "dev.publish",
        OpSpec{
            [&store, &lobby, &config, &metrics, &catalog,
             &packages = services.packages](RequestContext& ctx) -> asio::awaitable<Reply> {
                if (!ctx.upload) {
                    throw LobbyError(ErrorCode::BadRequest,
                                     "dev.publish needs the package zip as a blob (\"bytes\":N)");
                }
                IngestRequest request;
                request.developer_id = ctx.session.signed_in()->account_id;
                request.upload = *ctx.upload;
                request.declared_sha256 = require_string(ctx.request.args, "sha256", 128);
                request.notes = optional_string(ctx.request.args, "notes", 8000).value_or("");
                request.hidden = optional_bool(ctx.request.args, "hidden", false);
                auto published = co_await run_blocking(lobby.blocking_pool(), [&] {
                    auto result =
                        ingest_package(store, config.data_dir, config.zip_limits, request);
                    // Hashed on arrival: its first download need not hash it again.
                    packages.remember_verified(result.version);
                    return result;
                });
                metrics.published({store::unix_ms_now(), published.game.name,
                                   published.version.version,
                                   static_cast<std::uint64_t>(published.version.size_bytes)});
                spdlog::info("store: published '{}' {} ({} bytes, sha256 {}){}",
                             published.game.name, published.version.version,
                             published.version.size_bytes, published.version.sha256,
                             request.hidden ? " hidden" : "");
                co_await catalog.refresh(published.game.id);
                auto rating = co_await run_blocking(
                    lobby.blocking_pool(), [&] { return store.rating_summary(published.game.id); });
                co_return Reply{
                    {{"game",
                      game_summary_json(published.game, rating ? *rating : store::RatingSummary{})},
                     {"version", version_json(published.version)},
                     {"game_created", published.game_created}},
                    std::nullopt};
            },
            Access::Developer, config.zip_limits.max_archive_bytes});

    lobby.ops().add("dev.games", OpSpec{[&store, &lobby](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto developer = ctx.session.signed_in()->account_id;
        auto games = unwrap(co_await run_blocking(lobby.blocking_pool(), [&] { return store.my_games(developer); }));
        co_return Reply{{{"games", game_summaries_json(games)}}, std::nullopt};
    }, Access::Developer, 0});

    lobby.ops().add("dev.versions", OpSpec{[&store, &lobby](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto name = require_string(ctx.request.args, "game", 256);
        const auto developer = ctx.session.signed_in()->account_id;
        auto versions = co_await run_blocking(lobby.blocking_pool(), [&] {
            auto game = owned_game(store, name, developer);
            return unwrap(store.list_versions(game.id, true));
        });
        json list = json::array();
        for (const auto& version : versions) {
            list.push_back(version_json(version));
        }
        co_return Reply{{{"versions", std::move(list)}}, std::nullopt};
    }, Access::Developer, 0});

    lobby.ops().add(
        "dev.set_live",
        OpSpec{[&store, &lobby, &catalog](RequestContext& ctx) -> asio::awaitable<Reply> {
                   const auto name = require_string(ctx.request.args, "game", 256);
                   const auto version = require_string(ctx.request.args, "version", 256);
                   const auto developer = ctx.session.signed_in()->account_id;
                   store::GameId changed_id = 0;
                   auto data = co_await run_blocking(lobby.blocking_pool(), [&] {
                       auto game = owned_game(store, name, developer);
                       auto changed = unwrap(store.set_live(developer, game.id, version));
                       changed_id = changed.id;
                       return json{{"game", summary_with_rating(store, changed)}};
                   });
                   co_await catalog.refresh(changed_id);
                   spdlog::info("store: '{}' live version is now {}", name, version);
                   co_return Reply{std::move(data), std::nullopt};
               },
               Access::Developer, 0});

    add_game_action(services, "dev.delist", &store::Store::delist_game, "delisted");
    add_game_action(services, "dev.relist", &store::Store::relist_game, "relisted");
}

}  // namespace gamestore::server
