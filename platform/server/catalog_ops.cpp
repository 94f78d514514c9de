// store.* and review.*: what players browse, download and review.

#include <spdlog/spdlog.h>

#include <filesystem>

#include "platform/server/blocking.hpp"
#include "platform/server/catalog_cache.hpp"
#include "platform/server/lobby_session.hpp"
#include "platform/server/platform_services.hpp"
#include "platform/server/released_version.hpp"
#include "platform/server/request_args.hpp"
#include "platform/server/store_views.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
using nlohmann::json;
using protocol::ErrorCode;

void register_catalog_ops(PlatformServices& services) {
    auto& lobby = services.lobby;
    auto& store = services.store;
    auto& metrics = services.metrics;
    auto& catalog = services.catalog;
    auto& packages = services.packages;

    lobby.ops().add(
        "store.list",
        OpSpec{[&catalog](RequestContext& ctx) -> asio::awaitable<Reply> {
                   ListPage page;
                   const auto offset = optional_int(ctx.request.args, "offset").value_or(0);
                   const auto limit = optional_int(ctx.request.args, "limit")
                                          .value_or(static_cast<std::int64_t>(page.limit));
                   if (offset < 0 || limit < 1 ||
                       limit > static_cast<std::int64_t>(kListPageMaxGames)) {
                       throw LobbyError(ErrorCode::BadRequest,
                                        "'limit' must be 1.." + std::to_string(kListPageMaxGames) +
                                            " and 'offset' not negative");
                   }
                   page.offset = static_cast<std::size_t>(offset);
                   page.limit = static_cast<std::size_t>(limit);
                   Reply reply;
                   reply.data_text = co_await catalog.list(page);
                   co_return reply;
               },
               Access::Authenticated, 0});

    lobby.ops().add("store.show",
                    OpSpec{[&catalog](RequestContext& ctx) -> asio::awaitable<Reply> {
                               const auto name = require_string(ctx.request.args, "game", 256);
                               const auto& who = *ctx.session.signed_in();
                               // Hidden versions are the owner's business; account ids of the two
                               // roles are different namespaces, so only a developer can be the
                               // owner.
                               const auto developer = who.role == AccountRole::Developer
                                                          ? std::optional(who.account_id)
                                                          : std::nullopt;
                               Reply reply;
                               reply.data_text = co_await catalog.show(name, developer);
                               co_return reply;
                           },
                           Access::Authenticated, 0});

    lobby.ops().add(
        "store.download",
        OpSpec{
            [&store, &lobby, &metrics, &packages](RequestContext& ctx) -> asio::awaitable<Reply> {
                const auto name = require_string(ctx.request.args, "game", 256);
                const auto wanted = optional_string(ctx.request.args, "version", 256);
                const auto offset_arg = optional_int(ctx.request.args, "offset").value_or(0);
                if (offset_arg < 0) {
                    throw LobbyError(ErrorCode::BadRequest, "'offset' must not be negative");
                }
                const auto offset = static_cast<std::uint64_t>(offset_arg);
                // Served from this server's verified copy, fetched from the store
                // when it has none (a version published through another server).
                std::filesystem::path file;
                auto [game, version] = co_await run_blocking(lobby.blocking_pool(), [&] {
                    auto found = released_version(store, name, wanted, VersionUse::Download);
                    file = packages.zip(found.version);
                    return found;
                });
                const auto size = static_cast<std::uint64_t>(version.size_bytes);
                if (offset > size) {
                    throw LobbyError(ErrorCode::BadRequest,
                                     "'offset' " + std::to_string(offset) +
                                         " is past the end of the package (" +
                                         std::to_string(size) + " bytes)");
                }
                Reply reply;
                reply.data = {{"game", game.name},        {"version", version.version},
                              {"sha256", version.sha256}, {"size", size},
                              {"offset", offset},         {"length", size - offset}};
                reply.blob = Reply::Blob{file, offset, size - offset};
                // Counted when offered: a client that stops reading has still been
                // sent most of it.
                ++metrics.downloads;
                metrics.downloaded_bytes += size - offset;
                co_return reply;
            },
            Access::Player, 0});

    lobby.ops().add(
        "review.post",
        OpSpec{[&store, &lobby, &catalog](RequestContext& ctx) -> asio::awaitable<Reply> {
                   const auto name = require_string(ctx.request.args, "game", 256);
                   const auto rating = require_int(ctx.request.args, "rating");
                   // 2000 code points are at most 8000 bytes; the store counts code points.
                   const auto text = optional_string(ctx.request.args, "text", 8000).value_or("");
                   if (rating < 1 || rating > 5) {
                       throw LobbyError(ErrorCode::BadRequest,
                                        "'rating' must be a whole number from 1 to 5");
                   }
                   const auto player = ctx.session.signed_in()->account_id;
                   store::GameId game = 0;
                   auto review = co_await run_blocking(lobby.blocking_pool(), [&] {
                       game = unwrap(store.find_game(name)).id;
                       const auto now = store::unix_ms_now();
                       return unwrap(
                           store.upsert_review(player, game, static_cast<int>(rating), text, now));
                   });
                   co_await catalog.refresh(game);
                   co_return Reply{{{"review", review_json(review)}}, std::nullopt};
               },
               Access::Player, 0});

    lobby.ops().add(
        "review.delete",
        OpSpec{[&store, &lobby, &catalog](RequestContext& ctx) -> asio::awaitable<Reply> {
                   const auto name = require_string(ctx.request.args, "game", 256);
                   const auto player = ctx.session.signed_in()->account_id;
                   store::GameId game = 0;
                   unwrap(co_await run_blocking(lobby.blocking_pool(), [&] {
                       game = unwrap(store.find_game(name)).id;
                       return store.delete_review(player, game);
                   }));
                   co_await catalog.refresh(game);
                   co_return Reply{};
               },
               Access::Player, 0});

    lobby.ops().add("review.list", OpSpec{[&store, &lobby](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto name = require_string(ctx.request.args, "game", 256);
        const auto limit = optional_int(ctx.request.args, "limit").value_or(20);
        const auto offset = optional_int(ctx.request.args, "offset").value_or(0);
        if (limit < 1 || limit > 200 || offset < 0) {
            throw LobbyError(ErrorCode::BadRequest, "'limit' must be 1..200 and 'offset' not negative");
        }
        auto [reviews, rating] = co_await run_blocking(lobby.blocking_pool(), [&] {
            auto game = unwrap(store.find_game(name));
            auto reviews = unwrap(store.list_reviews(game.id, static_cast<int>(limit), static_cast<int>(offset)));
            auto rating = unwrap(store.rating_summary(game.id));
            return std::pair{std::move(reviews), rating};
        });
        json list = json::array();
        for (const auto& review : reviews) {
            list.push_back(review_json(review));
        }
        co_return Reply{{{"reviews", std::move(list)}, {"rating", rating_json(rating)}}, std::nullopt};
    }, Access::Authenticated, 0});
}

}  // namespace gamestore::server
