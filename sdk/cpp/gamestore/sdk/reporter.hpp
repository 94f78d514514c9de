#pragma once
// Control-plane reporting (game server -> platform): STARTED, HEARTBEAT, END,
// ERROR as NDJSON over one persistent TCP connection to REPORT_HOST:REPORT_PORT.
//
// The Reporter never blocks the game: calls only queue a line. A background
// thread owns the socket, sends one message at a time and waits for its
// one-line reply ({"ok":true} / {"ok":false,"error":...}). If the platform
// drops the connection or does not reply in time, the thread reconnects with
// exponential backoff and sends the same message again (at-least-once, in
// order, like the Python SDK).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gamestore/sdk/context.hpp"
#include "gamestore/sdk/net.hpp"

namespace gamestore::sdk {

enum class Outcome { Win, Lose, Draw, Quit, Error };

inline const char* to_string(Outcome outcome) {
    switch (outcome) {
        case Outcome::Win:
            return "WIN";
        case Outcome::Lose:
            return "LOSE";
        case Outcome::Draw:
            return "DRAW";
        case Outcome::Quit:
            return "QUIT";
        case Outcome::Error:
            return "ERROR";
    }
    return "ERROR";
}

// One entry of END's `results`. `player` must be a name from the player list.
struct PlayerResult {
    std::string player;
    Outcome outcome = Outcome::Lose;
    std::optional<int> rank{};      // 1 = best; null when the game has no ranking
    std::optional<double> score{};  // null when the game keeps no score
    nlohmann::json extra{};         // null, or an object of game-specific fields
    std::optional<int> player_id{};

    nlohmann::json to_json() const {
        nlohmann::json j{{"player", player},
                         {"outcome", to_string(outcome)},
                         {"rank", rank ? nlohmann::json(*rank) : nlohmann::json(nullptr)},
                         {"score", score ? nlohmann::json(*score) : nlohmann::json(nullptr)}};
        if (player_id) {
            j["player_id"] = *player_id;
        }
        if (!extra.is_null()) {
            if (!extra.is_object()) {
                throw std::invalid_argument("PlayerResult.extra must be a JSON object");
            }
            j["extra"] = extra;
        }
        return j;
    }
};

// Seconds since the Unix epoch, the unit of `timestamp` and `ts`.
inline double unix_time_now() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Where reports go and what identifies them.
struct ReportTarget {
    std::string host = "127.0.0.1";
    int port = 0;
    std::int64_t room_id = 0;
    std::string match_id;
    std::string report_token;  // secret
    std::chrono::milliseconds heartbeat_interval{5000};
    std::string game;  // optional "game" field, informational

    static ReportTarget from(const ServerContext& ctx) {
        ReportTarget t;
        t.host = ctx.report_host();
        t.port = ctx.report_port();
        t.room_id = ctx.room_id();
        t.match_id = ctx.match_id();
        t.report_token = ctx.report_token();
        t.heartbeat_interval = ctx.heartbeat_interval();
        return t;
    }

    // The fields every report carries.
    nlohmann::json make_report(std::string_view status) const {
        nlohmann::json j{
            {"type", "GAME.REPORT"}, {"room_id", room_id}, {"report_token", report_token},
            {"match_id", match_id},  {"status", status},   {"timestamp", unix_time_now()}};
        if (!game.empty()) {
            j["game"] = game;
        }
        return j;
    }
};

struct ReporterOptions {
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(2)};
    // How long the platform may take to answer one message. On expiry the
    // message counts as unanswered, the connection is replaced (a late reply
    // would be taken for the next message's) and the message is sent again.
    // A resend the platform had in fact processed is harmless: it refuses the
    // duplicate with {"ok":false}, while a report lost for good (STARTED,
    // END) would kill or misjudge the match.
    std::chrono::milliseconds reply_timeout{std::chrono::seconds(5)};
    // Reconnect backoff: doubles from initial to max after each failed connect.
    std::chrono::milliseconds backoff_initial{50};
    std::chrono::milliseconds backoff_max{2000};
    // How long the destructor waits for queued reports before dropping them.
    std::chrono::milliseconds shutdown_flush_timeout{std::chrono::seconds(2)};
    // Times one message is sent (a lost connection or a missing reply each
    // count as one failed send) before it is given up.
    int max_attempts = 5;
    // Start the heartbeat timer in started(); turn off to send heartbeat() yourself.
    bool auto_heartbeat = true;
    // Diagnostics sink (never receives tokens). Default: stderr.
    std::function<void(std::string_view)> log{};
};

struct ReporterStats {
    std::uint64_t queued = 0;        // messages accepted by started/heartbeat/end/error
    std::uint64_t sent = 0;          // lines written (resends included)
    std::uint64_t acknowledged = 0;  // {"ok":true} replies
    std::uint64_t rejected = 0;      // {"ok":false} replies
    std::uint64_t unanswered = 0;    // no or unreadable reply within reply_timeout
    std::uint64_t dropped = 0;       // given up (attempts exhausted, shutdown, queue full)
    std::uint64_t reconnects = 0;    // connections opened after the first one
    std::uint64_t heartbeats = 0;    // heartbeats queued
    std::string last_error;          // last rejection or network failure
};

class Reporter {
  public:
    explicit Reporter(const ServerContext& ctx, ReporterOptions options = {})
        : Reporter(ReportTarget::from(ctx), std::move(options)) {}

    explicit Reporter(ReportTarget target, ReporterOptions options = {})
        : target_(std::move(target)), options_(std::move(options)) {
        if (!options_.log) {
            options_.log = [](std::string_view line) {
                std::cerr << "gamestore-sdk: " << line << '\n';
            };
        }
        if (target_.heartbeat_interval.count() <= 0) {
            throw std::invalid_argument("Reporter: heartbeat interval must be positive");
        }
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
            throw std::runtime_error("Reporter: pipe2 failed: " + detail::errno_text(errno));
        }
        wake_read_.reset(fds[0]);
        wake_write_.reset(fds[1]);
        worker_ = std::thread([this] { run(); });
    }

    Reporter(const Reporter&) = delete;
    Reporter& operator=(const Reporter&) = delete;

    // Stops heartbeats, waits up to shutdown_flush_timeout for queued reports,
    // then drops what is left and joins the background thread.
    ~Reporter() {
        stop_heartbeats();
        flush(options_.shutdown_flush_timeout);
        std::size_t left = 0;
        {
            std::lock_guard lock(mutex_);
            closing_ = true;
            abandon_ = true;
            left = queue_.size();
            stats_.dropped += left;
        }
        const char byte = 1;
        [[maybe_unused]] const auto n = ::write(wake_write_.get(), &byte, 1);
        work_cv_.notify_all();
        worker_.join();
        if (left > 0) {
            options_.log("dropping " + std::to_string(left) +
                         " report(s) not delivered at shutdown");
        }
    }

    // Send once the listen socket is bound and handshakes can be answered.
    // Starts the heartbeat timer (unless auto_heartbeat is off). Throws
    // std::logic_error after end() or error(): the match is over, and a
    // STARTED with fresh heartbeats would tell the platform it is not.
    void started(int port, int protocol_version = kProtocolVersion) {
        std::lock_guard lock(control_mutex_);
        if (finished_) {
            throw std::logic_error(
                "Reporter::started() after end() or error(): the match is already over");
        }
        auto j = target_.make_report("STARTED");
        j["port"] = port;
        j["protocol_version"] = protocol_version;
        enqueue(j.dump(), "STARTED", false);
        if (options_.auto_heartbeat && !heartbeat_thread_.joinable()) {
            {
                std::lock_guard hb(heartbeat_mutex_);
                heartbeat_stop_ = false;
            }
            heartbeat_thread_ = std::thread([this] { heartbeat_loop(); });
        }
    }

    // Queues one HEARTBEAT now. A heartbeat still waiting in the queue is
    // replaced rather than joined by another, so an outage cannot pile them up.
    void heartbeat() {
        auto j = target_.make_report("HEARTBEAT");
        j["ts"] = j["timestamp"];
        enqueue(j.dump(), "HEARTBEAT", true);
    }

    void stop_heartbeats() {
        std::lock_guard lock(control_mutex_);
        stop_heartbeats_locked();
    }

    // The match is over. `extra` may add winner, loser, reason, stats...
    // Stops heartbeats first so none follows END; started() is refused from
    // now on. A second END or an ERROR after END is still sent (the platform
    // refuses it): fakegame relies on that to produce those faults.
    void end(const std::vector<PlayerResult>& results,
             const nlohmann::json& extra = nlohmann::json::object()) {
        auto j = target_.make_report("END");
        merge_extra(j, extra);
        auto array = nlohmann::json::array();
        for (const auto& r : results) {
            array.push_back(r.to_json());
        }
        j["results"] = std::move(array);
        finish_and_enqueue(j.dump(), "END");
    }

    // The match failed; `message` is shown to players and admins. Like end(),
    // stops heartbeats for good.
    void error(std::string_view message) {
        auto j = target_.make_report("ERROR");
        j["err_msg"] = message;
        finish_and_enqueue(j.dump(), "ERROR");
    }

    // Waits until every queued report got its reply (or was given up).
    // Returns false if that did not happen within `timeout`.
    bool flush(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return idle_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && !in_flight_; });
    }

    ReporterStats stats() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }

    const ReportTarget& target() const noexcept { return target_; }

  private:
    struct Outgoing {
        std::string line;
        std::string status;  // for log lines
        bool heartbeat = false;
    };

    // Bounds memory if a game queues reports while the platform is unreachable.
    static constexpr std::size_t kMaxQueue = 10000;

    static void merge_extra(nlohmann::json& report, const nlohmann::json& extra) {
        if (extra.is_null()) {
            return;
        }
        if (!extra.is_object()) {
            throw std::invalid_argument("report extra fields must be a JSON object");
        }
        for (const auto& [key, value] : extra.items()) {
            if (report.contains(key) || key == "results") {
                throw std::invalid_argument("report extra field \"" + key + "\" is set by the SDK");
            }
            report[key] = value;
        }
    }

    // Callers hold control_mutex_ (the heartbeat thread never takes it, so
    // joining it here cannot deadlock).
    void stop_heartbeats_locked() {
        if (!heartbeat_thread_.joinable()) {
            return;
        }
        {
            std::lock_guard hb(heartbeat_mutex_);
            heartbeat_stop_ = true;
        }
        heartbeat_cv_.notify_all();
        heartbeat_thread_.join();
    }

    // END and ERROR: heartbeats stop before the line is queued, and the
    // reporter remembers the match is over so started() cannot revive them.
    void finish_and_enqueue(std::string line, const char* status) {
        std::lock_guard lock(control_mutex_);
        finished_ = true;
        stop_heartbeats_locked();
        enqueue(std::move(line), status, false);
    }

    void enqueue(std::string line, const char* status, bool heartbeat) {
        std::lock_guard lock(mutex_);
        if (closing_) {
            ++stats_.dropped;
            return;
        }
        ++stats_.queued;
        if (heartbeat) {
            ++stats_.heartbeats;
            // The front entry may be on the wire already; never touch it.
            for (std::size_t i = in_flight_ ? 1 : 0; i < queue_.size(); ++i) {
                if (queue_[i].heartbeat) {
                    queue_[i].line = std::move(line);
                    return;
                }
            }
        }
        if (queue_.size() >= kMaxQueue) {
            ++stats_.dropped;
            return;
        }
        queue_.push_back({std::move(line), status, heartbeat});
        work_cv_.notify_one();
    }

    void heartbeat_loop() {
        std::unique_lock lock(heartbeat_mutex_);
        auto next = detail::Clock::now() + target_.heartbeat_interval;
        while (!heartbeat_cv_.wait_until(lock, next, [&] { return heartbeat_stop_; })) {
            lock.unlock();
            heartbeat();
            lock.lock();
            // Keep a fixed cadence; after a stall (suspended process), restart
            // from now instead of firing a burst of catch-up heartbeats.
            next += target_.heartbeat_interval;
            const auto now = detail::Clock::now();
            if (next < now) {
                next = now + target_.heartbeat_interval;
            }
        }
    }

    void record_error(std::string text) {
        std::lock_guard lock(mutex_);
        stats_.last_error = std::move(text);
    }

    void count(std::uint64_t ReporterStats::*field) {
        std::lock_guard lock(mutex_);
        ++(stats_.*field);
    }

    // The background thread: owns the connection, one message in flight.
    void run() {
        LineConnection conn;
        auto backoff = options_.backoff_initial;
        bool ever_connected = false;
        bool outage_logged = false;
        int attempts = 0;
        const std::string where = target_.host + ":" + std::to_string(target_.port);
        for (;;) {
            Outgoing message;
            {
                std::unique_lock lock(mutex_);
                work_cv_.wait(lock, [&] { return abandon_ || closing_ || !queue_.empty(); });
                if (abandon_ || queue_.empty()) {
                    return;
                }
                message = queue_.front();
                in_flight_ = true;
            }
            if (!conn.is_open()) {
                try {
                    conn = LineConnection(connect_tcp(target_.host, target_.port,
                                                      options_.connect_timeout, wake_read_.get()));
                } catch (const NetError& e) {
                    record_error(e.what());
                    if (!outage_logged) {
                        options_.log(std::string("control plane unreachable (") + e.what() +
                                     "); retrying with backoff");
                        outage_logged = true;
                    }
                    std::unique_lock lock(mutex_);
                    in_flight_ = false;
                    work_cv_.wait_for(lock, backoff, [&] { return abandon_; });
                    backoff = std::min(backoff * 2, options_.backoff_max);
                    continue;
                }
                if (ever_connected) {
                    count(&ReporterStats::reconnects);
                    options_.log("reconnected to the control plane at " + where);
                }
                ever_connected = true;
                outage_logged = false;
                backoff = options_.backoff_initial;
            }

            ++attempts;
            ReadResult reply;
            if (auto error =
                    conn.try_send_line(message.line, options_.reply_timeout, wake_read_.get());
                !error.empty()) {
                reply = {ReadStatus::Error, {}, error};
            } else {
                count(&ReporterStats::sent);
                reply = conn.read_line(options_.reply_timeout, wake_read_.get());
            }

            bool done = true;
            // A failed send is retried on a new connection until max_attempts.
            const auto retry_or_give_up = [&](const std::string& what) {
                if (attempts < options_.max_attempts) {
                    options_.log(what + "; resending on a new connection");
                    done = false;
                } else {
                    count(&ReporterStats::dropped);
                    options_.log(what + "; giving up on the " + message.status +
                                 " report after " + std::to_string(attempts) + " attempts");
                }
            };
            switch (reply.status) {
                case ReadStatus::Line:
                    handle_reply(message, reply.line);
                    break;
                case ReadStatus::Interrupted:
                    done = false;
                    break;  // shutting down
                case ReadStatus::Timeout:
                case ReadStatus::TooLong:
                    count(&ReporterStats::unanswered);
                    record_error(message.status + " report got no reply within " +
                                 std::to_string(options_.reply_timeout.count()) + " ms");
                    // The stream is out of step now; a late reply would be
                    // taken for the next message's.
                    conn.close();
                    retry_or_give_up(message.status + " report got no reply within " +
                                     std::to_string(options_.reply_timeout.count()) + " ms");
                    break;
                case ReadStatus::Closed:
                case ReadStatus::Error:
                    conn.close();
                    record_error("control connection lost: " + reply.error);
                    retry_or_give_up("control connection lost before the reply to " +
                                     message.status + " (" + reply.error + ")");
                    break;
            }

            std::lock_guard lock(mutex_);
            in_flight_ = false;
            if (done) {
                queue_.pop_front();
                attempts = 0;
            }
            if (queue_.empty()) {
                idle_cv_.notify_all();
            }
        }
    }

    void handle_reply(const Outgoing& message, const std::string& line) {
        const auto reply = nlohmann::json::parse(line, nullptr, false);
        if (reply.is_object() && reply.contains("ok") && reply["ok"].is_boolean()) {
            if (reply["ok"].get<bool>()) {
                count(&ReporterStats::acknowledged);
                return;
            }
            std::string why = "no reason given";
            if (auto it = reply.find("error"); it != reply.end()) {
                why = it->is_string() ? it->get<std::string>() : it->dump();
            }
            {
                std::lock_guard lock(mutex_);
                ++stats_.rejected;
                stats_.last_error = message.status + " rejected: " + why;
            }
            options_.log("platform rejected the " + message.status + " report: " + why);
            return;
        }
        count(&ReporterStats::unanswered);
        options_.log("unexpected reply to the " + message.status +
                     " report: " + line.substr(0, 200));
    }

    ReportTarget target_;
    ReporterOptions options_;

    mutable std::mutex mutex_;  // guards the queue, flags and stats
    std::condition_variable work_cv_;
    std::condition_variable idle_cv_;
    std::deque<Outgoing> queue_;
    bool in_flight_ = false;
    bool closing_ = false;
    bool abandon_ = false;
    ReporterStats stats_;

    std::mutex control_mutex_;  // serialises starting/stopping the heartbeat thread
    bool finished_ = false;     // END or ERROR queued; guarded by control_mutex_
    std::mutex heartbeat_mutex_;
    std::condition_variable heartbeat_cv_;
    bool heartbeat_stop_ = false;
    std::thread heartbeat_thread_;

    UniqueFd wake_read_;  // readable once the destructor gives up on the queue
    UniqueFd wake_write_;
    std::thread worker_;  // last member: starts after everything above exists
};

}  // namespace gamestore::sdk
