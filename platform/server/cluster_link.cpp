#include "platform/server/cluster_link.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace gamestore::server {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kChannel = "gamestore_cluster";
// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
constexpr std::size_t kMaxPayload = 7999;

std::string error_of(PGconn* conn) {
    std::string text = conn ? PQerrorMessage(conn) : "out of memory";
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

}  // namespace

struct ClusterLink::Connection {
    PGconn* conn = nullptr;
    ~Connection() {
        if (conn) {
            PQfinish(conn);
        }
    }

    // One statement with text parameters; the rows, or a throw with the
    // server's sentence.
    struct Rows {
        PGresult* result = nullptr;
        ~Rows() {
            if (result) {
                PQclear(result);
            }
        }
        int count() const { return PQntuples(result); }
        std::string text(int row, int column) const { return PQgetvalue(result, row, column); }
        std::int64_t integer(int row, int column) const { return std::stoll(text(row, column)); }
        double real(int row, int column) const { return std::stod(text(row, column)); }
        int affected() const {
            const char* n = PQcmdTuples(result);
            return n && *n ? std::atoi(n) : 0;
        }
    };
    std::unique_ptr<Rows> run(const char* sql, const std::vector<std::string>& params) {
        std::vector<const char*> values;
        values.reserve(params.size());
        for (const auto& p : params) {
            values.push_back(p.c_str());
        }
        auto rows = std::make_unique<Rows>();
        rows->result = PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0);
        const auto status = PQresultStatus(rows->result);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            throw std::runtime_error(error_of(conn));
        }
        return rows;
    }
    bool usable() const { return conn && PQstatus(conn) == CONNECTION_OK; }
};

ClusterLink::ClusterLink(asio::any_io_executor lobby, ClusterLinkOptions options, Events events)
    : lobby_(std::move(lobby)), options_(std::move(options)), events_(std::move(events)) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

ClusterLink::~ClusterLink() {
    stopping_ = true;
    wake();
    if (thread_.joinable()) {
        thread_.join();
    }
    if (wake_fd_ >= 0) {
        ::close(wake_fd_);
    }
}

void ClusterLink::connect() {
    // Bounded waits: a connect, and a peer that stops answering mid-query
    // (TCP only; a Unix socket fails at once), stay within the liveness
    // timeout, so a lost database is noticed in time to fence.
    const std::string connect_timeout = "2";
    const std::string user_timeout = std::to_string(options_.dead_after.count());
    std::vector<const char*> keys = {"dbname", "connect_timeout", "tcp_user_timeout",
                                     "application_name"};
    std::vector<const char*> values = {options_.conninfo.c_str(), connect_timeout.c_str(),
                                       user_timeout.c_str(), "gamestore-cluster"};
    if (!options_.password.empty()) {
        keys.push_back("password");
        values.push_back(options_.password.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    auto db = std::make_unique<Connection>();
    db->conn = PQconnectdbParams(keys.data(), values.data(), 1);
    if (!db->usable()) {
        throw std::runtime_error("cannot reach the database for the cluster: " +
                                 error_of(db->conn));
    }
    db->run("LISTEN gamestore_cluster", {});
    db_ = std::move(db);
}

void ClusterLink::take_row() {
    const auto dead_after = fmt::format("{:.3f}", options_.dead_after.count() / 1000.0);
    const auto deadline = Clock::now() + options_.dead_after + options_.renew_every;
    for (;;) {
        // Taken only when free or lapsed: a row another process keeps alive
        // is never stolen (two nodes configured with one id must not
        // take turns fencing each other).
        auto taken = db_->run(
            "INSERT INTO cluster_nodes (node_id, lobby_address, generation, started_at, "
            "renewed_at) "
            "VALUES ($1, $2, nextval('cluster_generations'), now(), now()) "
            "ON CONFLICT (node_id) DO UPDATE SET lobby_address = EXCLUDED.lobby_address, "
            "generation = EXCLUDED.generation, started_at = now(), renewed_at = now(), "
            "running_matches = 0, "
            "rooms = 0 WHERE cluster_nodes.renewed_at < now() - make_interval(secs => $3::float8) "
            "RETURNING generation",
            {options_.node_id, options_.lobby_address, dead_after});
        if (taken->count() == 1) {
            generation_ = taken->integer(0, 0);
            return;
        }
        auto held = db_->run(
            "SELECT EXTRACT(EPOCH FROM (now() - renewed_at))::float8 FROM cluster_nodes WHERE "
            "node_id = $1",
            {options_.node_id});
        const double silent = held->count() == 1 ? held->real(0, 0) : 0.0;
        const auto now = Clock::now();
        if (now >= deadline) {
            throw std::runtime_error(
                fmt::format("node id '{}' is kept alive by another process (renewed {:.1f} s ago); "
                            "give each node its "
                            "own --node-id",
                            options_.node_id, silent));
        }
        // Until the row lapses (a restart right after a crash waits at most
        // dead_after), in steps of at most a renewal period.
        const auto lapse = std::chrono::milliseconds(std::max<long long>(
            50, options_.dead_after.count() - static_cast<long long>(silent * 1000.0)));
        std::this_thread::sleep_for(
            std::min<Clock::duration>({lapse, options_.renew_every, deadline - now}));
    }
}

void ClusterLink::join() {
    connect();
    take_row();
    // What a previous run of this node left of the lobby is not ours now.
    db_->run("DELETE FROM cluster_lobby WHERE node_id = $1", {options_.node_id});
    lobby_seq_ = 0;
    refill_room_ids();
    spdlog::info("cluster: node '{}' joined (generation {}, lobby {})", options_.node_id,
                 generation_.load(), options_.lobby_address);
}

void ClusterLink::start() {
    thread_ = std::thread([this] { run(); });
}

void ClusterLink::stop() {
    stopping_ = true;
    wake();
    if (thread_.joinable()) {
        thread_.join();
    }
    if (db_ && db_->usable() && !fenced_) {
        try {
            db_->run("DELETE FROM cluster_nodes WHERE node_id = $1 AND generation = $2",
                     {options_.node_id, std::to_string(generation_.load())});
            spdlog::info("cluster: node '{}' left", options_.node_id);
        } catch (const std::exception& e) {
            spdlog::warn("cluster: could not remove this node's row: {}", e.what());
        }
    }
}

bool ClusterLink::send(json message) {
    message["from"] = options_.node_id;
    message["generation"] = generation_.load();
    auto payload = message.dump();
    if (payload.size() > kMaxPayload) {
        spdlog::error("cluster: a '{}' message of {} bytes is over the {}-byte limit; not sent",
                      message.value("kind", std::string("?")), payload.size(), kMaxPayload);
        return false;
    }
    {
        std::lock_guard lock(outgoing_mutex_);
        outgoing_.push_back(std::move(payload));
    }
    wake();
    return true;
}

void ClusterLink::set_load(int running_matches, int rooms) {
    running_matches_ = running_matches;
    rooms_ = rooms;
}

namespace {
constexpr std::int64_t kRoomIdBlock = 100;
}  // namespace

std::optional<std::int64_t> ClusterLink::next_room_id() {
    std::optional<std::int64_t> id;
    bool low = false;
    {
        std::lock_guard lock(room_ids_mutex_);
        if (next_in_block_ >= block_end_ && !room_ids_.empty()) {
            next_in_block_ = room_ids_.front();
            block_end_ = next_in_block_ + kRoomIdBlock;
            room_ids_.pop_front();
        }
        if (next_in_block_ < block_end_) {
            id = next_in_block_++;
        }
        low = room_ids_.empty();
    }
    if (low) {
        wake();  // the thread fetches the next block
    }
    return id;
}

void ClusterLink::publish_lobby(std::vector<LobbyItem> changes) {
    if (changes.empty()) {
        return;
    }
    {
        std::lock_guard lock(outgoing_mutex_);
        for (auto& change : changes) {
            lobby_outgoing_.push_back(std::move(change));
        }
    }
    wake();
}

namespace {
// Removals are kept this many batches, so a node that reads every second
// sees them; a node that fell further behind rejoins and reads everything.
constexpr std::int64_t kTombstoneBatches = 2000;
}  // namespace

void ClusterLink::write_lobby() {
    std::vector<LobbyItem> batch;
    {
        std::lock_guard lock(outgoing_mutex_);
        batch.swap(lobby_outgoing_);
    }
    if (batch.empty()) {
        return;
    }
    const auto seq = std::to_string(lobby_seq_ + 1);
    const auto generation = std::to_string(generation_.load());
    try {
        db_->run("BEGIN", {});
        for (const auto& change : batch) {
            if (change.row_json) {
                db_->run(
                    "INSERT INTO cluster_lobby (node_id, item, row_json, seq) VALUES ($1, $2, $3, "
                    "$4) "
                    "ON CONFLICT (node_id, item) DO UPDATE SET row_json = EXCLUDED.row_json, seq = "
                    "EXCLUDED.seq",
                    {options_.node_id, change.item, *change.row_json, seq});
            } else {
                db_->run(
                    "UPDATE cluster_lobby SET row_json = NULL, seq = $3 WHERE node_id = $1 AND "
                    "item = $2",
                    {options_.node_id, change.item, seq});
            }
        }
        db_->run("DELETE FROM cluster_lobby WHERE node_id = $1 AND row_json IS NULL AND seq < $2",
                 {options_.node_id, std::to_string(lobby_seq_ + 1 - kTombstoneBatches)});
        db_->run("UPDATE cluster_nodes SET lobby_seq = $3 WHERE node_id = $1 AND generation = $2",
                 {options_.node_id, generation, seq});
        // Delivered when the transaction commits, never before the rows.
        const json note = {{"kind", "lobby.changed"},
                           {"from", options_.node_id},
                           {"generation", generation_.load()},
                           {"seq", lobby_seq_ + 1}};
        db_->run("SELECT pg_notify('gamestore_cluster', $1)", {note.dump()});
        db_->run("COMMIT", {});
        ++lobby_seq_;
    } catch (...) {
        if (db_->usable()) {
            PQclear(PQexec(db_->conn, "ROLLBACK"));
        }
        // Kept, in order, for the next round.
        std::lock_guard lock(outgoing_mutex_);
        lobby_outgoing_.insert(lobby_outgoing_.begin(), std::make_move_iterator(batch.begin()),
                               std::make_move_iterator(batch.end()));
        throw;
    }
}

void ClusterLink::read_lobby_of(const std::string& node_id, std::int64_t generation) {
    auto& seen = seen_[node_id];
    const bool reset = seen.generation != generation;
    const std::int64_t after = reset ? 0 : seen.seq;
    auto rows = db_->run(
        "SELECT item, row_json, seq FROM cluster_lobby WHERE node_id = $1 AND seq > $2 ORDER BY "
        "seq",
        {node_id, std::to_string(after)});
    std::vector<LobbyItem> items;
    std::int64_t last = after;
    for (int i = 0; i < rows->count(); ++i) {
        last = std::max(last, rows->integer(i, 2));
        LobbyItem item;
        item.item = rows->text(i, 0);
        if (!PQgetisnull(rows->result, i, 1)) {
            item.row_json = rows->text(i, 1);
        } else if (reset) {
            continue;  // a removal of something this node never had
        }
        items.push_back(std::move(item));
    }
    seen.generation = generation;
    seen.seq = last;
    if (reset || !items.empty()) {
        asio::post(lobby_, [this, node_id, reset, items = std::move(items)]() mutable {
            events_.lobby(node_id, reset, std::move(items));
        });
    }
}

void ClusterLink::follow_lobby(const std::vector<ClusterNode>& nodes) {
    for (const auto& node : nodes) {
        if (node.node_id == options_.node_id || !node.alive) {
            continue;
        }
        const auto seen = seen_.find(node.node_id);
        if (seen == seen_.end() || seen->second.generation != node.generation ||
            seen->second.seq < node.lobby_seq) {
            read_lobby_of(node.node_id, node.generation);
        }
    }
    // Nodes that died or left: everything of theirs goes.
    for (auto it = seen_.begin(); it != seen_.end();) {
        const auto live = std::find_if(nodes.begin(), nodes.end(), [&](const ClusterNode& node) {
            return node.node_id == it->first && node.alive;
        });
        if (live == nodes.end()) {
            asio::post(lobby_, [this, node_id = it->first] { events_.lobby(node_id, true, {}); });
            it = seen_.erase(it);
        } else {
            ++it;
        }
    }
}

void ClusterLink::refill_room_ids() {
    {
        std::lock_guard lock(room_ids_mutex_);
        if (!room_ids_.empty()) {
            return;
        }
    }
    auto block = db_->run("SELECT nextval('cluster_room_ids')", {});
    std::lock_guard lock(room_ids_mutex_);
    room_ids_.push_back(block->integer(0, 0));
}

void ClusterLink::wake() {
    if (wake_fd_ >= 0) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
    }
}

void ClusterLink::set_served_sessions(std::vector<std::int64_t> sessions) {
    std::lock_guard lock(outgoing_mutex_);
    served_sessions_ = std::move(sessions);
}

void ClusterLink::check_served_sessions() {
    // Every fifth renewal: a lost notification costs seconds, not a session.
    if (++session_checks_ % 5 != 0) {
        return;
    }
    std::string ids;
    {
        std::lock_guard lock(outgoing_mutex_);
        for (const auto id : served_sessions_) {
            ids += (ids.empty() ? "{" : ",") + std::to_string(id);
        }
    }
    if (ids.empty()) {
        return;
    }
    ids += "}";
    auto rows = db_->run(
        "SELECT id FROM sessions WHERE id = ANY($1::bigint[]) AND revoked_at IS NOT NULL", {ids});
    if (rows->count() == 0) {
        return;
    }
    nlohmann::json ended = nlohmann::json::array();
    for (int i = 0; i < rows->count(); ++i) {
        ended.push_back(rows->integer(i, 0));
    }
    // As if the node that revoked them had said so: its notification was lost.
    asio::post(lobby_, [this, ended = std::move(ended)]() mutable {
        events_.message({{"kind", "session.ended"}, {"sessions", std::move(ended)}});
    });
}

bool ClusterLink::renew() {
    auto renewed = db_->run(
        "UPDATE cluster_nodes SET renewed_at = now(), running_matches = $3, rooms = $4 "
        "WHERE node_id = $1 AND generation = $2",
        {options_.node_id, std::to_string(generation_.load()),
         std::to_string(running_matches_.load()), std::to_string(rooms_.load())});
    return renewed->affected() == 1;
}

std::vector<ClusterNode> ClusterLink::read_nodes() {
    auto rows = db_->run(
        "SELECT node_id, lobby_address, generation, running_matches, rooms, "
        "EXTRACT(EPOCH FROM (now() - renewed_at))::float8, lobby_seq FROM cluster_nodes ORDER BY "
        "node_id",
        {});
    std::vector<ClusterNode> nodes;
    const double dead_after = options_.dead_after.count() / 1000.0;
    for (int i = 0; i < rows->count(); ++i) {
        ClusterNode node;
        node.node_id = rows->text(i, 0);
        node.lobby_address = rows->text(i, 1);
        node.generation = rows->integer(i, 2);
        node.running_matches = static_cast<int>(rows->integer(i, 3));
        node.rooms = static_cast<int>(rows->integer(i, 4));
        node.silent_seconds = std::max(0.0, rows->real(i, 5));
        node.alive = node.silent_seconds < dead_after;
        node.lobby_seq = rows->integer(i, 6);
        nodes.push_back(std::move(node));
    }
    return nodes;
}

void ClusterLink::flush_outgoing() {
    std::vector<std::string> batch;
    {
        std::lock_guard lock(outgoing_mutex_);
        batch.swap(outgoing_);
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        try {
            db_->run("SELECT pg_notify('gamestore_cluster', $1)", {batch[i]});
        } catch (const std::exception& e) {
            // Kept for the next round, in order, unless the link fences:
            // then the other nodes drop this one's state anyway.
            std::lock_guard lock(outgoing_mutex_);
            outgoing_.insert(outgoing_.begin(), batch.begin() + static_cast<std::ptrdiff_t>(i),
                             batch.end());
            spdlog::warn("cluster: could not send to the other nodes: {}", e.what());
            return;
        }
    }
}

void ClusterLink::read_notifications() {
    if (!db_ || !db_->usable() || PQconsumeInput(db_->conn) == 0) {
        return;
    }
    while (PGnotify* note = PQnotifies(db_->conn)) {
        const std::string channel = note->relname;
        const std::string payload = note->extra ? note->extra : "";
        PQfreemem(note);
        if (channel != kChannel) {
            continue;
        }
        auto message = json::parse(payload, nullptr, false);
        if (!message.is_object() || !message.contains("kind") || !message["kind"].is_string()) {
            spdlog::warn("cluster: ignored a notification that is not a message ({} bytes)",
                         payload.size());
            continue;
        }
        const auto from = message.value("from", std::string());
        if (from == options_.node_id) {
            continue;  // our own, echoed
        }
        if (message["kind"] == "lobby.changed") {
            // Read at once rather than at the next renewal: this is the
            // latency of a change crossing nodes.
            try {
                read_lobby_of(from, message.value("generation", std::int64_t{0}));
            } catch (const std::exception& e) {
                spdlog::warn("cluster: could not read node '{}''s lobby changes: {}", from,
                             e.what());
            }
            continue;
        }
        asio::post(lobby_, [this, message = std::move(message)]() mutable {
            events_.message(std::move(message));
        });
    }
}

void ClusterLink::run() {
    auto last_renewed = Clock::now();
    auto next_renew = Clock::now();
    while (!stopping_) {
        const auto now = Clock::now();
        if (now >= next_renew) {
            next_renew = now + options_.renew_every;
            try {
                if (!db_ || !db_->usable()) {
                    db_.reset();
                    connect();
                }
                if (!fenced_ && now - last_renewed >= options_.dead_after) {
                    // Paused (SIGSTOP, a stalled machine) past the timeout:
                    // the others have dropped this node; it must come back
                    // as a new generation, not carry on as if nothing happened.
                    fenced_ = true;
                    const std::string why = fmt::format(
                        "no renewal for {} ms (the process was paused or starved)",
                        std::chrono::duration_cast<std::chrono::milliseconds>(now - last_renewed)
                            .count());
                    spdlog::error("cluster: {}; this node stops serving and joins again", why);
                    asio::post(lobby_, [this, why] { events_.fenced(why); });
                    continue;
                }
                if (fenced_) {
                    take_row();
                    db_->run("DELETE FROM cluster_lobby WHERE node_id = $1", {options_.node_id});
                    lobby_seq_ = 0;
                    seen_.clear();
                    {
                        // Rows queued before the fence describe the old generation.
                        std::lock_guard lock(outgoing_mutex_);
                        lobby_outgoing_.clear();
                    }
                    fenced_ = false;
                    last_renewed = now;
                    spdlog::warn("cluster: node '{}' joined again (generation {})",
                                 options_.node_id, generation_.load());
                    asio::post(lobby_, [this, generation = generation_.load()] {
                        events_.rejoined(generation);
                    });
                } else if (!renew()) {
                    fenced_ = true;
                    const std::string why =
                        "another process took node id '" + options_.node_id + "'";
                    spdlog::error("cluster: {}; this node stops serving", why);
                    asio::post(lobby_, [this, why] { events_.fenced(why); });
                    continue;
                } else {
                    last_renewed = now;
                }
                auto nodes = read_nodes();
                follow_lobby(nodes);
                check_served_sessions();
                asio::post(lobby_, [this, nodes = std::move(nodes)]() mutable {
                    events_.nodes(std::move(nodes));
                });
            } catch (const std::exception& e) {
                spdlog::warn("cluster: {}", e.what());
                if (!fenced_ && Clock::now() - last_renewed >= options_.dead_after) {
                    fenced_ = true;
                    const std::string why = fmt::format("the database did not answer for {} ms",
                                                        options_.dead_after.count());
                    spdlog::error("cluster: {}; this node stops serving until it answers again",
                                  why);
                    asio::post(lobby_, [this, why] { events_.fenced(why); });
                }
            }
        }
        if (!fenced_ && db_ && db_->usable()) {
            try {
                write_lobby();
            } catch (const std::exception& e) {
                spdlog::warn("cluster: could not share lobby changes: {}", e.what());
            }
            flush_outgoing();
            try {
                refill_room_ids();
            } catch (const std::exception& e) {
                spdlog::warn("cluster: could not fetch room ids: {}", e.what());
            }
        }
        std::vector<pollfd> fds;
        fds.push_back({wake_fd_, POLLIN, 0});
        if (db_ && db_->usable()) {
            fds.push_back({PQsocket(db_->conn), POLLIN, 0});
        }
        const auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(next_renew - Clock::now());
        ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(0, wait.count())));
        if (fds[0].revents & POLLIN) {
            std::uint64_t drained = 0;
            [[maybe_unused]] auto ignored = ::read(wake_fd_, &drained, sizeof drained);
        }
        read_notifications();
    }
}

}  // namespace gamestore::server
