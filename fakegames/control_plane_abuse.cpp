#include "fakegames/control_plane_abuse.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cmath>
#include <stdexcept>

namespace gamestore::fakegames {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string make_oversized_line(std::size_t bytes, const std::string& match_id) {
    const std::string prefix =
        nlohmann::json{{"status", "HEARTBEAT"}, {"match_id", match_id}}.dump();
    // {"match_id":"...","status":"HEARTBEAT"} -> {...,"pad":"xxxx"}
    const std::string head = prefix.substr(0, prefix.size() - 1) + ",\"pad\":\"";
    const std::string tail = "\"}";
    if (bytes < head.size() + tail.size()) {
        return std::string(bytes, 'x');
    }
    std::string line = head;
    line.append(bytes - head.size() - tail.size(), 'x');
    line += tail;
    return line;
}

const std::vector<std::string>& malformed_lines() {
    static const std::vector<std::string> lines = {
        R"({"status":"HEARTBEAT",)",
        "this is not json",
        R"({"room_id":)",
        "[1,2",
        R"({"status":"HEARTBEAT","match_id":"x")",
        "\x01\x02\x7f",
    };
    return lines;
}

ControlPlaneAbuse::ControlPlaneAbuse(sdk::ReportTarget target, AbuseOptions options, Log log)
    : target_(std::move(target)), options_(options), log_(std::move(log)) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        throw std::runtime_error("pipe2 failed");
    }
    stop_read_.reset(fds[0]);
    stop_write_.reset(fds[1]);
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        throw std::runtime_error("pipe2 failed");
    }
    done_read_.reset(fds[0]);
    done_write_.reset(fds[1]);
}

ControlPlaneAbuse::~ControlPlaneAbuse() {
    stop();
}

bool ControlPlaneAbuse::enabled() const {
    return options_.flood_rate > 0 || options_.oversized_line > 0 || options_.malformed_json > 0 ||
           options_.slowloris_bytes > 0;
}

void ControlPlaneAbuse::start() {
    if (options_.flood_rate > 0) {
        run_finite(&ControlPlaneAbuse::flood);
    }
    if (options_.oversized_line > 0) {
        run_finite(&ControlPlaneAbuse::oversized);
    }
    if (options_.malformed_json > 0) {
        run_finite(&ControlPlaneAbuse::malformed);
    }
    if (options_.slowloris_bytes > 0) {
        threads_.emplace_back([this] { slowloris(); });
    }
}

void ControlPlaneAbuse::run_finite(void (ControlPlaneAbuse::*fault)()) {
    {
        std::lock_guard lock(mutex_);
        ++finite_running_;
    }
    threads_.emplace_back([this, fault] {
        (this->*fault)();
        {
            std::lock_guard lock(mutex_);
            --finite_running_;
        }
        const char byte = 1;
        [[maybe_unused]] auto n = ::write(done_write_.get(), &byte, 1);
    });
}

void ControlPlaneAbuse::finish(milliseconds bound, int interrupt_fd) {
    const auto deadline = Clock::now() + bound;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (finite_running_ == 0) {
                break;
            }
        }
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            break;
        }
        pollfd fds[2] = {{done_read_.get(), POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
        const int rc = ::poll(fds, interrupt_fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
        if (rc > 0 && fds[1].revents != 0) {
            break;
        }
        char drain[64];
        while (::read(done_read_.get(), drain, sizeof drain) > 0) {
        }
    }
    stop();
}

void ControlPlaneAbuse::stop() {
    if (!stopping_.exchange(true)) {
        const char byte = 1;
        [[maybe_unused]] auto n = ::write(stop_write_.get(), &byte, 1);
    }
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
    threads_.clear();
}

std::optional<sdk::LineConnection> ControlPlaneAbuse::open(const char* what) {
    try {
        // Generous limit: the platform's replies are short, but nothing here
        // should fail because of our own buffer.
        return sdk::LineConnection(
            sdk::connect_tcp(target_.host, target_.port, milliseconds(2000), stop_read_.get()),
            1024 * 1024);
    } catch (const sdk::NetError& e) {
        log_(std::string(what) + ": cannot connect to the control plane: " + e.what());
        return std::nullopt;
    }
}

bool ControlPlaneAbuse::pause(milliseconds d, int fd) {
    const auto deadline = Clock::now() + d;
    for (;;) {
        pollfd fds[2] = {{stop_read_.get(), POLLIN, 0}, {fd, POLLIN, 0}};
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        const int rc =
            ::poll(fds, fd >= 0 ? 2 : 1, static_cast<int>(std::max<long long>(0, left.count())));
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (fds[0].revents != 0) {
            return false;
        }
        return true;  // timeout, or `fd` readable
    }
}

void ControlPlaneAbuse::flood() {
    auto conn = open("flood");
    if (!conn) {
        return;
    }
    const double rate = options_.flood_rate;
    const auto total = static_cast<long long>(std::llround(rate * options_.flood_seconds));
    const auto start = Clock::now();
    long long sent = 0;
    long long replies = 0;
    std::string ending = "finished";
    while (sent < total) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        const long long due = std::min(total, static_cast<long long>(elapsed * rate) + 1);
        bool failed = false;
        while (sent < due) {
            auto line = target_.make_report("HEARTBEAT");
            line["ts"] = line["timestamp"];
            line["flood_seq"] = sent;
            if (auto error = conn->try_send_line(line.dump(), milliseconds(2000), stop_read_.get());
                !error.empty()) {
                ending = "stopped: " + error;
                failed = true;
                break;
            }
            ++sent;
        }
        // Read replies as they come so our receive buffer never fills up.
        for (;;) {
            auto r = conn->poll_line();
            if (r.ok()) {
                ++replies;
                continue;
            }
            if (r.status == sdk::ReadStatus::Closed || r.status == sdk::ReadStatus::Error) {
                ending = "the platform closed the connection";
                failed = true;
            }
            break;
        }
        if (failed || stopping_) {
            if (stopping_ && !failed) {
                ending = "stopped by shutdown";
            }
            break;
        }
        const auto next = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(sent / rate));
        const auto wait = std::chrono::duration_cast<milliseconds>(next - Clock::now());
        if (wait.count() > 0 && !pause(wait, conn->fd())) {
            ending = "stopped by shutdown";
            break;
        }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    log_("flood: sent " + std::to_string(sent) + " of " + std::to_string(total) + " lines in " +
         std::to_string(seconds) + " s, " + std::to_string(replies) + " replies (" + ending + ")");
}

void ControlPlaneAbuse::oversized() {
    auto conn = open("oversized line");
    if (!conn) {
        return;
    }
    const auto line = make_oversized_line(options_.oversized_line, target_.match_id);
    if (auto error = conn->try_send_line(line, milliseconds(10000), stop_read_.get());
        !error.empty()) {
        log_("oversized line: sending " + std::to_string(line.size()) + " bytes failed: " + error);
        return;
    }
    auto reply = conn->read_line(milliseconds(2000), stop_read_.get());
    log_("oversized line: sent " + std::to_string(line.size()) + " bytes; platform " +
         (reply.ok() ? "replied " + reply.line.substr(0, 200)
                     : std::string(sdk::to_string(reply.status))));
}

void ControlPlaneAbuse::malformed() {
    auto conn = open("malformed json");
    if (!conn) {
        return;
    }
    const auto& variants = malformed_lines();
    int sent = 0;
    for (; sent < options_.malformed_json && !stopping_; ++sent) {
        if (auto error =
                conn->try_send_line(variants[static_cast<std::size_t>(sent) % variants.size()],
                                    milliseconds(2000), stop_read_.get());
            !error.empty()) {
            log_("malformed json: stopped after " + std::to_string(sent) + " lines: " + error);
            return;
        }
    }
    // One valid report afterwards shows whether the connection survived.
    auto valid = target_.make_report("HEARTBEAT");
    valid["ts"] = valid["timestamp"];
    const auto error = conn->try_send_line(valid.dump(), milliseconds(2000), stop_read_.get());
    int replies = 0;
    const auto deadline = Clock::now() + milliseconds(2000);
    while (error.empty() && replies < sent + 1 && Clock::now() < deadline) {
        auto r = conn->read_line(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()),
                                 stop_read_.get());
        if (!r.ok()) {
            break;
        }
        ++replies;
    }
    log_("malformed json: sent " + std::to_string(sent) + " malformed lines and 1 valid heartbeat" +
         (error.empty() ? "" : " (failed: " + error + ")") + "; " + std::to_string(replies) +
         " replies");
}

void ControlPlaneAbuse::slowloris() {
    auto conn = open("slowloris");
    if (!conn) {
        return;
    }
    const std::string head = R"({"status":"HEARTBEAT","pad":")";
    std::size_t sent = 0;
    for (; sent < options_.slowloris_bytes; ++sent) {
        const char byte = sent < head.size() ? head[sent] : 'x';
        if (auto error = conn->try_send_raw(std::string_view(&byte, 1), milliseconds(2000),
                                            stop_read_.get());
            !error.empty()) {
            log_("slowloris: connection ended after " + std::to_string(sent) + " bytes: " + error);
            return;
        }
        if (!pause(options_.slowloris_interval, conn->fd())) {
            return;
        }
        if (conn->poll_line().status == sdk::ReadStatus::Closed) {
            log_("slowloris: the platform closed the connection after " + std::to_string(sent + 1) +
                 " bytes");
            return;
        }
    }
    log_("slowloris: sent " + std::to_string(sent) +
         " bytes without a newline; holding the connection");
    // Hold until shutdown or until the platform gives up on us.
    while (pause(milliseconds(1000), conn->fd())) {
        const auto r = conn->poll_line();
        if (r.status == sdk::ReadStatus::Closed || r.status == sdk::ReadStatus::Error) {
            log_("slowloris: the platform closed the held connection");
            return;
        }
    }
}

}  // namespace gamestore::fakegames
