#include "sim/runner.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "platform/asio/asio.hpp"
#include "platform/client/lobby_client.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/packages/command_template.hpp"
#include "platform/packages/launch_info.hpp"
#include "platform/packages/manifest.hpp"
#include "platform/packages/sha256.hpp"
#include "platform/packages/zip.hpp"
#include "platform/protocol/lobby_mirror.hpp"
#include "platform/protocol/redirect.hpp"
#include "platform/store/open_store.hpp"
#include "sim/checkers.hpp"
#include "sim/server_process.hpp"
#include "sim/tolerant.hpp"

namespace gamestore::sim {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// A lobby connection dropped under a simulated player (server killed, or a
// bug): the round is abandoned and the player reconnects.
struct ConnectionLost : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string game_name(const std::string& profile) { return "fakegame-" + profile; }

// Events a player keeps until its driver looks at them; beyond this the
// oldest go (a player outside every round would otherwise hoard them).
constexpr std::size_t kMaxQueuedEvents = 256;

struct TimedEvent {
    protocol::Event event;
    Clock::time_point at;
};

struct SimPlayer {
    std::string name;
    std::string password;
    std::string role = "player";
    std::shared_ptr<client::LobbyClient> client;
    int node = 0;        // the cluster node it talks to (0 on a single server)
    int generation = 0;  // that node's server generation the client is connected to
    bool registered = false;
    bool closed = true;
    std::deque<TimedEvent> events;
    std::unique_ptr<asio::steady_timer> wake;
    // Lobby deltas (docs/PROTOCOL.md "Lobby deltas"): the observer keeps a
    // whole copy of the lobby; the other players, hundreds of them, only
    // check that the sequence numbers follow each other, reading each
    // delta's seq off its line without parsing it (a copy or a parse each
    // would cost the sim's one thread more than the server spends).
    protocol::LobbyMirror lobby;
    std::optional<std::uint64_t> lobby_seq;
    std::string token;  // the session to resume on the next connection
    int redirects = 0;  // MOVED answers followed for the request in progress
};

// What the players saw of the lobby deltas (reported as lobby_deltas).
struct DeltaTally {
    std::uint64_t received = 0;
    std::uint64_t gaps = 0;
    std::uint64_t resyncs = 0;
};

struct RoundPlan {
    std::size_t game = 0;  // index into scenario.games
    int members = 1;
};

struct DriverPlan {
    std::vector<int> players;  // indexes into players_
    double arrival_sec = 0;
    std::vector<RoundPlan> rounds;
};

struct LiveMatch {
    std::int64_t room_id = 0;
    std::string match_id;
    std::string report_token;  // read from the server's match dir (for stale replays)
    std::vector<std::string> players;
};

// What one member of a match has seen of it so far.
struct MemberView {
    bool saw_match = false;   // any view of this match (STARTING on)
    bool in_game = false;
    json launch;
    Clock::time_point in_game_at;
    bool ended = false;
    json ended_data;
    bool back_waiting = false;
};

struct ClientRun {
    std::string player;
    pid_t pid = -1;
    fs::path log;
    json result;  // the client's result line, once reaped
};

// One player's review of one game as far as the sim knows it: the last
// rating the server acknowledged, and the ratings sent since whose answer
// was lost with the connection (the server may have committed any of them).
struct ReviewRecord {
    std::optional<int> acknowledged;
    std::set<int> unanswered;
};

// Everything acknowledged by the server (I7).
struct Ledger {
    std::vector<std::pair<std::string, std::string>> accounts;          // (role, name)
    std::vector<std::pair<std::string, std::string>> versions;          // (game, version)
    std::map<std::pair<std::string, std::string>, ReviewRecord> reviews;  // (player, game)
    std::map<std::string, std::string> match_results;                   // match_id -> status
};

double uniform(std::mt19937_64& rng, double low, double high) {
    return std::uniform_real_distribution<double>(low, high)(rng);
}

bool port_listenable(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    // SO_REUSEADDR like any server: TIME_WAIT leftovers of finished matches
    // do not count, a listener does.
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(port);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 && ::listen(fd, 1) == 0;
    ::close(fd);
    return ok;
}

// The last JSON object line a fakegame client printed.
json client_result(const fs::path& log) {
    std::istringstream lines(read_text(log));
    std::string line;
    json last;
    while (std::getline(lines, line)) {
        if (!line.empty() && line.front() == '{') {
            auto parsed = json::parse(line, nullptr, false);
            if (!parsed.is_discarded() && parsed.contains("result")) {
                last = std::move(parsed);
            }
        }
    }
    return last;
}

// The lobby pinger (I6) on a thread and io_context of its own, on a second
// connection of the observer's session: the pings measure the server, not
// the sim's one thread, which also parses, launches game clients (each a
// vfork that holds the thread until the child execs) and scans /proc.
class PingThread {
  public:
    struct Ping {
        Clock::time_point sent;
        Clock::time_point received;
        bool ok = false;
        std::string detail;
    };

    PingThread() : work_(asio::make_work_guard(io_)) {}
    ~PingThread() { stop(); }
    PingThread(const PingThread&) = delete;
    PingThread& operator=(const PingThread&) = delete;

    void start() {
        asio::co_spawn(io_, run(), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    // The server to ping (a new generation after a restart), or none while
    // it is down; pings answered by a generation that is gone do not count.
    void set_target(std::string host, std::uint16_t port, int generation, std::string token) {
        std::lock_guard lock(mutex_);
        target_ = Target{std::move(host), port, generation, std::move(token), true};
    }
    void set_down() {
        std::lock_guard lock(mutex_);
        target_.up = false;
    }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        asio::post(io_, [this] {
            work_.reset();
            if (client_)
                client_->close();
            pause_.cancel();
        });
        if (thread_.joinable())
            thread_.join();
    }
    // Every ping, once stopped.
    const std::vector<Ping>& pings() const { return pings_; }

  private:
    struct Target {
        std::string host;
        std::uint16_t port = 0;
        int generation = 0;
        std::string token;
        bool up = false;
    };
    Target target() {
        std::lock_guard lock(mutex_);
        return target_;
    }
    bool stopping() {
        std::lock_guard lock(mutex_);
        return stopping_;
    }
    asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
        pause_.expires_after(duration);
        boost::system::error_code ec;
        co_await pause_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }

    asio::awaitable<void> run() {
        int connected_generation = -1;
        while (!stopping()) {
            const auto now = target();
            if (!now.up || now.token.empty()) {
                co_await sleep_for(20ms);
                continue;
            }
            if (!client_ || !client_->is_open() || connected_generation != now.generation) {
                if (client_)
                    client_->close();
                client_.reset();
                try {
                    client_ = co_await client::LobbyClient::connect(now.host, now.port, 5s);
                } catch (const std::exception&) {
                    client_.reset();
                }
                if (!client_) {
                    co_await sleep_for(100ms);
                    continue;
                }
                // Deltas stay on, as for any player with the menu open; their
                // numbers are not looked at.
                client_->set_delta_number_handler([](const protocol::DeltaNumber&) {});
                const json resume = {{"token", now.token}};
                if (!(co_await client_->call("auth.resume", resume)).ok) {
                    client_->close();
                    client_.reset();
                    co_await sleep_for(100ms);
                    continue;
                }
                connected_generation = now.generation;
            }
            Ping ping;
            ping.sent = Clock::now();
            const json none = json::object();
            const auto pong = co_await client_->call("ping", none);
            ping.received = Clock::now();
            const auto after = target();
            if (after.up && after.generation == now.generation) {
                ping.ok = pong.ok;
                ping.detail = pong.ok ? std::string() : pong.error_code + ": " + pong.message;
                pings_.push_back(std::move(ping));
            }
            co_await sleep_for(20ms);
        }
    }

    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    asio::steady_timer pause_{io_};
    std::thread thread_;
    std::mutex mutex_;
    Target target_;
    bool stopping_ = false;
    std::shared_ptr<client::LobbyClient> client_;  // the ping thread's own
    std::vector<Ping> pings_;                      // the ping thread's own until stopped
};

class Run {
public:
    Run(const Scenario& scenario, const RunOptions& options, std::uint64_t seed)
        : sc_(scenario),
          opt_(options),
          seed_(seed),
          rng_(seed),
          t0_(Clock::now()),
          deadline_(t0_ + std::chrono::milliseconds(static_cast<std::int64_t>(scenario.time_limit_sec * 1000))),
          checks_(t0_),
          server_up_(io_),
          drivers_done_(io_) {
        result_.scenario = scenario.name;
        result_.file = scenario.file.string();
        result_.seed = seed;
    }

    ScenarioResult execute();
    bool hung() const { return hung_; }

private:
    // --- plan -------------------------------------------------------------
    void make_plan();
    std::vector<std::string> server_args(int node) const;

    // --- bookkeeping --------------------------------------------------------
    double now_ms() const { return std::chrono::duration<double, std::milli>(Clock::now() - t0_).count(); }
    void record(double start, const std::string& actor, const std::string& op, OpOutcome outcome,
                std::string detail = {});
    void progress(const std::string& line) {
        if (opt_.progress) opt_.progress(line);
    }
    void expectation_failed(std::string message) {
        if (result_.expectation_failures.size() < 50) result_.expectation_failures.push_back(std::move(message));
    }
    template <class Coroutine>
    void spawn(Coroutine coroutine, const std::string& what);

    // --- waiting ------------------------------------------------------------
    asio::awaitable<void> sleep_until(Clock::time_point when);
    asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
        co_await sleep_until(Clock::now() + duration);
    }
    asio::awaitable<bool> wait_server_up(int node, Clock::time_point deadline);
    std::string node_ports(int node) const;

    // --- players ------------------------------------------------------------
    asio::awaitable<void> ensure_session(SimPlayer& player);
    void count_delta(SimPlayer& p, std::uint64_t seq);
    void on_lobby_delta(SimPlayer& p, const protocol::Event& event);
    asio::awaitable<void> resync_lobby(SimPlayer& p);
    asio::awaitable<protocol::Response> call(SimPlayer& player, std::string op, json args,
                                             client::CallOptions options = {});
    asio::awaitable<std::optional<TimedEvent>> next_event(SimPlayer& player, Clock::time_point deadline);
    asio::awaitable<bool> follow(SimPlayer& player, MemberView& view, std::int64_t room_id,
                                 const std::string& match_id, bool until_end, Clock::time_point deadline);

    // --- actors -------------------------------------------------------------
    asio::awaitable<void> main_flow();
    asio::awaitable<void> publish_all();
    asio::awaitable<bool> publish(SimPlayer& developer, const fs::path& package_dir, const std::string& version,
                                  bool hidden);
    asio::awaitable<void> driver(std::size_t index);
    asio::awaitable<void> play_round(std::vector<SimPlayer*> members, const RoundPlan& round);
    asio::awaitable<void> abandon(std::vector<SimPlayer*> seated, std::int64_t room_id, const std::string& match_id,
                                  Clock::time_point deadline);
    asio::awaitable<void> browser(int index, double arrival_sec);
    asio::awaitable<void> developer_loop(std::size_t index);
    void collect_pings();
    asio::awaitable<void> argv_scanner();
    asio::awaitable<void> killer();
    asio::awaitable<void> forger();
    asio::awaitable<void> abuse(std::string kind, bool report_port, double offset_sec);
    asio::awaitable<void> audit_report_counters(const std::string& when);
    asio::awaitable<void> final_lobby_checks();
    // Cluster checks: a killed node's rooms leave the other nodes' lobby
    // within the liveness timeout; every node shows the same lobby.
    asio::awaitable<void> dead_rooms_check(std::set<std::int64_t> orphaned,
                                           Clock::time_point killed_at);
    asio::awaitable<void> same_lobby_everywhere();

    // --- processes ----------------------------------------------------------
    std::optional<ClientRun> launch_client(const std::string& profile, int think_ms, const std::string& player,
                                           const json& launch, const json& room);
    asio::awaitable<void> reap_client(ClientRun& run, const std::string& match_id, Clock::time_point deadline);
    void check_match_cleaned(const std::string& match_id);
    void after_run_checks();
    void shut_down();

    const Scenario& sc_;
    RunOptions opt_;
    std::uint64_t seed_;
    std::mt19937_64 rng_;
    Clock::time_point t0_;
    Clock::time_point deadline_;
    Clock::time_point abuse_start_{}, abuse_end_{};
    asio::io_context io_;
    // One per cluster node; a single server is node 0. Each restart of a
    // node starts a new generation of it.
    struct Node {
        std::unique_ptr<ServerProcess> server;
        int generation = 1;
        bool down = false;
    };
    std::vector<Node> nodes_;
    ServerProcess& server(int node = 0) { return *nodes_[static_cast<std::size_t>(node)].server; }
    // The node whose lobby listens at host:port now; -1 when none does (or it is down).
    int node_at(const std::string& address) const;
    // Rooms by the node they were made on, and the rooms of each node's
    // killed generation still to leave every lobby (cluster checks).
    std::map<std::int64_t, int> room_nodes_;
    Checkers checks_;
    ScenarioResult result_;
    Ledger ledger_;

    std::vector<std::unique_ptr<SimPlayer>> players_;
    std::vector<std::unique_ptr<SimPlayer>> developers_;
    std::unique_ptr<SimPlayer> observer_;
    std::vector<DriverPlan> drivers_;
    std::vector<std::pair<int, double>> browsers_;  // (player index, arrival)
    std::vector<std::string> published_games_;      // profiles actually published
    std::map<std::size_t, std::vector<std::string>> games_of_developer_;
    std::uint16_t port_first_ = 0, port_last_ = 0;

    asio::steady_timer server_up_;  // woken when a node comes back
    int drivers_running_ = 0;
    asio::steady_timer drivers_done_;
    bool stopping_ = false;
    bool shut_down_ = false;  // every connection closed: none may open again
    bool hung_ = false;
    int background_running_ = 0;

    std::map<std::string, LiveMatch> live_matches_;
    std::deque<LiveMatch> ended_matches_;  // recent, for stale replays
    std::set<std::string> all_matches_;
    std::set<std::uint16_t> ports_used_;
    std::uint64_t forged_this_generation_ = 0;
    std::uint64_t forged_answered_this_generation_ = 0;  // the server's reply arrived: judged
    std::vector<double> launch_latency_, rtt_, rtt_abuse_;
    PingThread pinger_;
    DeltaTally deltas_;
};

// --------------------------------------------------------------------------
// plan

void Run::make_plan() {
    const auto& w = sc_.workload;
    std::vector<double> weights;
    for (const auto& game : sc_.games) weights.push_back(game.weight);
    std::discrete_distribution<std::size_t> pick_game(weights.begin(), weights.end());

    auto arrival = [&, clock = 0.0](int n) mutable {
        switch (w.arrival) {
            case Arrival::Burst:
                return 0.0;
            case Arrival::Uniform:
                return uniform(rng_, 0, w.arrival_window_sec);
            case Arrival::Poisson: {
                const double mean = w.arrival_window_sec / std::max(1, n);
                clock += std::exponential_distribution<double>(1.0 / std::max(mean, 1e-6))(rng_);
                return clock;
            }
        }
        return 0.0;
    };

    for (int i = 0; i < w.players; ++i) {
        auto player = std::make_unique<SimPlayer>();
        player->name = "sim-p" + std::to_string(i);
        player->password = "sim-password-" + std::to_string(i);
        player->node = i % sc_.server.nodes;  // spread over the cluster's nodes
        player->wake = std::make_unique<asio::steady_timer>(io_);
        players_.push_back(std::move(player));
    }
    for (int i = 0; i < w.developers; ++i) {
        auto dev = std::make_unique<SimPlayer>();
        dev->name = "sim-dev" + std::to_string(i);
        dev->password = "sim-dev-password-" + std::to_string(i);
        dev->role = "developer";
        dev->node = i % sc_.server.nodes;
        dev->wake = std::make_unique<asio::steady_timer>(io_);
        developers_.push_back(std::move(dev));
    }
    observer_ = std::make_unique<SimPlayer>();
    observer_->name = "sim-observer";
    observer_->password = "sim-observer-password";
    observer_->wake = std::make_unique<asio::steady_timer>(io_);

    // Players are dealt to room drivers in equal groups; the rest browse.
    const int group = std::max(1, w.players / w.rooms);
    int next = 0;
    json schedule_drivers = json::array();
    // Every game of the mix is played at least once when there are enough
    // rounds (in a seeded order, spread over the first round of each room
    // first); the remaining rounds follow the weights.
    std::vector<std::size_t> must_play(sc_.games.size());
    for (std::size_t g = 0; g < must_play.size(); ++g) must_play[g] = g;
    std::shuffle(must_play.begin(), must_play.end(), rng_);
    auto game_for = [&](int room, int round) -> std::size_t {
        const auto slot = static_cast<std::size_t>(round) * static_cast<std::size_t>(w.rooms) +
                          static_cast<std::size_t>(room);
        return slot < must_play.size() ? must_play[slot] : pick_game(rng_);
    };
    for (int r = 0; r < w.rooms; ++r) {
        DriverPlan plan;
        for (int k = 0; k < group && next < w.players; ++k) plan.players.push_back(next++);
        plan.arrival_sec = arrival(w.rooms);
        json rounds = json::array();
        for (int round = 0; round < w.rounds; ++round) {
            RoundPlan rp;
            rp.game = game_for(r, round);
            const auto& game = sc_.games[rp.game];
            const int high = std::min<int>(game.max_members, static_cast<int>(plan.players.size()));
            const int low = std::min(game.min_members, high);
            rp.members = std::uniform_int_distribution<int>(low, high)(rng_);
            plan.rounds.push_back(rp);
            rounds.push_back({{"profile", game.profile}, {"members", rp.members}});
        }
        schedule_drivers.push_back({{"players", plan.players}, {"arrival_sec", plan.arrival_sec}, {"rounds", rounds}});
        drivers_.push_back(std::move(plan));
    }
    for (; next < w.players; ++next) browsers_.emplace_back(next, arrival(w.players));

    const auto pid = static_cast<unsigned>(::getpid());
    // Below the kernel's ephemeral range (32768+), so no outgoing connection
    // takes a game port between the pool's check and the game's bind.
    const unsigned span = static_cast<unsigned>(std::max(sc_.server.game_port_count, 10));
    const unsigned slots = std::max(1u, 12000u / span);
    port_first_ = static_cast<std::uint16_t>(20000 + (pid % slots) * span);
    port_last_ = static_cast<std::uint16_t>(port_first_ + span - 1);

    abuse_start_ = t0_ + std::chrono::milliseconds(static_cast<std::int64_t>(sc_.abuse.start_sec * 1000));
    abuse_end_ = abuse_start_ + std::chrono::milliseconds(static_cast<std::int64_t>(sc_.abuse.duration_sec * 1000));

    json kills = json::array();
    for (const auto& kill : sc_.kills) {
        kills.push_back(kill.at_sec
                            ? json{{"at_sec", *kill.at_sec}, {"node", kill.node}}
                            : json{{"after_matches", *kill.after_matches}, {"node", kill.node}});
    }
    result_.schedule = {{"seed", seed_},
                        {"drivers", schedule_drivers},
                        {"browsers", browsers_.size()},
                        {"game_ports", std::to_string(port_first_) + "-" + std::to_string(port_last_)},
                        {"abuse", {{"start_sec", sc_.abuse.start_sec}, {"duration_sec", sc_.abuse.duration_sec}}},
                        {"kills", kills}};
}

std::vector<std::string> Run::server_args(int node) const {
    const auto& s = sc_.server;
    auto num = [](double value) {
        std::ostringstream out;
        out << value;
        return out.str();
    };
    std::vector<std::string> args = {"--fast-password-hash",
                                     "--log-level",
                                     "info",
                                     "--game-ports",
                                     node_ports(node),
                                     "--advertise-host",
                                     "127.0.0.1",
                                     "--bind-host",
                                     "127.0.0.1",
                                     "--startup-timeout",
                                     num(s.startup_timeout_sec),
                                     "--stop-grace",
                                     num(s.stop_grace_sec),
                                     "--end-grace",
                                     num(s.end_grace_sec),
                                     "--heartbeat-warn-factor",
                                     num(s.heartbeat_warn_factor),
                                     "--heartbeat-kill-factor",
                                     num(s.heartbeat_kill_factor),
                                     "--report-rate",
                                     num(s.report_rate),
                                     "--auth-deadline",
                                     num(s.auth_deadline_sec),
                                     "--match-log-cap",
                                     std::to_string(s.match_log_cap)};
    args.insert(args.end(), s.extra_args.begin(), s.extra_args.end());
    args.insert(args.end(), opt_.extra_server_args.begin(), opt_.extra_server_args.end());
    if (s.nodes > 1) {
        args.insert(args.end(), {"--node-id", "sim-node-" + std::to_string(node)});
    }
    return args;
}

std::string Run::node_ports(int node) const {
    // The sim's range split evenly between the nodes: each runs its own games.
    const int span = (port_last_ - port_first_ + 1) / sc_.server.nodes;
    const int first = port_first_ + node * span;
    return std::to_string(first) + "-" + std::to_string(first + span - 1);
}

int Run::node_at(const std::string& address) const {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        const auto& e = nodes_[i].server->endpoints();
        if (!nodes_[i].down && e.lobby_host + ":" + std::to_string(e.lobby_port) == address) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

// --------------------------------------------------------------------------
// bookkeeping

void Run::record(double start, const std::string& actor, const std::string& op, OpOutcome outcome,
                 std::string detail) {
    switch (outcome) {
        case OpOutcome::Ok: ++result_.ops_ok; break;
        case OpOutcome::Fail: ++result_.ops_fail; break;
        case OpOutcome::Unknown: ++result_.ops_unknown; break;
    }
    result_.ops.push_back({start, now_ms(), actor, op, outcome, std::move(detail)});
}

template <class Coroutine>
void Run::spawn(Coroutine coroutine, const std::string& what) {
    asio::co_spawn(io_, std::move(coroutine), [this, what](std::exception_ptr error) {
        if (!error) return;
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            record(now_ms(), "sim", what, OpOutcome::Fail, std::string("stopped: ") + e.what());
            expectation_failed(what + " stopped: " + e.what());
        }
    });
}

asio::awaitable<void> Run::sleep_until(Clock::time_point when) {
    asio::steady_timer timer(io_, when);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<bool> Run::wait_server_up(int node, Clock::time_point deadline) {
    while (nodes_[static_cast<std::size_t>(node)].down) {
        if (Clock::now() >= deadline) co_return false;
        server_up_.expires_at(deadline);
        boost::system::error_code ec;
        co_await server_up_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return true;
}

// --------------------------------------------------------------------------
// players

asio::awaitable<void> Run::ensure_session(SimPlayer& p) {
    if (p.client && !p.closed &&
        p.generation == nodes_[static_cast<std::size_t>(p.node)].generation)
        co_return;
    if (p.client) {
        auto old = std::move(p.client);
        old->close();
    }
    for (int attempt = 0;; ++attempt) {
        // A player whose node is down goes to another one, as a player's
        // launcher would; a single server is waited for.
        for (std::size_t i = 0; i < nodes_.size() && nodes_[static_cast<std::size_t>(p.node)].down;
             ++i) {
            if (!nodes_[i].down)
                p.node = static_cast<int>(i);
        }
        if (!co_await wait_server_up(p.node, deadline_))
            throw ConnectionLost("the server did not come back");
        const int generation = nodes_[static_cast<std::size_t>(p.node)].generation;
        const auto endpoints = server(p.node).endpoints();
        const double start = now_ms();
        std::shared_ptr<client::LobbyClient> connection;
        std::string problem;
        try {
            connection = co_await client::LobbyClient::connect(endpoints.lobby_host, endpoints.lobby_port, 5s);
        } catch (const std::exception& e) {
            problem = e.what();
        }
        if (!connection) {
            record(start, p.name, "connect", OpOutcome::Fail, problem);
            if (attempt >= 20 || Clock::now() >= deadline_) throw ConnectionLost(p.name + " cannot connect: " + problem);
            co_await sleep_for(100ms);
            continue;
        }
        record(start, p.name, "connect", OpOutcome::Ok);
        if (shut_down_) {
            // The run ended while this connection was being made: shut_down
            // closed every connection it knew of, and an open one left now
            // would keep the sim's io_context from running dry.
            connection->close();
            throw ConnectionLost(p.name + ": the run is over");
        }
        if (generation !=
            nodes_[static_cast<std::size_t>(p.node)].generation) {  // restarted meanwhile
            connection->close();
            continue;
        }
        p.client = connection;
        p.closed = false;
        p.generation = generation;
        p.events.clear();
        // A new connection numbers its deltas afresh (a restarted server
        // starts again from 1): forget the last connection's before any
        // arrives.
        p.lobby.reset();
        p.lobby_seq.reset();
        SimPlayer* self = &p;
        auto* client_raw = connection.get();
        connection->set_event_handler([this, self, client_raw](const protocol::Event& event) {
            if (self->client.get() != client_raw) return;
            if (event.name == "room.updated") {
                checks_.on_room_view(self->name, event.data);
            } else if (event.name == "match.ended") {
                checks_.on_match_ended(self->name, event.data);
                bool forged = false;
                for (const auto& r : list(event.data, "results")) {
                    forged = forged || sub(sub(r, "extra"), "sim_forged") == json(true);
                }
                if (forged) {
                    checks_.violate(Inv::I4, "match " + str(event.data, "match_id") +
                                                 " ended with the results of a forged END report");
                } else if (str(event.data, "status") == "END") {
                    checks_.check(Inv::I4);
                }
            } else if (protocol::is_lobby_delta(event.name)) {
                on_lobby_delta(*self, event);
                return;
            }
            if (event.name != "room.updated" && event.name != "match.ended") return;  // nobody waits on others
            if (self->events.size() >= kMaxQueuedEvents) self->events.pop_front();
            self->events.push_back({event, Clock::now()});
            self->wake->cancel();
        });
        if (&p != observer_.get()) {
            connection->set_delta_number_handler(
                [this, self, client_raw](const protocol::DeltaNumber& delta) {
                    if (self->client.get() != client_raw)
                        return;
                    count_delta(*self, delta.seq);
                });
        }
        connection->set_close_handler([self, client_raw] {
            if (self->client.get() != client_raw) return;
            self->closed = true;
            self->wake->cancel();
        });
        if (!p.registered) {
            json credentials = {{"role", p.role}, {"name", p.name}, {"password", p.password}};
            for (int tries = 0;; ++tries) {
                auto reg = co_await call(p, "auth.register", credentials);
                if (reg.ok) {
                    ledger_.accounts.emplace_back(p.role, p.name);
                    break;
                }
                if (reg.error_code == "CONFLICT")
                    break;
                // The server's password-hash queue is full: it said so at once.
                if (reg.error_code != "UNAVAILABLE" || tries >= 100 || Clock::now() >= deadline_) {
                    throw std::runtime_error("register of " + p.name +
                                             " failed: " + reg.error_code + " " + reg.message);
                }
                co_await sleep_for(std::chrono::milliseconds(50 + 10 * std::min(tries, 45)));
            }
            p.registered = true;
        }
        // A player coming back (after a restart, say) resumes its session:
        // no password hash, so a whole crowd signing back in at once does not
        // queue behind argon2. A login is the fallback, retried while the
        // server says its hash queue is full.
        bool resumed = false;
        if (!p.token.empty()) {
            json resume = {{"token", p.token}};
            resumed = (co_await call(p, "auth.resume", resume)).ok;
        }
        for (int tries = 0; !resumed; ++tries) {
            json credentials = {{"role", p.role}, {"name", p.name}, {"password", p.password}};
            auto login = co_await call(p, "auth.login", credentials);
            if (login.ok) {
                p.token = str(login.data, "token");
                checks_.add_secret(p.token, "the session token of " + p.name);
                break;
            }
            const bool busy =
                login.error_code == "UNAVAILABLE" || login.error_code == "RATE_LIMITED";
            if (!busy || tries >= 100 || Clock::now() >= deadline_) {
                throw std::runtime_error("login of " + p.name + " failed: " + login.error_code +
                                         " " + login.message);
            }
            co_await sleep_for(std::chrono::milliseconds(50 + 10 * std::min(tries, 45)));
        }
        // Every player keeps the lobby deltas on, as a player with the menu
        // open does; the observer builds its copy from a snapshot.
        if (&p == observer_.get())
            co_await resync_lobby(p);
        co_return;
    }
}

void Run::count_delta(SimPlayer& p, std::uint64_t seq) {
    ++deltas_.received;
    if (p.lobby_seq && seq != *p.lobby_seq + 1)
        ++deltas_.gaps;
    p.lobby_seq = seq;
}

void Run::on_lobby_delta(SimPlayer& p, const protocol::Event& event) {
    if (&p != observer_.get()) {
        // A line the client's scanner could not read: numbered the same way.
        count_delta(p, static_cast<std::uint64_t>(num(event.data, "seq")));
        return;
    }
    ++deltas_.received;
    // The same rows go to everyone: the observer's copy is enough for I2.
    checks_.on_public_payload(p.name, event.data, event.name);
    if (p.lobby.apply_delta(event.name, event.data) == protocol::MirrorStep::Gap) {
        ++deltas_.gaps;
        spawn(resync_lobby(p), "lobby resync of " + p.name);
    }
}

asio::awaitable<void> Run::resync_lobby(SimPlayer& p) {
    ++deltas_.resyncs;
    try {
        json none = json::object();
        auto snapshot = co_await call(p, "lobby.snapshot", none);
        if (snapshot.ok)
            p.lobby.apply_snapshot(snapshot.data);
    } catch (const ConnectionLost&) {
        // The next session starts from a snapshot of its own.
    }
}

asio::awaitable<protocol::Response> Run::call(SimPlayer& p, std::string op, json args, client::CallOptions options) {
    if (!p.client || p.closed) throw ConnectionLost(p.name + " has no lobby connection");
    const double start = now_ms();
    auto client = p.client;  // keeps it alive across the await
    auto response = co_await client->call(op, args, options);
    const bool lost = !response.ok && (response.error_code == "UNAVAILABLE" || response.error_code == "TIMEOUT") &&
                      (!client->is_open() || p.closed);
    record(start, p.name, op, response.ok ? OpOutcome::Ok : (lost ? OpOutcome::Unknown : OpOutcome::Fail),
           response.ok ? std::string() : response.error_code + ": " + response.message);
    if (lost) throw ConnectionLost(p.name + ": " + op + " got no answer (" + response.message + ")");
    std::string malformed;
    if (const auto redirect = protocol::redirect_of(response, &malformed)) {
        // A cluster node sent us elsewhere: go there, resume, ask again.
        const int target = node_at(redirect->address);
        if (target < 0) {
            // A node killed a moment ago is still alive to the others until
            // its row lapses (5 s), and its old address is nobody's once it
            // restarts: a client there finds the door shut, as after a crash.
            p.redirects = 0;
            ++result_.faults["redirect_to_a_dead_node"];
            throw ConnectionLost(p.name + ": " + op + " was redirected to " + redirect->address +
                                 ", a node that is down");
        }
        if (p.redirects >= protocol::kMaxRedirects) {
            expectation_failed(p.name + ": " + op + " was redirected to " + redirect->address +
                               " after two redirects already");
            co_return response;
        }
        ++p.redirects;
        ++result_.faults["redirect_followed"];
        p.node = target;
        p.generation = 0;  // forces a new connection in ensure_session
        try {
            co_await ensure_session(p);
            auto again = co_await call(p, std::move(op), std::move(args), std::move(options));
            p.redirects = 0;
            co_return again;
        } catch (...) {
            p.redirects = 0;
            throw;
        }
    }
    if (!malformed.empty())
        expectation_failed(p.name + ": " + op + ": " + malformed);
    if (response.ok && response.data.is_object()) {
        if (response.data.contains("room")) {
            checks_.on_room_view(p.name, response.data.at("room"));
        } else if (op == "room.list" || op == "lobby.players" || op == "lobby.snapshot" ||
                   op.rfind("store.", 0) == 0) {
            checks_.on_public_payload(p.name, response.data, op);
        }
    }
    co_return response;
}

asio::awaitable<std::optional<TimedEvent>> Run::next_event(SimPlayer& p, Clock::time_point deadline) {
    while (p.events.empty()) {
        if (p.closed) throw ConnectionLost(p.name + " lost its lobby connection");
        if (Clock::now() >= deadline) co_return std::nullopt;
        p.wake->expires_at(deadline);
        boost::system::error_code ec;
        co_await p.wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    auto event = std::move(p.events.front());
    p.events.pop_front();
    co_return event;
}

// Consumes the player's events until the match is IN_GAME or over
// (until_end false) or over and the room back in WAITING (until_end true).
asio::awaitable<bool> Run::follow(SimPlayer& p, MemberView& view, std::int64_t room_id, const std::string& match_id,
                                  bool until_end, Clock::time_point deadline) {
    auto done = [&] { return until_end ? (view.ended && view.back_waiting) : (view.in_game || view.ended); };
    while (!done()) {
        auto next = co_await next_event(p, deadline);
        if (!next) co_return false;
        const auto& event = next->event;
        const auto& data = event.data;
        if (event.name == "room.updated" && num(data, "room_id") == room_id) {
            const auto state = str(data, "state");
            if (str(data, "match_id") == match_id) view.saw_match = true;
            if (state == "IN_GAME" && str(sub(data, "launch"), "match_id") == match_id) {
                view.in_game = true;
                view.launch = data.at("launch");
                view.in_game_at = next->at;
            } else if (state == "WAITING" && (view.saw_match || view.ended)) {
                view.back_waiting = true;
            }
        } else if (event.name == "match.ended" && str(data, "match_id") == match_id) {
            view.ended = true;
            view.ended_data = data;
        }
    }
    co_return true;
}

// --------------------------------------------------------------------------
// processes

std::optional<ClientRun> Run::launch_client(const std::string& profile, int think_ms, const std::string& player,
                                            const json& launch, const json& room) {
    const double start = now_ms();
    const auto package = opt_.packages_dir / profile;
    auto parsed = packages::load_manifest(package / "manifest.json");
    const auto match_id = str(launch, "match_id");
    const auto dir = opt_.work_dir / "clients" / (match_id + "-" + player);
    ClientRun run;
    run.player = player;
    run.log = dir.string() + ".log";
    try {
        if (!parsed.ok()) throw std::runtime_error("the manifest of " + package.string() + " does not load");
        const auto context = packages::client_context_from_launch(launch, room, player, dir);
        launch::create_private_dir(dir);
        launch::write_private_file(context.client_token_path, context.client_token);
        const auto spec = packages::render_client_launch(*parsed.manifest, context, package);
        launch::ProcessSpec process;
        process.argv = spec.argv;
        process.env = launch::base_environment();
        process.env.insert(process.env.end(), spec.env.begin(), spec.env.end());
        process.env.emplace_back("FAKEGAME_THINK_MS", std::to_string(think_ms));
        process.cwd = spec.cwd;
        // A player's game client runs on the player's machine, not next to
        // the server: here it shares the server's cores, so it gets the
        // priority the server gives its game servers (nice +10) rather than
        // the lobby's.
        process.nice = 10;
        process.new_session = false;
        process.new_process_group = true;
        process.output_file = run.log;
        checks_.on_client_launch(player, launch);
        auto spawned = launch::spawn_process(process);
        if (auto* error = std::get_if<std::string>(&spawned)) throw std::runtime_error(*error);
        run.pid = std::get<launch::SpawnedProcess>(spawned).pid;
    } catch (const std::exception& e) {
        record(start, player, "client.launch", OpOutcome::Fail, e.what());
        return std::nullopt;
    }
    ++result_.clients_launched;
    record(start, player, "client.launch", OpOutcome::Ok, match_id);
    return run;
}

asio::awaitable<void> Run::reap_client(ClientRun& run, const std::string& match_id, Clock::time_point deadline) {
    const double start = now_ms();
    int status = 0;
    for (;;) {
        const pid_t done = ::waitpid(run.pid, &status, WNOHANG);
        if (done == run.pid || done < 0) break;
        if (Clock::now() >= deadline) {
            ::kill(-run.pid, SIGKILL);
            ::waitpid(run.pid, &status, 0);
            record(start, run.player, "client.exit", OpOutcome::Fail,
                   "the fakegame client of " + match_id + " was still running after its match; killed");
            run.pid = -1;
            co_return;
        }
        co_await sleep_for(20ms);
    }
    // Its children (none for fakegame) go with the group.
    ::kill(-run.pid, SIGKILL);
    run.pid = -1;
    run.result = client_result(run.log);
    record(start, run.player, "client.exit", OpOutcome::Ok,
           run.result.is_null() ? "no result line" : str(run.result, "result"));
}

void Run::check_match_cleaned(const std::string& match_id) {
    const auto strays = launch::processes_with_env_entry(match_id);
    if (strays.empty()) {
        checks_.check(Inv::I5);
    } else {
        std::string pids;
        for (auto pid : strays) pids += " " + std::to_string(pid);
        checks_.violate(Inv::I5, "processes of " + match_id + " are still running after the room returned to "
                                 "WAITING:" + pids);
    }
    for (const auto& node : nodes_) {
        const auto dir = node.server->data_dir() / "matches" / match_id;
        std::error_code ec;
        if (fs::exists(dir, ec)) {
            checks_.violate(
                Inv::I5, "the match directory " + dir.string() + " still exists after its match");
        } else {
            checks_.check(Inv::I5);
        }
    }
}

// --------------------------------------------------------------------------
// actors

asio::awaitable<bool> Run::publish(SimPlayer& dev, const fs::path& package_dir, const std::string& version,
                                   bool hidden) {
    const auto profile = package_dir.filename().string();
    const auto zip = opt_.work_dir / "zips" / (profile + "-" + version + ".zip");
    fs::create_directories(zip.parent_path());
    fs::path source = package_dir;
    if (version != "1.0.0") {
        // A copy with only the version changed.
        source = opt_.work_dir / "stage" / (profile + "-" + version);
        fs::remove_all(source);
        fs::create_directories(source.parent_path());
        fs::copy(package_dir, source, fs::copy_options::recursive);
        auto manifest = json::parse(read_text(source / "manifest.json"));
        manifest["version"] = version;
        std::ofstream(source / "manifest.json", std::ios::trunc) << manifest.dump(2);
    }
    packages::create_zip(source, zip);
    client::CallOptions options;
    options.upload = client::Upload{zip, 0, fs::file_size(zip)};
    options.timeout = 120s;
    json args = {{"sha256", packages::sha256_file(zip)}, {"hidden", hidden}, {"notes", "sim " + version}};
    auto published = co_await call(dev, "dev.publish", args, options);
    if (published.ok) {
        ledger_.versions.emplace_back(game_name(profile), version);
    }
    co_return published.ok;
}

asio::awaitable<void> Run::publish_all() {
    std::set<std::string> profiles;
    for (const auto& game : sc_.games) profiles.insert(game.profile);
    std::size_t i = 0;
    for (const auto& profile : profiles) {
        auto& dev = *developers_[i++ % developers_.size()];
        co_await ensure_session(dev);
        const auto dir = opt_.packages_dir / profile;
        if (!fs::exists(dir / "manifest.json")) {
            throw std::runtime_error("no fakegame package '" + profile + "' in " + opt_.packages_dir.string());
        }
        const std::string first_version = "1.0.0";
        if (!co_await publish(dev, dir, first_version, false)) {
            throw std::runtime_error("publishing " + profile + " failed (see the ops log)");
        }
        published_games_.push_back(profile);
        games_of_developer_[(i - 1) % developers_.size()].push_back(profile);
    }
}

asio::awaitable<void> Run::main_flow() {
    try {
        co_await ensure_session(*observer_);
        co_await publish_all();
    } catch (const std::exception& e) {
        result_.setup_failed = true;
        result_.setup_error = e.what();
        shut_down();
        co_return;
    }
    progress("published " + std::to_string(published_games_.size()) + " games; " +
             std::to_string(drivers_.size()) + " rooms, " + std::to_string(players_.size()) + " players");

    auto background = [this](auto coroutine, const std::string& what) {
        ++background_running_;
        spawn(
            [](Run* self, decltype(coroutine) inner) -> asio::awaitable<void> {
                try {
                    co_await std::move(inner);
                } catch (...) {
                    --self->background_running_;
                    throw;
                }
                --self->background_running_;
            }(this, std::move(coroutine)),
            what);
    };
    {
        const auto endpoints = server(observer_->node).endpoints();
        pinger_.set_target(endpoints.lobby_host, endpoints.lobby_port,
                           nodes_[static_cast<std::size_t>(observer_->node)].generation,
                           observer_->token);
        pinger_.start();
    }
    background(argv_scanner(), "argv scanner");
    if (!sc_.kills.empty()) background(killer(), "killer");
    if (sc_.abuse.duration_sec > 0) {
        const auto& a = sc_.abuse;
        auto add = [&](int count, const char* kind, bool report) {
            for (int i = 0; i < count; ++i) {
                background(abuse(kind, report, uniform(rng_, 0, a.duration_sec * 0.2)), std::string("abuse ") + kind);
            }
        };
        add(a.lobby_flood_connections, "flood", false);
        add(a.lobby_oversized_lines, "oversized", false);
        add(a.lobby_slowloris, "slowloris", false);
        add(a.lobby_malformed_lines > 0 ? 1 : 0, "malformed", false);
        add(a.report_flood_connections, "flood", true);
        add(a.report_oversized_lines, "oversized", true);
        add(a.report_slowloris, "slowloris", true);
        add(a.report_malformed_lines > 0 ? 1 : 0, "malformed", true);
        if (a.forged_reports > 0) background(forger(), "forger");
    }
    for (std::size_t d = 0; d < developers_.size(); ++d) background(developer_loop(d), "developer");
    for (const auto& [index, arrival] : browsers_) background(browser(index, arrival), "browser");

    drivers_running_ = static_cast<int>(drivers_.size());
    for (std::size_t d = 0; d < drivers_.size(); ++d) {
        spawn(
            [](Run* self, std::size_t index) -> asio::awaitable<void> {
                try {
                    co_await self->driver(index);
                } catch (...) {
                    if (--self->drivers_running_ == 0) self->drivers_done_.cancel();
                    throw;
                }
                if (--self->drivers_running_ == 0) self->drivers_done_.cancel();
            }(this, d),
            "room driver " + std::to_string(d));
    }
    while (drivers_running_ > 0 && Clock::now() < deadline_ + 30s) {
        drivers_done_.expires_at(deadline_ + 30s);
        boost::system::error_code ec;
        co_await drivers_done_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (drivers_running_ > 0) {
        expectation_failed(std::to_string(drivers_running_) + " room drivers were still running at the time limit");
    }
    stopping_ = true;
    for (int i = 0; i < 500 && background_running_ > 0; ++i) co_await sleep_for(20ms);
    try {
        co_await final_lobby_checks();
        if (nodes_.size() > 1)
            co_await same_lobby_everywhere();
    } catch (const std::exception& e) {
        expectation_failed(std::string("the final lobby checks could not run: ") + e.what());
    }
    shut_down();
}

void Run::shut_down() {
    // Every coroutine ends by itself from here (closed connections, the
    // stopping flag), so io_.run() returns with nothing left pending. The
    // pinger stops before the server does.
    pinger_.stop();
    stopping_ = true;
    shut_down_ = true;
    auto close = [](SimPlayer& p) {
        if (p.client) p.client->close();
        p.wake->cancel();
    };
    for (auto& p : players_) close(*p);
    for (auto& p : developers_) close(*p);
    close(*observer_);
    server_up_.cancel();
    drivers_done_.cancel();
}

asio::awaitable<void> Run::driver(std::size_t index) {
    const auto& plan = drivers_[index];
    co_await sleep_until(t0_ + std::chrono::milliseconds(static_cast<std::int64_t>(plan.arrival_sec * 1000)));
    for (const auto& round : plan.rounds) {
        if (Clock::now() >= deadline_) {
            expectation_failed("room driver " + std::to_string(index) + " ran out of time before all its rounds");
            break;
        }
        std::vector<SimPlayer*> members;
        for (int k = 0; k < round.members; ++k) members.push_back(players_[plan.players[k]].get());
        try {
            for (auto* member : members) co_await ensure_session(*member);
            co_await play_round(members, round);
        } catch (const ConnectionLost& e) {
            record(now_ms(), members.front()->name, "round", OpOutcome::Unknown, e.what());
        }
    }
    // Leave the lobby connection open: browsers and checks may still run.
}

asio::awaitable<void> Run::play_round(std::vector<SimPlayer*> members, const RoundPlan& round) {
    const auto& game = sc_.games[round.game];
    auto& host = *members.front();
    for (auto* m : members) m->events.clear();

    json create_args = {{"game", game_name(game.profile)}};
    auto created = co_await call(host, "room.create", create_args);
    if (!created.ok) co_return;
    const auto room_id = created.data.at("room").at("room_id").get<std::int64_t>();
    room_nodes_[room_id] = host.node;
    std::vector<SimPlayer*> seated = {&host};
    for (std::size_t i = 1; i < members.size(); ++i) {
        json join_args = {{"room_id", room_id}};
        auto joined = co_await call(*members[i], "room.join", join_args);
        if (joined.ok) seated.push_back(members[i]);
    }
    auto leave_all = [this](std::vector<SimPlayer*> who) -> asio::awaitable<void> {
        for (auto* m : who) {
            json none = json::object();
            co_await call(*m, "room.leave", none);
        }
    };
    for (auto* m : seated) {
        json ready_args = {{"ready", true}};
        co_await call(*m, "room.ready", ready_args);
    }
    const auto start_at = Clock::now();
    json none = json::object();
    auto started = co_await call(host, "room.start", none);
    if (!started.ok) {
        co_await leave_all(seated);
        co_return;
    }
    const auto match_id = str(started.data.at("room"), "match_id");
    ++result_.matches_started;
    ++result_.faults["profile:" + game.profile];
    all_matches_.insert(match_id);
    std::vector<std::string> names;
    for (auto* m : seated) names.push_back(m->name);

    const auto match_deadline = Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(
                                                   sc_.workload.match_timeout_sec * 1000));
    std::vector<MemberView> views(seated.size());
    std::vector<ClientRun> clients;
    std::optional<std::string> lost;
    bool abandoned = false;
    try {
        for (std::size_t i = 0; i < seated.size(); ++i) {
            co_await follow(*seated[i], views[i], room_id, match_id, false, match_deadline);
            if (!views[i].in_game) continue;
            if (i == 0) {
                launch_latency_.push_back(
                    std::chrono::duration<double, std::milli>(views[0].in_game_at - start_at).count());
                LiveMatch live;
                live.room_id = room_id;
                live.match_id = match_id;
                live.players = names;
                live.report_token =
                    read_text(server(host.node).data_dir() / "matches" / match_id / "report_token");
                // The token-in-argv game puts its own report token in a
                // child's argv on purpose (the validator fails it for that);
                // I9 watches what the platform does with tokens, so that one
                // game's leak of its own token is not counted against it.
                if (game.profile != "token-in-argv") {
                    checks_.add_secret(live.report_token, "the report token of " + match_id);
                }
                live_matches_[match_id] = live;
            }
            checks_.add_secret(str(views[i].launch, "client_token"),
                               "the client token of " + match_id);
            ports_used_.insert(static_cast<std::uint16_t>(num(views[i].launch, "port")));
            if (auto run = launch_client(game.profile, game.think_ms, seated[i]->name, views[i].launch, started.data.at("room"))) {
                clients.push_back(std::move(*run));
            }
        }
        if (game.abandon_after_ms >= 0 && views.front().in_game) {
            co_await sleep_for(std::chrono::milliseconds(game.abandon_after_ms));
            co_await abandon(seated, room_id, match_id, match_deadline);
            abandoned = true;
        }
        for (std::size_t i = 0; i < seated.size() && !abandoned; ++i) {
            if (!co_await follow(*seated[i], views[i], room_id, match_id, true, match_deadline)) {
                expectation_failed("match " + match_id + " (" + game.profile + ") did not end and return to "
                                   "WAITING within " + std::to_string(sc_.workload.match_timeout_sec) + " s for " +
                                   seated[i]->name);
                record(now_ms(), seated[i]->name, "match.wait", OpOutcome::Fail, "no end of " + match_id);
            }
        }
    } catch (const ConnectionLost& e) {
        lost = e.what();  // co_await is not allowed in a handler: finish below
    }
    if (abandoned) {
        // The players walked away: their launchers stop the game clients.
        for (auto& run : clients) {
            if (run.pid > 0) ::kill(-run.pid, SIGTERM);
        }
    }
    for (auto& run : clients) co_await reap_client(run, match_id, Clock::now() + 15s);
    if (abandoned) check_match_cleaned(match_id);
    {
        // A client that could not connect proves an early IN_GAME only when
        // the game server lived on to report END or ERROR (not when it
        // crashed after STARTED, or a kill -9 took it down).
        const auto status = str(views.front().ended_data, "status");
        if (!lost && !abandoned && (status == "END" || status == "ERROR")) {
            for (const auto& run : clients) checks_.on_client_result(run.player, match_id, run.result);
        }
    }
    result_.matches.push_back({{"match_id", match_id},
                               {"profile", game.profile},
                               {"players", names},
                               {"status", abandoned ? std::string("ABORTED") : str(views.front().ended_data, "status")},
                               {"reason", str(views.front().ended_data, "reason")},
                               {"in_game", views.front().in_game},
                               {"start_ms", std::chrono::duration<double, std::milli>(start_at - t0_).count()},
                               {"end_ms", now_ms()},
                               {"interrupted", lost.has_value()}});
    if (lost) {
        live_matches_.erase(match_id);
        throw ConnectionLost(*lost);
    }

    if (auto live = live_matches_.find(match_id); live != live_matches_.end()) {
        checks_.retire_secret(live->second.report_token);
        ended_matches_.push_back(live->second);
        if (ended_matches_.size() > 50) ended_matches_.pop_front();
        live_matches_.erase(live);
    }
    for (const auto& view : views) checks_.retire_secret(str(view.launch, "client_token"));
    if (abandoned) co_return;  // the room is gone; abandon() checked the aftermath

    const auto& ended = views.front().ended_data;
    if (views.front().ended) {
        const auto status = str(ended, "status");
        ++result_.matches_ended;
        ++result_.match_status[status];
        ledger_.match_results[match_id] = status;
        if (std::find(game.expect.begin(), game.expect.end(), status) == game.expect.end()) {
            expectation_failed("match " + match_id + " of profile " + game.profile + " ended " + status + " (" +
                               str(ended, "reason") + "); the scenario expects one of its expect list");
        }
        checks_.expect_one_end(match_id, names);
        if (views.front().back_waiting) check_match_cleaned(match_id);

        if (status == "END") {
            for (auto* m : seated) {
                if (uniform(rng_, 0, 1) >= sc_.workload.review_probability) continue;
                const int rating = std::uniform_int_distribution<int>(1, 5)(rng_);
                json review = {{"game", game_name(game.profile)}, {"rating", rating},
                               {"text", "sim review of " + match_id}};
                auto& record = ledger_.reviews[{m->name, game_name(game.profile)}];
                record.unanswered.insert(rating);  // until the answer arrives
                auto posted = co_await call(*m, "review.post", review);
                if (posted.ok) {
                    record.acknowledged = rating;
                    record.unanswered.clear();
                } else {
                    record.unanswered.erase(rating);  // refused: nothing was written
                }
            }
        }
    }
    co_await leave_all(seated);
}

// Everyone leaves mid-match: the platform must abort the match, stop its
// whole process tree and delete the room, and record ABORTED exactly once.
asio::awaitable<void> Run::abandon(std::vector<SimPlayer*> seated, std::int64_t room_id, const std::string& match_id,
                                   Clock::time_point deadline) {
    for (auto* m : seated) {
        json none = json::object();
        co_await call(*m, "room.leave", none);
    }
    // The room is deleted only after the match's cleanup: wait for that.
    SimPlayer& watcher = *seated.front();
    bool gone = false;
    while (!gone && Clock::now() < deadline) {
        json args = {{"room_id", room_id}};
        auto room = co_await call(watcher, "room.get", args);
        gone = !room.ok && room.error_code == "NOT_FOUND";
        if (!gone) co_await sleep_for(50ms);
    }
    if (!gone) {
        expectation_failed("room " + std::to_string(room_id) + " of abandoned match " + match_id +
                           " still exists " + std::to_string(sc_.workload.match_timeout_sec) + " s later");
        co_return;
    }
    ++result_.matches_ended;
    ++result_.match_status["ABORTED"];
    ++result_.faults["everyone_left"];
}

asio::awaitable<void> Run::browser(int index, double arrival_sec) {
    auto& p = *players_[index];
    co_await sleep_until(t0_ + std::chrono::milliseconds(static_cast<std::int64_t>(arrival_sec * 1000)));
    std::mt19937_64 rng(seed_ ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(index + 1)));
    while (!stopping_ && Clock::now() < deadline_) {
        try {
            co_await ensure_session(p);
            json none = json::object();
            auto list = co_await call(p, "store.list", none);
            if (list.ok && !published_games_.empty()) {
                const auto& profile = published_games_[rng() % published_games_.size()];
                json show = {{"game", game_name(profile)}};
                co_await call(p, "store.show", show);
            }
            co_await call(p, "room.list", none);
            co_await call(p, "lobby.players", none);
        } catch (const ConnectionLost&) {
        }
        const double pause = sc_.workload.browse_interval_sec * std::uniform_real_distribution<double>(0.5, 1.5)(rng);
        co_await sleep_for(std::chrono::milliseconds(static_cast<std::int64_t>(pause * 1000)));
    }
}

asio::awaitable<void> Run::developer_loop(std::size_t index) {
    // Each developer keeps publishing hidden versions of its games during the
    // run: acknowledged versions that a kill -9 must not lose (I7).
    auto& dev = *developers_[index];
    int minor = 1;
    while (!stopping_ && Clock::now() < deadline_) {
        co_await sleep_for(3s);
        if (stopping_ || published_games_.empty()) break;
        const auto& own = games_of_developer_[index];
        if (own.empty()) break;
        const auto& profile = own[static_cast<std::size_t>(minor) % own.size()];
        try {
            co_await ensure_session(dev);
            const auto package = opt_.packages_dir / profile;
            const auto version = "1." + std::to_string(minor) + ".0";
            co_await publish(dev, package, version, true);
        } catch (const ConnectionLost&) {
        }
        ++minor;
    }
}

void Run::collect_pings() {
    pinger_.stop();
    const auto ms_since_start = [this](Clock::time_point at) {
        return std::chrono::duration<double, std::milli>(at - t0_).count();
    };
    for (const auto& ping : pinger_.pings()) {
        result_.ops.push_back({ms_since_start(ping.sent), ms_since_start(ping.received),
                               observer_->name + " (pinger)", "ping",
                               ping.ok ? OpOutcome::Ok : OpOutcome::Fail, ping.detail});
        if (ping.ok) {
            ++result_.ops_ok;
            const double rtt =
                std::chrono::duration<double, std::milli>(ping.received - ping.sent).count();
            rtt_.push_back(rtt);
            if (ping.sent >= abuse_start_ && ping.received <= abuse_end_)
                rtt_abuse_.push_back(rtt);
        } else {
            ++result_.ops_fail;
        }
    }
    // The ops log is in completion order; the pings join it in theirs.
    std::stable_sort(result_.ops.begin(), result_.ops.end(),
                     [](const OpRecord& a, const OpRecord& b) { return a.end_ms < b.end_ms; });
}

asio::awaitable<void> Run::argv_scanner() {
    while (!stopping_) {
        checks_.scan_argv();
        co_await sleep_for(250ms);
    }
}

asio::awaitable<void> Run::audit_report_counters(const std::string& when) {
    SimPlayer& p = *observer_;
    co_await ensure_session(p);
    json none = json::object();
    auto stats = co_await call(p, "server.stats", none);
    if (!stats.ok) co_return;
    const auto& m = sub(stats.data, "matches");
    const auto counted = static_cast<std::uint64_t>(num(m, "forged_reports") + num(m, "stale_reports") +
                                                    num(m, "rejected_reports"));
    // Only the reports the server answered were certainly judged by now:
    // one it had not answered yet (a loaded server, a kill on its way) may
    // still be in flight and is not held against it.
    if (counted >= forged_answered_this_generation_) {
        checks_.check(Inv::I4);
    } else {
        checks_.violate(Inv::I4, when + ": the server counted " + std::to_string(counted) +
                                     " forged/stale/rejected reports but answered " +
                                     std::to_string(forged_answered_this_generation_) +
                                     " the sim sent (of " +
                                     std::to_string(forged_this_generation_) + ")");
    }
}

asio::awaitable<void> Run::killer() {
    std::vector<KillPoint> kills = sc_.kills;
    for (std::size_t k = 0; k < kills.size(); ++k) {
        const auto& kill = kills[k];
        for (;;) {
            if (stopping_ || Clock::now() >= deadline_) co_return;
            if (kill.at_sec && Clock::now() >= t0_ + std::chrono::milliseconds(static_cast<std::int64_t>(*kill.at_sec * 1000))) break;
            if (kill.after_matches && result_.matches_ended >= static_cast<std::uint64_t>(*kill.after_matches)) break;
            co_await sleep_for(50ms);
        }
        try {
            const auto when = "before kill -9 #" + std::to_string(k + 1);
            co_await audit_report_counters(when);
        } catch (const ConnectionLost&) {
        }
        const double start = now_ms();
        auto& node = nodes_[static_cast<std::size_t>(kill.node)];
        // What the others must drop: the rooms the killed node holds now.
        std::set<std::int64_t> orphaned;
        for (const auto& [room, owner] : room_nodes_) {
            if (owner == kill.node)
                orphaned.insert(room);
        }
        const auto killed_at = Clock::now();
        node.down = true;
        if (kill.node == observer_->node)
            pinger_.set_down();
        node.server->kill9();
        ++result_.faults["server_kill9"];
        record(
            start, "sim", "server.kill9", OpOutcome::Ok,
            "node " + std::to_string(kill.node) + " generation " + std::to_string(node.generation));
        progress("kill -9 #" + std::to_string(k + 1) + " of the server at " + std::to_string(now_ms() / 1000) + " s");
        const double restart = now_ms();
        try {
            node.server->start();
        } catch (const std::exception& e) {
            record(restart, "sim", "server.restart", OpOutcome::Fail, e.what());
            checks_.violate(Inv::I7, std::string("the server did not restart after kill -9: ") + e.what());
            stopping_ = true;
            deadline_ = Clock::now();
            server_up_.cancel();
            co_return;
        }
        record(restart, "sim", "server.restart", OpOutcome::Ok);
        ++node.generation;
        ++result_.server_restarts;
        if (kill.node == 0) {
            forged_this_generation_ = 0;
            forged_answered_this_generation_ = 0;
        }
        node.down = false;
        if (nodes_.size() > 1)
            spawn(dead_rooms_check(std::move(orphaned), killed_at), "dead rooms check");
        server_up_.cancel();
        {
            // The observer's session is in the database: it resumes on the
            // new server.
            if (kill.node == observer_->node) {
                const auto endpoints = node.server->endpoints();
                pinger_.set_target(endpoints.lobby_host, endpoints.lobby_port, node.generation,
                                   observer_->token);
            }
        }

        // I7 right away: the developers' versions are all still listed.
        for (auto& dev : developers_) {
            try {
                co_await ensure_session(*dev);
                std::set<std::string> games;
                for (const auto& [game, version] : ledger_.versions) games.insert(game);
                for (const auto& game : games) {
                    json args = {{"game", game}};
                    auto listed = co_await call(*dev, "dev.versions", args);
                    if (!listed.ok) continue;  // another developer's game
                    std::set<std::string> present;
                    for (const auto& v : list(listed.data, "versions")) {
                        present.insert(str(v, "version"));
                    }
                    for (const auto& [g, version] : ledger_.versions) {
                        if (g != game) continue;
                        if (present.count(version)) {
                            checks_.check(Inv::I7);
                        } else {
                            checks_.violate(Inv::I7, game + " " + version +
                                                         " was acknowledged before kill -9 and is gone after the restart");
                        }
                    }
                }
            } catch (const ConnectionLost&) {
            }
        }
    }
}

asio::awaitable<void> Run::forger() {
    // Forged and stale reports spread over the abuse window (I4): an END with
    // a wrong token for a live match, an END naming a live room with a stale
    // match_id and that room's real token, and replays of finished matches'
    // END with their real token. None may change anything.
    const auto& a = sc_.abuse;
    const double step = a.duration_sec / std::max(1, a.forged_reports);
    co_await sleep_until(abuse_start_);
    for (int i = 0; i < a.forged_reports && !stopping_; ++i) {
        co_await sleep_until(abuse_start_ + std::chrono::milliseconds(static_cast<std::int64_t>(i * step * 1000)));
        if (nodes_[0].down)
            continue;
        json report;
        std::string kind;
        const int choice = static_cast<int>(rng_() % 3);
        if (choice < 2 && !live_matches_.empty()) {
            auto it = live_matches_.begin();
            std::advance(it, static_cast<long>(rng_() % live_matches_.size()));
            const auto& live = it->second;
            json results = json::array();
            for (const auto& player : live.players) {
                results.push_back({{"player", player}, {"outcome", "WIN"}, {"extra", {{"sim_forged", true}}}});
            }
            report = {{"type", "GAME.REPORT"}, {"room_id", live.room_id}, {"status", "END"}, {"results", results}};
            // A stale match id goes with the room's real token; before the sim
            // has read it (from the match dir) the report is a forged one:
            // an empty token would make it malformed, not judged.
            if (choice == 0 || live.report_token.empty()) {
                kind = "forged_token";
                report["match_id"] = live.match_id;
                report["report_token"] = std::string(32, 'f');
            } else {
                kind = "stale_match_id";
                report["match_id"] = live.match_id + "-stale";
                report["report_token"] = live.report_token;
            }
        } else if (!ended_matches_.empty()) {
            const auto& old = ended_matches_[rng_() % ended_matches_.size()];
            json results = json::array();
            for (const auto& player : old.players) {
                results.push_back({{"player", player}, {"outcome", "WIN"}, {"extra", {{"sim_forged", true}}}});
            }
            kind = "replayed_end";
            report = {{"type", "GAME.REPORT"}, {"room_id", old.room_id}, {"match_id", old.match_id},
                      {"report_token", old.report_token}, {"status", "END"}, {"results", results}};
        } else {
            continue;
        }
        const double start = now_ms();
        const auto endpoints = server().endpoints();
        // Shared with the timer below, whose handler may already be queued
        // when the loop ends: it must never close a socket that is gone.
        auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
        boost::system::error_code ec;
        asio::ip::tcp::endpoint target(asio::ip::make_address(endpoints.report_host, ec), endpoints.report_port);
        co_await socket->async_connect(target, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) {
            const auto line = report.dump() + "\n";
            co_await asio::async_write(*socket, asio::buffer(line),
                                       asio::redirect_error(asio::use_awaitable, ec));
        }
        if (ec) {
            record(start, "sim-forger", "report." + kind, OpOutcome::Fail, ec.message());
            continue;
        }
        socket->shutdown(asio::ip::tcp::socket::shutdown_send, ec);
        // Read until the server closes or a short while passes. The server
        // judges a report before it replies to it, so a reply means this one
        // is counted.
        const int generation = nodes_[0].generation;
        bool answered = false;
        std::array<char, 512> sink{};
        asio::steady_timer limit(io_, 500ms);
        limit.async_wait([socket](const boost::system::error_code& e) {
            if (!e) {
                boost::system::error_code ignored;
                socket->close(ignored);
            }
        });
        for (;;) {
            const auto n = co_await socket->async_read_some(
                asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
            answered = answered || n > 0;
        }
        limit.cancel();
        if (generation == nodes_[0].generation) {
            ++forged_this_generation_;
            if (answered)
                ++forged_answered_this_generation_;
        }
        ++result_.faults["report_" + kind];
        record(start, "sim-forger", "report." + kind, OpOutcome::Ok);
    }
}

asio::awaitable<void> Run::abuse(std::string kind, bool report_port, double offset_sec) {
    co_await sleep_until(abuse_start_ + std::chrono::milliseconds(static_cast<std::int64_t>(offset_sec * 1000)));
    const std::string actor = std::string("abuse-") + (report_port ? "report-" : "lobby-") + kind;
    const std::string line_ok = report_port
                                    ? R"({"type":"GAME.REPORT","room_id":999999,"report_token":"not-a-token","match_id":"m-none","status":"HEARTBEAT"})"
                                    : R"({"id":1,"op":"ping"})";
    while (!stopping_ && Clock::now() < abuse_end_) {
        if (nodes_[0].down) {
            co_await sleep_for(50ms);
            continue;
        }
        const double start = now_ms();
        const auto endpoints = server().endpoints();
        auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
        boost::system::error_code ec;
        asio::ip::tcp::endpoint target(
            asio::ip::make_address(report_port ? endpoints.report_host : endpoints.lobby_host, ec),
            report_port ? endpoints.report_port : endpoints.lobby_port);
        co_await socket->async_connect(target, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            record(start, actor, "connect", OpOutcome::Fail, ec.message());
            co_await sleep_for(100ms);
            continue;
        }
        // A reader drains whatever the server answers so it never blocks on us.
        auto answered = std::make_shared<std::string>();
        asio::co_spawn(
            io_,
            [](std::shared_ptr<asio::ip::tcp::socket> s, std::shared_ptr<std::string> seen) -> asio::awaitable<void> {
                std::array<char, 4096> buffer{};
                boost::system::error_code e;
                for (;;) {
                    const auto n = co_await s->async_read_some(asio::buffer(buffer),
                                                               asio::redirect_error(asio::use_awaitable, e));
                    if (e) co_return;
                    if (seen->size() < 4096) seen->append(buffer.data(), n);
                }
            }(socket, answered),
            asio::detached);
        std::uint64_t sent = 0;
        if (kind == "flood") {
            std::string batch;
            for (int i = 0; i < 100; ++i) batch += line_ok + "\n";
            while (!ec && !stopping_ && Clock::now() < abuse_end_ && !nodes_[0].down) {
                co_await asio::async_write(*socket, asio::buffer(batch), asio::redirect_error(asio::use_awaitable, ec));
                if (!ec) sent += 100;
                co_await sleep_for(5ms);
            }
        } else if (kind == "oversized") {
            const std::string huge(100 * 1024, 'x');
            co_await asio::async_write(*socket, asio::buffer(huge + "\n"), asio::redirect_error(asio::use_awaitable, ec));
            if (!ec) sent = 1;
            co_await sleep_for(500ms);
        } else if (kind == "slowloris") {
            const std::string partial = report_port ? R"({"type":"GAME.REPORT","room_id":1)" : R"({"id":1,"op":"pi)";
            for (std::size_t i = 0;
                 !ec && !stopping_ && Clock::now() < abuse_end_ && !nodes_[0].down; ++i) {
                const char byte = partial[i % partial.size()];
                co_await asio::async_write(*socket, asio::buffer(&byte, 1), asio::redirect_error(asio::use_awaitable, ec));
                if (!ec) ++sent;
                co_await sleep_for(200ms);
            }
        } else if (kind == "malformed") {
            const int lines = report_port ? sc_.abuse.report_malformed_lines : sc_.abuse.lobby_malformed_lines;
            std::string junk;
            for (int i = 0; i < lines; ++i) junk += (i % 2 ? "{\"unterminated\": \n" : "not json at all\n");
            co_await asio::async_write(*socket, asio::buffer(junk), asio::redirect_error(asio::use_awaitable, ec));
            if (!ec) sent = static_cast<std::uint64_t>(lines);
            co_await sleep_for(500ms);
        }
        socket->close(ec);
        result_.faults[std::string(report_port ? "report_" : "lobby_") + kind] += sent;
        record(start, actor, kind, OpOutcome::Ok, std::to_string(sent) + " units sent");
        if (kind == "oversized" || kind == "malformed") break;  // once per connection is the fault
    }
}

asio::awaitable<void> Run::dead_rooms_check(std::set<std::int64_t> orphaned,
                                            Clock::time_point killed_at) {
    // The others drop a dead node's rows once it has not renewed for 5 s,
    // at their next renewal (1 s): 7 s leaves a second of slack.
    co_await sleep_until(killed_at + 7s);
    if (stopping_ || orphaned.empty())
        co_return;
    SimPlayer& p = *observer_;
    try {
        co_await ensure_session(p);
        json none = json::object();
        auto snapshot = co_await call(p, "lobby.snapshot", none);
        if (!snapshot.ok)
            co_return;
        std::vector<std::int64_t> listed;
        for (const auto& room : list(snapshot.data, "rooms")) {
            if (orphaned.count(num(room, "room_id")))
                listed.push_back(num(room, "room_id"));
        }
        auto& cluster = result_.schedule["cluster"];
        if (!cluster.is_object())
            cluster = json::object();
        cluster["dead_node_rooms_checked"] =
            cluster.value("dead_node_rooms_checked", 0) + orphaned.size();
        if (!listed.empty()) {
            expectation_failed(std::to_string(listed.size()) + " rooms of the killed node (first " +
                               std::to_string(listed.front()) +
                               ") were still listed 7 s after the kill");
        }
    } catch (const ConnectionLost&) {
    }
}

asio::awaitable<void> Run::same_lobby_everywhere() {
    // Every node's snapshot (rooms and players; each node numbers its own
    // deltas) must be the same once the changes have settled: compared
    // until they agree, for at most 5 s.
    auto& cluster = result_.schedule["cluster"];
    std::string difference = "no node answered";
    for (int attempt = 0; attempt < 25; ++attempt) {
        std::vector<json> lobbies;
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
            if (nodes_[i].down)
                continue;
            const auto endpoints = nodes_[i].server->endpoints();
            try {
                auto client = co_await client::LobbyClient::connect(endpoints.lobby_host,
                                                                    endpoints.lobby_port, 5s);
                json resume = {{"token", observer_->token}};
                // (No co_await inside ?: here: g++ 12 mishandles its temporaries.)
                auto snapshot = co_await client->call("auth.resume", resume);
                if (snapshot.ok) {
                    json none = json::object();
                    snapshot = co_await client->call("lobby.snapshot", none);
                }
                client->close();
                if (!snapshot.ok) {
                    difference = "node " + std::to_string(i) + " answered " + snapshot.error_code;
                    break;
                }
                lobbies.push_back({{"rooms", list(snapshot.data, "rooms")},
                                   {"players", list(snapshot.data, "players")}});
            } catch (const std::exception& e) {
                difference = "node " + std::to_string(i) + ": " + e.what();
                break;
            }
        }
        if (lobbies.size() == nodes_.size()) {
            difference.clear();
            for (std::size_t i = 1; i < lobbies.size() && difference.empty(); ++i) {
                if (lobbies[i] != lobbies[0])
                    difference = "node " + std::to_string(i) + " differs from node 0";
            }
            if (difference.empty()) {
                cluster["same_lobby_on_every_node"] = true;
                cluster["lobby_rooms"] = lobbies[0]["rooms"].size();
                cluster["lobby_players"] = lobbies[0]["players"].size();
                co_return;
            }
        }
        co_await sleep_for(200ms);
    }
    cluster["same_lobby_on_every_node"] = false;
    expectation_failed("the nodes do not show the same lobby after the run: " + difference);
}

asio::awaitable<void> Run::final_lobby_checks() {
    SimPlayer& p = *observer_;
    co_await ensure_session(p);
    const std::string when = "at the end";
    co_await audit_report_counters(when);
    // The server finishes cleanups asynchronously; wait (bounded) for them.
    json stats;
    for (int i = 0; i < 200; ++i) {
        json none = json::object();
        auto response = co_await call(p, "server.stats", none);
        if (response.ok) {
            stats = response.data;
            if (num(stats, "rooms") == 0 && num(stats, "ports_in_use") == 0 &&
                num(sub(stats, "matches"), "cleanups_in_flight") == 0) {
                break;
            }
        }
        co_await sleep_for(100ms);
    }
    if (stats.is_null()) co_return;
    result_.schedule["final_stats"] = stats;
    // The observer's copy of the lobby, built from deltas since its last
    // snapshot, must equal a fresh one once the deltas up to it are applied
    // (the lobby is quiet by now; a batch landing in between is retried).
    bool mirror_matches = false;
    for (int attempt = 0; attempt < 20 && !mirror_matches; ++attempt) {
        json none = json::object();
        auto snapshot = co_await call(p, "lobby.snapshot", none);
        if (!snapshot.ok)
            break;
        const auto seq = static_cast<std::uint64_t>(num(snapshot.data, "seq"));
        if (p.lobby.synced() && p.lobby.seq() == seq) {
            mirror_matches = p.lobby.to_snapshot() == snapshot.data;
            if (!mirror_matches)
                break;
        } else {
            co_await sleep_for(100ms);
        }
    }
    result_.schedule["lobby_deltas"] = {{"received", deltas_.received},
                                        {"gaps", deltas_.gaps},
                                        {"resyncs", deltas_.resyncs},
                                        {"observer_copy_matches_snapshot", mirror_matches},
                                        {"server", sub(stats, "lobby")}};
    if (!mirror_matches) {
        expectation_failed(
            "the observer's copy of the lobby built from deltas differs from a fresh "
            "lobby.snapshot");
    }
    const auto ports = num(stats, "ports_in_use");
    const auto cleanups = num(sub(stats, "matches"), "cleanups_in_flight");
    if (ports != 0 || cleanups != 0) {
        checks_.violate(Inv::I5, "after every room left, the server still holds " +
                                     std::to_string(ports) + " game ports and " +
                                     std::to_string(cleanups) +
                                     " cleanups in flight");
    } else {
        checks_.check(Inv::I5);
    }
}

// --------------------------------------------------------------------------
// after the run (server stopped)

void Run::after_run_checks() {
    // I5: nothing of any match is running, no match dir, no port held.
    for (const auto& match_id : all_matches_) {
        const auto strays = launch::processes_with_env_entry(match_id);
        if (strays.empty()) {
            checks_.check(Inv::I5);
        } else {
            checks_.violate(Inv::I5, std::to_string(strays.size()) + " processes of " + match_id +
                                         " outlived the server (first pid " + std::to_string(strays.front()) + ")");
            for (auto pid : strays) ::kill(pid, SIGKILL);
        }
    }
    for (const auto& node : nodes_) {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(node.server->data_dir() / "matches", ec)) {
            checks_.violate(Inv::I5, "match directory left behind: " + entry.path().string());
        }
    }
    for (auto port : ports_used_) {
        if (port == 0) continue;
        if (port_listenable(port)) {
            checks_.check(Inv::I5);
        } else {
            checks_.violate(Inv::I5, "game port " + std::to_string(port) + " is still taken after the run");
        }
    }

    // I6: ping p99 during abuse.
    collect_pings();
    result_.lobby_rtt_ms = percentiles(rtt_);
    result_.lobby_rtt_abuse_ms = percentiles(rtt_abuse_);
    result_.launch_latency_ms = percentiles(launch_latency_);
    if (sc_.abuse.duration_sec > 0) {
        checks_.check(Inv::I6, rtt_abuse_.size());
        if (rtt_abuse_.size() < 10) {
            checks_.violate(Inv::I6, "only " + std::to_string(rtt_abuse_.size()) +
                                         " pings were answered during the abuse window");
        } else if (result_.lobby_rtt_abuse_ms.p99 > sc_.expect.ping_p99_ms) {
            checks_.violate(Inv::I6, "lobby ping p99 during abuse was " +
                                         std::to_string(result_.lobby_rtt_abuse_ms.p99) + " ms, over the bound of " +
                                         std::to_string(sc_.expect.ping_p99_ms) + " ms");
        }
    }

    // I7 + I8 against the database the server left behind: the one a
    // --server-arg --database named, else DATA/gamestore.db.
    std::string database;
    for (std::size_t i = 0; i + 1 < opt_.extra_server_args.size(); ++i) {
        if (opt_.extra_server_args[i] == "--database")
            database = opt_.extra_server_args[i + 1];
    }
    const auto location = store::parse_database(database, server().data_dir() / "gamestore.db");
    auto opened = std::holds_alternative<store::DatabaseLocation>(location)
                      ? store::open_store(std::get<store::DatabaseLocation>(location),
                                          store::SqlStore::Options{})
                      : store::Result<std::unique_ptr<store::SqlStore>>(store::StoreError{
                            store::StoreError::Code::Invalid, std::get<std::string>(location)});
    // Each room's matches, to check that none ran twice (two at once).
    std::map<std::int64_t, std::vector<std::tuple<store::UnixMs, store::UnixMs, std::string>>>
        spans;
    if (!opened.ok()) {
        checks_.violate(Inv::I7, "the database cannot be opened after the run: " + opened.error().message);
    } else {
        auto& db = **opened;
        for (const auto& [role, name] : ledger_.accounts) {
            auto found = db.find_account(role == "developer" ? store::Role::Developer : store::Role::Player, name);
            if (found.ok()) {
                checks_.check(Inv::I7);
            } else {
                checks_.violate(Inv::I7, "the " + role + " account " + name + " was acknowledged and is gone");
            }
        }
        for (const auto& [game, version] : ledger_.versions) {
            auto found = db.find_game(game);
            if (found.ok() && db.get_version(found->id, version).ok()) {
                checks_.check(Inv::I7);
            } else {
                checks_.violate(Inv::I7, game + " " + version + " was acknowledged and is gone");
            }
        }
        for (const auto& [key, record] : ledger_.reviews) {
            if (!record.acknowledged)
                continue;  // nothing acknowledged, nothing to lose
            const int rating = *record.acknowledged;
            auto player = db.find_account(store::Role::Player, key.first);
            auto game = db.find_game(key.second);
            std::optional<int> stored;
            if (player.ok() && game.ok()) {
                if (auto review = db.get_review(player->id, game->id); review.ok()) stored = review->rating;
            }
            if (stored == rating || (stored && record.unanswered.count(*stored) > 0)) {
                checks_.check(Inv::I7);
            } else {
                checks_.violate(Inv::I7, "the review of " + key.second + " by " + key.first + " (rating " +
                                             std::to_string(rating) + ") was acknowledged and is " +
                                             (stored ? "changed" : "gone"));
            }
        }
        for (const auto& match_id : all_matches_) {
            auto match = db.get_match(match_id);
            if (!match.ok()) {
                checks_.violate(Inv::I8, "match " + match_id + " has no record");
                continue;
            }
            const std::string status(store::to_string(match->status));
            if (match->status == store::MatchStatus::Open) {
                checks_.violate(Inv::I8, "match " + match_id + " has no terminal result after the run");
                continue;
            }
            checks_.check(Inv::I8);
            if (match->ended_at)
                spans[match->room_id].emplace_back(match->started_at, *match->ended_at, match_id);
            if (auto acked = ledger_.match_results.find(match_id); acked != ledger_.match_results.end()) {
                if (acked->second == status) {
                    checks_.check(Inv::I7);
                } else {
                    checks_.violate(Inv::I8, "match " + match_id + " was announced " + acked->second +
                                                 " but is recorded " + status);
                }
            }
        }
    }

    // No match runs twice: the matches of one room (room ids are unique
    // across a cluster) follow each other; a room played on two nodes, or
    // a restarted node relaunching one, would overlap.
    std::size_t overlaps = 0;
    for (auto& [room, list] : spans) {
        std::sort(list.begin(), list.end());
        for (std::size_t i = 1; i < list.size(); ++i) {
            if (std::get<0>(list[i]) < std::get<1>(list[i - 1])) {
                ++overlaps;
                checks_.violate(Inv::I8, "matches " + std::get<2>(list[i - 1]) + " and " +
                                             std::get<2>(list[i]) + " of room " +
                                             std::to_string(room) + " ran at the same time");
            }
        }
    }
    result_.schedule["matches_run_twice"] = overlaps;

    // I9: no token in full in any log.
    for (const auto& node : nodes_)
        checks_.scan_files(node.server->log_files());
}

ScenarioResult Run::execute() {
    fs::create_directories(opt_.work_dir);
    make_plan();
    progress("scenario " + sc_.name + " (seed " + std::to_string(seed_) + ")");
    if (sc_.server.nodes > 1 &&
        std::find(opt_.extra_server_args.begin(), opt_.extra_server_args.end(), "--database") ==
            opt_.extra_server_args.end()) {
        result_.setup_failed = true;
        result_.setup_error =
            "a scenario of " + std::to_string(sc_.server.nodes) +
            " cluster nodes needs a PostgreSQL database they share (gamestore-sim --postgres URI)";
        return result_;
    }
    for (int i = 0; i < sc_.server.nodes; ++i) {
        // Node 0 works in the scenario's directory (as a single server does),
        // the others beside it.
        const auto dir = i == 0 ? opt_.work_dir : opt_.work_dir / ("node-" + std::to_string(i));
        fs::create_directories(dir);
        nodes_.push_back(
            Node{std::make_unique<ServerProcess>(opt_.server_binary, dir, server_args(i))});
    }
    try {
        for (auto& node : nodes_)
            node.server->start();
    } catch (const std::exception& e) {
        result_.setup_failed = true;
        result_.setup_error = e.what();
        return result_;
    }
    asio::co_spawn(io_, main_flow(), [this](std::exception_ptr error) {
        if (error) {
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                expectation_failed(std::string("the run stopped: ") + e.what());
            }
            shut_down();
        }
    });
    // Everything is bounded by the scenario's deadline; this bound only
    // guards against a bug in the sim itself.
    io_.run_for(std::chrono::milliseconds(static_cast<std::int64_t>(sc_.time_limit_sec * 1000)) + 180s);
    if (!io_.stopped()) {
        hung_ = true;
        expectation_failed("the simulation did not wind down (a sim bug); its state is abandoned");
        io_.stop();
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (!nodes_[i].server->stop()) {
            expectation_failed(
                "gamestore-server" +
                (nodes_.size() > 1 ? " (node " + std::to_string(i) + ")" : std::string()) +
                " did not stop within 15 s of SIGTERM");
        }
    }
    if (!result_.setup_failed) after_run_checks();
    result_.invariants = checks_.results(sc_.expect.invariants, sc_.expect.broken);
    if (!result_.setup_failed && result_.matches_ended < static_cast<std::uint64_t>(sc_.expect.min_matches)) {
        expectation_failed(std::to_string(result_.matches_ended) + " matches ended; the scenario expects at least " +
                           std::to_string(sc_.expect.min_matches));
    }
    result_.duration_sec = std::chrono::duration<double>(Clock::now() - t0_).count();
    return result_;
}

}  // namespace

ScenarioResult run_scenario(const Scenario& scenario, const RunOptions& options) {
    const std::uint64_t seed = options.seed ? *options.seed : std::random_device{}();
    auto run = std::make_unique<Run>(scenario, options, seed);
    auto result = run->execute();
    if (run->hung()) {
        // Coroutine frames still reference the run; destroying it would be
        // worse than leaking it in a process that is about to report and exit.
        (void)run.release();
    }
    return result;
}

}  // namespace gamestore::sim
