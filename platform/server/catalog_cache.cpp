#include "platform/server/catalog_cache.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "platform/server/blocking.hpp"
#include "platform/server/store_views.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr int kRecentReviews = 10;

// Game names compare case-insensitively in ASCII only (SQLite's NOCASE).
std::string fold(std::string_view name) {
    std::string folded(name);
    for (auto& c : folded) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return folded;
}

std::string text_of(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string show_text(const store::GameDetails& details, bool with_hidden) {
    json versions = json::array();
    for (const auto& version : details.versions) {
        if (with_hidden || !version.hidden || version.live) {
            versions.push_back(version_json(version));
        }
    }
    json reviews = json::array();
    for (const auto& review : details.recent_reviews) {
        reviews.push_back(review_json(review));
    }
    return text_of({{"game", game_summary_json(details.game, details.rating)},
                    {"versions", std::move(versions)},
                    {"reviews", std::move(reviews)}});
}

// The game with the owner as viewer: the versions include the hidden ones.
store::GameDetails read_details(store::Store& store, store::GameId id) {
    const auto game = unwrap(store.get_game(id));
    return unwrap(store.game_details(id, game.owner_id, kRecentReviews));
}

}  // namespace

std::string list_page_text(const std::vector<const std::string*>& summaries, const ListPage& page) {
    std::string text = "{\"games\":[";
    std::size_t index = std::min(page.offset, summaries.size());
    std::size_t taken = 0;
    std::size_t bytes = 0;
    for (; index < summaries.size() && taken < page.limit; ++index) {
        const auto& summary = *summaries[index];
        if (taken > 0 && bytes + summary.size() > kListPageMaxBytes) {
            break;
        }
        if (taken > 0) {
            text += ',';
        }
        text += summary;
        bytes += summary.size();
        ++taken;
    }
    text += "],\"total\":" + std::to_string(summaries.size());
    if (index < summaries.size()) {
        text += ",\"next_offset\":" + std::to_string(index);
    }
    text += '}';
    return text;
}

CatalogCache::CatalogCache(store::Store& store, asio::thread_pool& pool, bool enabled)
    : store_(store), pool_(pool), enabled_(enabled) {}

void CatalogCache::load() {
    if (!enabled_) {
        return;
    }
    const auto listed = unwrap(store_.list_games());
    for (const auto& summary : listed) {
        install(read_details(store_, summary.game.id));
    }
    spdlog::info("catalogue: {} listed games in memory", games_.size());
}

void CatalogCache::install(const store::GameDetails& details) {
    const auto id = details.game.id;
    Entry entry;
    entry.summary = store::GameSummary{details.game, details.rating};
    entry.owner = details.game.owner_id;
    entry.summary_text = text_of(game_summary_json(details.game, details.rating));
    entry.public_show = std::make_shared<const std::string>(show_text(details, false));
    entry.owner_show = std::make_shared<const std::string>(show_text(details, true));
    entry.listed = !details.game.delisted && details.game.live_version.has_value();
    by_name_[fold(details.game.name)] = id;
    games_[id] = std::move(entry);
    listed_stale_ = true;
}

const std::vector<const std::string*>& CatalogCache::listed() {
    if (listed_stale_) {
        std::vector<const Entry*> entries;
        for (const auto& [id, entry] : games_) {
            if (entry.listed) {
                entries.push_back(&entry);
            }
        }
        // The database's order: name without ASCII case, then id.
        std::sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) {
            const auto fa = fold(a->summary.game.name);
            const auto fb = fold(b->summary.game.name);
            return fa != fb ? fa < fb : a->summary.game.id < b->summary.game.id;
        });
        listed_.clear();
        for (const auto* entry : entries) {
            listed_.push_back(&entry->summary_text);
        }
        pages_.clear();
        listed_stale_ = false;
    }
    return listed_;
}

asio::awaitable<std::shared_ptr<const std::string>> CatalogCache::list(ListPage page) {
    if (enabled_) {
        const auto& summaries = listed();
        const auto key = std::pair{page.offset, page.limit};
        if (const auto kept = pages_.find(key); kept != pages_.end()) {
            co_return kept->second;
        }
        if (pages_.size() >= kKeptPages) {
            pages_.clear();
        }
        auto text = std::make_shared<const std::string>(list_page_text(summaries, page));
        pages_.emplace(key, text);
        co_return text;
    }
    auto games = unwrap(co_await run_blocking(pool_, [&] { return store_.list_games(); }));
    std::vector<std::string> texts;
    texts.reserve(games.size());
    for (const auto& summary : games) {
        texts.push_back(text_of(game_summary_json(summary.game, summary.rating)));
    }
    std::vector<const std::string*> pointers;
    for (const auto& text : texts) {
        pointers.push_back(&text);
    }
    co_return std::make_shared<const std::string>(list_page_text(pointers, page));
}

asio::awaitable<std::shared_ptr<const std::string>> CatalogCache::show(
    const std::string& name, std::optional<store::AccountId> developer) {
    if (!enabled_) {
        auto details = co_await run_blocking(pool_, [&] {
            const auto game = unwrap(store_.find_game(name));
            // Hidden versions are the owner's business; account ids of the
            // two roles are different namespaces, so only a developer can be
            // the owner.
            return unwrap(store_.game_details(game.id, developer, kRecentReviews));
        });
        co_return std::make_shared<const std::string>(show_text(details, true));
    }
    auto found = by_name_.find(fold(name));
    if (found == by_name_.end()) {
        // Not listed at start (delisted, no live version yet) or unknown:
        // the database decides, and a game it knows is kept from now on.
        auto details = co_await run_blocking(pool_, [&] {
            const auto game = unwrap(store_.find_game(name));
            return read_details(store_, game.id);
        });
        if (games_.find(details.game.id) == games_.end()) {
            install(details);
        }
        found = by_name_.find(fold(name));
    }
    const auto& entry = games_.at(found->second);
    co_return developer&&* developer == entry.owner ? entry.owner_show : entry.public_show;
}

asio::awaitable<void> CatalogCache::reload() {
    if (!enabled_) {
        co_return;
    }
    std::vector<store::GameId> ids;
    for (const auto& [id, entry] : games_) {
        ids.push_back(id);
    }
    auto listed = co_await run_blocking(pool_, [&] { return store_.list_games(); });
    if (listed) {
        for (const auto& summary : *listed) {
            if (!games_.count(summary.game.id)) {
                ids.push_back(summary.game.id);
            }
        }
    } else {
        spdlog::error("catalogue: listing the games to reload failed: {}", listed.error().message);
    }
    for (const auto id : ids) {
        co_await refresh(id, false);
    }
    spdlog::info("catalogue: reloaded {} games", ids.size());
}

asio::awaitable<void> CatalogCache::refresh(store::GameId game, bool announce) {
    if (announce && on_change_) {
        on_change_(game);
    }
    if (!enabled_) {
        co_return;
    }
    // Rereads of one game may overlap; only the one started last is kept,
    // since it began after every commit the earlier ones could have missed.
    const auto generation = ++refreshes_[game];
    auto details = co_await run_blocking(pool_, [&]() -> std::optional<store::GameDetails> {
        try {
            return read_details(store_, game);
        } catch (const std::exception& e) {
            spdlog::error("catalogue: rereading game {} failed: {}", game, e.what());
            return std::nullopt;
        }
    });
    if (refreshes_[game] != generation) {
        co_return;
    }
    if (details) {
        install(*details);
    } else if (const auto it = games_.find(game); it != games_.end()) {
        // Unreadable now: drop it so the next store.show goes to the database.
        by_name_.erase(fold(it->second.summary.game.name));
        games_.erase(it);
        listed_stale_ = true;
    }
}

}  // namespace gamestore::server
