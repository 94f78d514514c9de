#pragma once
// What a cluster node does with its link to the others (cluster_link.hpp),
// on the lobby thread: tells them about sign-ins and sign-outs so sessions
// end cluster-wide, closes its own connections of sessions another node
// ended, rereads the games another node changed, reports its load, places
// new rooms, keeps the list of nodes for the admin, and stops serving while
// it has lost the cluster (docs/SCALING.md).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/asio/asio.hpp"
#include "platform/protocol/redirect.hpp"
#include "platform/server/cluster_link.hpp"
#include "platform/store/store.hpp"

namespace gamestore::server {

struct ServerConfig;
class CatalogCache;
class LobbyServer;
class RoomService;

class ClusterService {
  public:
    // From `config`: room placement and how long a dead node's matches wait.
    ClusterService(LobbyServer& lobby, RoomService& rooms, CatalogCache& catalog,
                   store::Store& store, const ServerConfig& config, ClusterLinkOptions options);
    ~ClusterService();

    // Blocking, before serving (ClusterLink::join), then the link's thread
    // and the load reports start.
    void join();
    // A clean leave: the other nodes drop this one at once.
    void leave();

    // `account_id` signed in with `session_id` here; `revoked` are the
    // sessions that sign-in ended. Other nodes close their connections of
    // those sessions and of any other session of the account.
    void signed_in(std::int64_t account_id, std::int64_t session_id,
                   const std::vector<std::int64_t>& revoked);
    // Sessions ended here (logout, the admin): other nodes close theirs.
    void sessions_ended(const std::vector<std::int64_t>& session_ids);

    // A room id unique across the cluster; nullopt when none is at hand.
    std::optional<std::int64_t> next_room_id();
    // Where a new room should go when it should not go here: the live node
    // with the least load (running matches + rooms), when that is at least
    // two less than this node's. nullopt: here (also when rooms are pinned
    // with `local`). docs/SCALING.md, "Placing new rooms".
    // A player this node sent elsewhere is expected there: the target keeps
    // the room it is then asked for (no second placement on load figures a
    // second old, which could send the player on again).
    std::optional<protocol::Redirect> place_room(std::int64_t account_id);

    const std::string& node_id() const;
    const std::vector<ClusterNode>& nodes() const { return nodes_; }
    bool fenced() const { return fenced_; }
    // {node_id, generation, fenced, nodes: [...]}: the admin dashboard's view.
    nlohmann::json admin_view() const;

  private:
    void on_message(const nlohmann::json& message);
    void on_fenced(const std::string& why);
    void on_rejoined(std::int64_t generation);
    void report_load();
    // The live node with the smallest id closes the open matches of nodes
    // dead for longer than dead_node_matches_after (their machine is gone:
    // no one else will).
    void close_dead_nodes_matches();
    // Running matches (STARTING, IN_GAME, ENDING rooms) on this node now.
    int running_here() const;
    // Closes this node's connections of `revoked` sessions, and of
    // `account_id`'s sessions other than `keep` (0: none kept).
    void end_sessions(const std::vector<std::int64_t>& revoked, std::int64_t account_id,
                      std::int64_t keep);

    LobbyServer& lobby_;
    RoomService& rooms_;
    CatalogCache& catalog_;
    store::Store& store_;
    std::unique_ptr<ClusterLink> link_;
    boost::asio::steady_timer load_timer_;
    unsigned load_reports_ = 0;
    std::vector<ClusterNode> nodes_;
    bool fenced_ = false;
    bool pin_rooms_locally_;
    std::chrono::milliseconds dead_node_matches_after_;
    // Dead nodes (id, generation) whose open matches were closed here.
    std::set<std::pair<std::string, std::int64_t>> closed_dead_;
    bool closing_dead_ = false;
    // Rooms sent elsewhere lately, counted into the target's load until its
    // own renewals report them.
    std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> placed_;
    // Players another node sent here for a new room, by account.
    std::map<std::int64_t, std::chrono::steady_clock::time_point> expected_;
};

}  // namespace gamestore::server
