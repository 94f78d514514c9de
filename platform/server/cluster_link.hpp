#pragma once
// A node's link to the other nodes of a cluster (docs/SCALING.md): its row in
// cluster_nodes, renewed every second against the database's clock, the list
// of nodes read back with each renewal, and messages between nodes over
// PostgreSQL's LISTEN/NOTIFY (channel gamestore_cluster).
//
// The link owns one PostgreSQL connection and one thread. The lobby thread
// never waits for it: send() queues, and everything the link learns is
// posted to the executor given at construction.
//
// Fencing: when the link cannot renew its row for `dead_after` (the
// database is unreachable, or this process was paused), the other nodes
// consider this one dead, so it says so at once (`fenced`) and stops
// renewing; once the database answers again it joins anew, with a new
// generation (`rejoined`). It never takes over a row that another process
// of the same node id keeps alive.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/asio/asio.hpp"
#include "platform/server/lobby_item.hpp"

namespace gamestore::server {

struct ClusterNode {
    std::string node_id;
    std::string lobby_address;  // host:port clients are sent to
    std::int64_t generation = 0;
    int running_matches = 0;
    int rooms = 0;
    std::int64_t lobby_seq = 0;  // its last lobby change
    double silent_seconds = 0;   // since its last renewal, by the database's clock
    bool alive = false;          // renewed within dead_after
};

struct ClusterLinkOptions {
    std::string node_id;
    std::string lobby_address;
    std::string conninfo;  // a libpq URI; never logged unredacted
    std::string password;  // empty: libpq's own sources
    std::chrono::milliseconds renew_every{1000};
    std::chrono::milliseconds dead_after{5000};
};

class ClusterLink {
  public:
    struct Events {
        // After every renewal: every node's row, this one included.
        std::function<void(std::vector<ClusterNode>)> nodes;
        // A message another node sent (its "from", "generation" and "kind"
        // are set; the rest is the sender's).
        std::function<void(nlohmann::json)> message;
        // This node lost the cluster, and why.
        std::function<void(std::string)> fenced;
        // After a fence: joined again, with a new generation.
        std::function<void(std::int64_t)> rejoined;
        // Another node's lobby rows changed: with `reset`, everything known
        // of that node is replaced by `items` (it restarted, or it died and
        // `items` is empty); else `items` are the changes.
        std::function<void(std::string node_id, bool reset, std::vector<LobbyItem> items)> lobby;
    };

    ClusterLink(boost::asio::any_io_executor lobby, ClusterLinkOptions options, Events events);
    ~ClusterLink();
    ClusterLink(const ClusterLink&) = delete;
    ClusterLink& operator=(const ClusterLink&) = delete;

    // Blocking, before serving: connects, waits (up to dead_after) for a
    // previous row of this node id to lapse (a restart after a crash), takes
    // the row with a new generation and listens. Throws std::runtime_error
    // with a sentence (the node id is kept alive by another process; the
    // database is unreachable; the schema is missing).
    void join();
    // Starts the thread that renews, listens and sends.
    void start();
    // Stops the thread and deletes this node's row (a clean leave: the
    // others drop it at once instead of after dead_after).
    void stop();

    // Queues `message` for every other node: {"kind": ..., ...}.
    // Messages over PostgreSQL's 8000-byte limit are refused (false).
    bool send(nlohmann::json message);
    // Reported with the next renewals.
    void set_load(int running_matches, int rooms);
    // The sessions this node's connections are signed in with: after each
    // renewal, those revoked in the database are reported as a
    // "session.ended" message, in case the notification was lost.
    void set_served_sessions(std::vector<std::int64_t> sessions);
    // This node's lobby rows that changed, for the other nodes: written in
    // one transaction and announced. In order; thread-safe.
    void publish_lobby(std::vector<LobbyItem> changes);

    // A room id no other node hands out (blocks of 100 from the database,
    // fetched ahead by the link's thread); nullopt when none is at hand
    // (the database has not answered for a while).
    std::optional<std::int64_t> next_room_id();

    const std::string& node_id() const { return options_.node_id; }
    std::int64_t generation() const { return generation_.load(); }
    bool fenced() const { return fenced_.load(); }

  private:
    struct Connection;
    void run();
    void connect();
    void take_row();
    bool renew();
    std::vector<ClusterNode> read_nodes();
    void flush_outgoing();
    void check_served_sessions();
    void refill_room_ids();
    void write_lobby();
    // Reads what changed of other nodes' lobby rows since this link last
    // looked (all of a node's rows when its generation is new to it).
    void follow_lobby(const std::vector<ClusterNode>& nodes);
    void read_lobby_of(const std::string& node_id, std::int64_t generation);
    void read_notifications();
    void wake();

    boost::asio::any_io_executor lobby_;
    ClusterLinkOptions options_;
    Events events_;
    std::unique_ptr<Connection> db_;
    std::thread thread_;
    int wake_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> fenced_{false};
    std::atomic<std::int64_t> generation_{0};
    std::atomic<int> running_matches_{0};
    std::atomic<int> rooms_{0};
    std::mutex outgoing_mutex_;
    std::vector<std::string> outgoing_;
    std::vector<std::int64_t> served_sessions_;  // under outgoing_mutex_
    std::uint64_t session_checks_ = 0;           // the link's thread only
    std::vector<LobbyItem> lobby_outgoing_;      // under outgoing_mutex_
    std::int64_t lobby_seq_ = 0;                 // link thread only
    struct Seen {
        std::int64_t generation = 0;
        std::int64_t seq = 0;
    };
    std::map<std::string, Seen> seen_;  // link thread only: other nodes' rows read so far
    std::mutex room_ids_mutex_;
    std::deque<std::int64_t> room_ids_;  // block starts; each gives 100 ids
    std::int64_t next_in_block_ = 0;
    std::int64_t block_end_ = 0;
};

}  // namespace gamestore::server
