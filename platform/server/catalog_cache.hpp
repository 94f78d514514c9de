#pragma once
// The catalogue in memory (docs/ARCHITECTURE.md "The catalogue cache"): every
// game the lobby has seen, with its live version, rating summary, versions
// and recent reviews, kept on the lobby's I/O thread so that store.list and
// store.show are answered without a blocking-pool round trip, from JSON text
// serialised once per change.
//
// The database stays the truth. The cache is filled from it before serving
// (every listed game), a game it does not hold yet is read on first
// store.show, and each op that commits a change to a game (publish, set-live,
// delist, relist, review post and delete, the admin's delist) rereads that
// game before it answers, so its own client and everyone after it see the
// change. With the cache off (--catalog-cache off) both ops read the
// database on the blocking pool every time, as a baseline to measure
// against.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/asio/asio.hpp"
#include "platform/store/store.hpp"

namespace gamestore::server {

// One page of store.list (docs/PROTOCOL.md "Store").
struct ListPage {
    std::size_t offset = 0;
    std::size_t limit = 50;
};
inline constexpr std::size_t kListPageMaxGames = 200;
// A page also stops before its games pass this many bytes, so a page of long
// descriptions stays well inside a client's 64 KiB line limit.
inline constexpr std::size_t kListPageMaxBytes = 48 * 1024;

// {"games":[...],"total":N,"next_offset":K}, `next_offset` only when more
// follow: the page of `summaries` (each a GameSummary's JSON text, in list
// order) that `page` asks for.
std::string list_page_text(const std::vector<const std::string*>& summaries, const ListPage& page);

class CatalogCache {
  public:
    CatalogCache(store::Store& store, boost::asio::thread_pool& pool, bool enabled);

    bool enabled() const { return enabled_; }
    // Reads every listed game. Blocking: call before serving.
    void load();

    // store.list's data as JSON text. A page is built once and kept (shared
    // with the answers on their way) until the listed games change.
    boost::asio::awaitable<std::shared_ptr<const std::string>> list(ListPage page);
    // store.show's data as JSON text; hidden versions only when `developer`
    // owns the game. NOT_FOUND (LobbyError) for an unknown game. `name` must
    // outlive the call: co_await it at once.
    boost::asio::awaitable<std::shared_ptr<const std::string>> show(
        const std::string& name, std::optional<store::AccountId> developer);
    // After a change to `game` committed: reread it (no-op with the cache off).
    // `announce`: a change made here, told to the change listener (a cluster
    // node tells the others, which reread it with announce false).
    boost::asio::awaitable<void> refresh(store::GameId game, bool announce = true);
    // Rereads every listed game and every game held (a cluster node that may
    // have missed the others' changes while it was cut off).
    boost::asio::awaitable<void> reload();
    void set_change_listener(std::function<void(store::GameId)> listener) {
        on_change_ = std::move(listener);
    }

    std::size_t size() const { return games_.size(); }

  private:
    struct Entry {
        store::GameSummary summary;
        store::AccountId owner = 0;
        std::string summary_text;  // GameSummary
        std::shared_ptr<const std::string>
            public_show;                                // store.show's data without hidden versions
        std::shared_ptr<const std::string> owner_show;  // with them
        bool listed = false;  // in store.list: not delisted, has a live version
    };

    // Details read with the owner as viewer (hidden versions included).
    void install(const store::GameDetails& details);
    const std::vector<const std::string*>& listed();

    store::Store& store_;
    boost::asio::thread_pool& pool_;
    bool enabled_;
    std::map<store::GameId, Entry> games_;
    std::map<std::string, store::GameId> by_name_;  // ASCII case-folded, as the database compares
    std::map<store::GameId, std::uint64_t> refreshes_;  // the latest reread started per game
    std::vector<const std::string*> listed_;
    bool listed_stale_ = true;
    // Pages built since listed_ was: (offset, limit) to the page's text.
    // Bounded: a client walking odd offsets cannot grow it past kKeptPages.
    std::map<std::pair<std::size_t, std::size_t>, std::shared_ptr<const std::string>> pages_;
    static constexpr std::size_t kKeptPages = 64;
    std::function<void(store::GameId)> on_change_;
};

}  // namespace gamestore::server
