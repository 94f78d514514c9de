#include "platform/server/cluster_service.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "platform/server/blocking.hpp"
#include "platform/server/catalog_cache.hpp"
#include "platform/server/lobby_server.hpp"
#include "platform/server/lobby_session.hpp"
#include "platform/server/room_service.hpp"
#include "platform/server/server_config.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

std::vector<std::int64_t> ids_in(const json& message, const char* key) {
    std::vector<std::int64_t> ids;
    const auto found = message.find(key);
    if (found != message.end() && found->is_array()) {
        for (const auto& id : *found) {
            if (id.is_number_integer()) {
                ids.push_back(id.get<std::int64_t>());
            }
        }
    }
    return ids;
}

}  // namespace

ClusterService::ClusterService(LobbyServer& lobby, RoomService& rooms, CatalogCache& catalog,
                               store::Store& store, const ServerConfig& config,
                               ClusterLinkOptions options)
    : lobby_(lobby),
      rooms_(rooms),
      catalog_(catalog),
      store_(store),
      load_timer_(lobby.io()),
      pin_rooms_locally_(config.pin_rooms_locally),
      dead_node_matches_after_(config.dead_node_matches_after) {
    ClusterLink::Events events;
    events.nodes = [this](std::vector<ClusterNode> nodes) {
        nodes_ = std::move(nodes);
        close_dead_nodes_matches();
    };
    events.message = [this](json message) { on_message(message); };
    events.fenced = [this](std::string why) { on_fenced(why); };
    events.rejoined = [this](std::int64_t generation) { on_rejoined(generation); };
    events.lobby = [this](std::string node_id, bool reset, std::vector<LobbyItem> items) {
        rooms_.apply_remote_lobby(node_id, reset, items);
    };
    link_ = std::make_unique<ClusterLink>(lobby.io().get_executor(), std::move(options),
                                          std::move(events));
}

ClusterService::~ClusterService() = default;

std::optional<std::int64_t> ClusterService::next_room_id() {
    return link_->next_room_id();
}

const std::string& ClusterService::node_id() const {
    return link_->node_id();
}

void ClusterService::join() {
    rooms_.set_node_addresses([this](const std::string& node_id) -> std::optional<std::string> {
        for (const auto& node : nodes_) {
            if (node.node_id == node_id && node.alive) {
                return node.lobby_address;
            }
        }
        return std::nullopt;
    });
    link_->join();
    // A game changed here (published, set live, delisted, reviewed) is
    // reread by every other node's catalogue.
    catalog_.set_change_listener([link = link_.get()](store::GameId game) {
        link->send({{"kind", "catalog.changed"}, {"game_id", game}});
    });
    rooms_.share_lobby([link = link_.get()](std::vector<LobbyItem> changes) {
        link->publish_lobby(std::move(changes));
    });
    report_load();
    link_->start();
}

void ClusterService::leave() {
    load_timer_.cancel();
    link_->stop();
}

int ClusterService::running_here() const {
    const auto states = rooms_.rooms_by_state();
    return static_cast<int>(states[static_cast<std::size_t>(RoomState::Starting)] +
                            states[static_cast<std::size_t>(RoomState::InGame)] +
                            states[static_cast<std::size_t>(RoomState::Ending)]);
}

std::optional<protocol::Redirect> ClusterService::place_room(std::int64_t account_id) {
    if (pin_rooms_locally_ || fenced_) {
        return std::nullopt;
    }
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(expected_,
                  [&](const auto& entry) { return now - entry.second > std::chrono::seconds(10); });
    if (expected_.erase(account_id) > 0) {
        return std::nullopt;
    }
    // Renewals report each node's load every second: a burst of new rooms
    // within that second would all go to the same node without counting
    // the ones already sent.
    std::erase_if(
        placed_, [&](const auto& placed) { return now - placed.second > std::chrono::seconds(3); });
    const auto load_of = [&](const ClusterNode& node) {
        const auto sent = std::count_if(placed_.begin(), placed_.end(), [&](const auto& placed) {
            return placed.first == node.node_id;
        });
        return node.running_matches + node.rooms + static_cast<int>(sent);
    };
    const int here = running_here() + static_cast<int>(rooms_.room_count());
    const ClusterNode* best = nullptr;
    for (const auto& node : nodes_) {
        if (!node.alive || node.node_id == link_->node_id() || node.lobby_address.empty()) {
            continue;
        }
        if (!best || load_of(node) < load_of(*best)) {
            best = &node;
        }
    }
    // A margin of two keeps equal nodes from sending rooms back and forth
    // on load figures up to a second old.
    if (!best || load_of(*best) + 2 > here) {
        return std::nullopt;
    }
    placed_.emplace_back(best->node_id, now);
    link_->send({{"kind", "room.placed"}, {"to", best->node_id}, {"account_id", account_id}});
    return protocol::Redirect{best->node_id, best->lobby_address, std::nullopt};
}

void ClusterService::close_dead_nodes_matches() {
    if (fenced_ || closing_dead_) {
        return;
    }
    const auto self = link_->node_id();
    std::vector<std::pair<std::string, std::int64_t>> due;
    for (const auto& node : nodes_) {
        if (node.alive && node.node_id < self) {
            return;  // a live node with a smaller id does it
        }
        if (!node.alive && node.silent_seconds * 1000 >= dead_node_matches_after_.count() &&
            !closed_dead_.count({node.node_id, node.generation})) {
            due.emplace_back(node.node_id, node.generation);
        }
    }
    if (due.empty()) {
        return;
    }
    closing_dead_ = true;
    asio::co_spawn(
        lobby_.io(),
        [this, due]() -> asio::awaitable<void> {
            const auto after =
                std::chrono::duration_cast<std::chrono::seconds>(dead_node_matches_after_);
            for (const auto& [node_id, generation] : due) {
                const auto closed = co_await run_blocking(lobby_.blocking_pool(), [&]() -> int {
                    auto open = store_.list_open_matches(node_id);
                    if (!open.ok()) {
                        spdlog::error("cluster: cannot list node '{}''s open matches: {}", node_id,
                                      open.error().message);
                        return -1;
                    }
                    const std::string reason = "its cluster node '" + node_id +
                                               "' died and did not come back within " +
                                               std::to_string(after.count()) + " s";
                    int count = 0;
                    for (const auto& match : *open) {
                        // A node restarting meanwhile may close it first: that one counts.
                        auto finished = store_.finish_match(
                            match.match_id,
                            store::MatchFinish{store::MatchStatus::Aborted, "",
                                               store::unix_ms_now(), reason, std::nullopt});
                        if (finished.ok()) {
                            ++count;
                            spdlog::warn(
                                "cluster: match {} (room {}) of dead node '{}' closed as "
                                "ABORTED",
                                match.match_id, match.room_id, node_id);
                        }
                    }
                    return count;
                });
                if (closed >= 0) {
                    closed_dead_.insert({node_id, generation});
                    if (closed > 0) {
                        spdlog::warn(
                            "cluster: closed {} open matches of node '{}', dead for over {} s",
                            closed, node_id, after.count());
                    }
                }
            }
            closing_dead_ = false;
        },
        asio::detached);
}

void ClusterService::report_load() {
    link_->set_load(running_here(), static_cast<int>(rooms_.room_count()));
    // The link rechecks the served sessions every fifth renewal (5 s): walking
    // every connection for them more often than that would only be thrown away.
    if (load_reports_++ % 10 == 0) {
        std::vector<std::int64_t> sessions;
        lobby_.for_each_session([&](LobbySession& session) {
            if (const auto& who = session.signed_in()) {
                sessions.push_back(who->session_id);
            }
        });
        link_->set_served_sessions(std::move(sessions));
    }
    load_timer_.expires_after(std::chrono::milliseconds(500));
    load_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            report_load();
        }
    });
}

void ClusterService::signed_in(std::int64_t account_id, std::int64_t session_id,
                               const std::vector<std::int64_t>& revoked) {
    link_->send({{"kind", "session.signed_in"},
                 {"account_id", account_id},
                 {"session_id", session_id},
                 {"revoked", revoked}});
}

void ClusterService::sessions_ended(const std::vector<std::int64_t>& session_ids) {
    if (!session_ids.empty()) {
        link_->send({{"kind", "session.ended"}, {"sessions", session_ids}});
    }
}

void ClusterService::end_sessions(const std::vector<std::int64_t>& revoked, std::int64_t account_id,
                                  std::int64_t keep) {
    std::vector<std::shared_ptr<LobbySession>> ending;
    lobby_.for_each_session([&](LobbySession& session) {
        const auto& who = session.signed_in();
        if (!who) {
            return;
        }
        const bool listed =
            std::find(revoked.begin(), revoked.end(), who->session_id) != revoked.end();
        if (listed ||
            (account_id != 0 && who->account_id == account_id && who->session_id != keep)) {
            ending.push_back(session.shared_from_this());
        }
    });
    for (const auto& session : ending) {
        session->clear_signed_in();
        session->close_with_event("session.revoked",
                                  {{"reason", "this account signed in from another connection"}});
    }
    if (!ending.empty()) {
        spdlog::info("cluster: closed {} connection(s) of sessions another node ended",
                     ending.size());
    }
}

void ClusterService::on_message(const json& message) {
    const auto kind = message.value("kind", std::string());
    if (kind == "session.signed_in") {
        end_sessions(ids_in(message, "revoked"), message.value("account_id", std::int64_t{0}),
                     message.value("session_id", std::int64_t{0}));
    } else if (kind == "session.ended") {
        end_sessions(ids_in(message, "sessions"), 0, 0);
    } else if (kind == "room.placed") {
        if (message.value("to", std::string()) == link_->node_id()) {
            expected_[message.value("account_id", std::int64_t{0})] =
                std::chrono::steady_clock::now();
        }
    } else if (kind == "catalog.changed") {
        const auto game = message.find("game_id");
        if (game != message.end() && game->is_number_integer()) {
            asio::co_spawn(lobby_.io(), catalog_.refresh(game->get<store::GameId>(), false),
                           asio::detached);
        }
    } else {
        // A newer node's message: nothing this version must do with it.
        spdlog::debug("cluster: ignored a '{}' message from node '{}'", kind,
                      message.value("from", std::string()));
    }
}

void ClusterService::on_fenced(const std::string& why) {
    fenced_ = true;
    const std::string sentence = "this node (" + link_->node_id() + ") lost the cluster: " + why +
                                 "; connect to another node";
    rooms_.abort_all("the node lost the cluster: " + why);
    lobby_.out_of_service(sentence);
}

void ClusterService::on_rejoined(std::int64_t generation) {
    fenced_ = false;
    // The new generation starts from nothing in the database: share it all again.
    rooms_.share_lobby([link = link_.get()](std::vector<LobbyItem> changes) {
        link->publish_lobby(std::move(changes));
    });
    // Changes announced while this node was cut off never reached it.
    asio::co_spawn(lobby_.io(), catalog_.reload(), asio::detached);
    lobby_.back_in_service();
    spdlog::info("cluster: serving again as generation {}", generation);
}

json ClusterService::admin_view() const {
    json nodes = json::array();
    for (const auto& node : nodes_) {
        nodes.push_back({{"node_id", node.node_id},
                         {"lobby_address", node.lobby_address},
                         {"generation", node.generation},
                         {"running_matches", node.running_matches},
                         {"rooms", node.rooms},
                         {"silent_seconds", node.silent_seconds},
                         {"alive", node.alive},
                         {"self", node.node_id == link_->node_id()}});
    }
    return {{"node_id", link_->node_id()},
            {"generation", link_->generation()},
            {"fenced", fenced_},
            {"nodes", std::move(nodes)}};
}

}  // namespace gamestore::server
