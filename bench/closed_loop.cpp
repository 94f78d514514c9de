#include "bench/closed_loop.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <variant>

#include <nlohmann/json.hpp>

#include "platform/protocol/lobby.hpp"

namespace gamestore::bench {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

// How long a run waits past its end for the answers still on their way, and
// how long a sign-in step may take, before counting them as failed.
constexpr auto kGrace = std::chrono::seconds(10);
constexpr int kSignInTimeoutSeconds = 30;
constexpr std::size_t kReadChunk = 64 * 1024;

std::runtime_error system_error(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

int connect_to(const BenchServer& server) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(server.lobby_port);
    if (const int rc = ::getaddrinfo(server.lobby_host.c_str(), port.c_str(), &hints, &found);
        rc != 0) {
        throw std::runtime_error("resolving " + server.lobby_host + ": " + ::gai_strerror(rc));
    }
    int fd = -1;
    for (const addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            ::close(fd);
            fd = -1;
        }
    }
    ::freeaddrinfo(found);
    if (fd < 0) {
        throw system_error("connecting to " + server.lobby_host + ":" + port);
    }
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    const timeval timeout{kSignInTimeoutSeconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    return fd;
}

}  // namespace

struct ClosedLoop::Worker {
    struct Connection {
        int fd = -1;
        std::string in;        // received bytes not yet taken as lines
        std::string out;       // the request not yet written (only after a short write)
        bool writing = false;  // waiting for EPOLLOUT to finish `out`
        std::int64_t next_id = 1;
        std::int64_t awaited = 0;  // the id in flight, 0 for none
        Clock::time_point sent;
        bool lost = false;
    };

    int epoll_fd = -1;
    std::vector<Connection> connections;
    std::vector<double> latencies_ms;
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    int in_flight = 0;
    Clock::time_point end;
    std::string tail;  // `,"op":...}\n` after the id
    std::vector<char> buffer = std::vector<char>(kReadChunk);

    Worker() {
        epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd < 0) {
            throw system_error("epoll_create1");
        }
    }
    ~Worker() {
        close_all();
        ::close(epoll_fd);
    }
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void close_all() {
        for (auto& c : connections) {
            if (c.fd >= 0) {
                ::close(c.fd);
            }
        }
        connections.clear();
    }

    // Blocking: one request line, then lines until its answer (events are
    // skipped), parsed in full.
    static protocol::Response call(Connection& c, std::string_view op, const json& args) {
        const auto id = c.next_id++;
        const auto line = protocol::encode_request(id, op, args);
        for (std::size_t done = 0; done < line.size();) {
            const auto n = ::send(c.fd, line.data() + done, line.size() - done, MSG_NOSIGNAL);
            if (n <= 0) {
                throw system_error("sending " + std::string(op));
            }
            done += static_cast<std::size_t>(n);
        }
        for (;;) {
            const auto newline = c.in.find('\n');
            if (newline == std::string::npos) {
                std::array<char, 4096> chunk;
                const auto n = ::recv(c.fd, chunk.data(), chunk.size(), 0);
                if (n <= 0) {
                    throw n == 0 ? std::runtime_error("the server closed the connection during " +
                                                      std::string(op))
                                 : system_error("waiting for the answer to " + std::string(op));
                }
                c.in.append(chunk.data(), static_cast<std::size_t>(n));
                continue;
            }
            auto message =
                protocol::parse_server_message(std::string_view(c.in).substr(0, newline));
            c.in.erase(0, newline + 1);
            if (auto* error = std::get_if<protocol::MessageError>(&message)) {
                throw std::runtime_error("answer to " + std::string(op) + ": " + error->message);
            }
            if (auto* response = std::get_if<protocol::Response>(&message)) {
                if (response->id != id) {
                    throw std::runtime_error("answer to " + std::string(op) + " has id " +
                                             std::to_string(response->id) + ", not " +
                                             std::to_string(id));
                }
                return std::move(*response);
            }
        }
    }

    void sign_in(const BenchServer& server, const std::string& name) {
        Connection c;
        c.fd = connect_to(server);
        connections.push_back(std::move(c));
        auto& added = connections.back();
        const json credentials = {
            {"role", "player"}, {"name", name}, {"password", "bench-password"}};
        call(added, "auth.register", credentials);  // an existing account is fine
        const auto login = call(added, "auth.login", credentials);
        if (!login.ok) {
            throw std::runtime_error("login of " + name + " failed: " + login.message);
        }
        const timeval none{0, 0};
        ::setsockopt(added.fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
        ::setsockopt(added.fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    }

    // Registers every connection, from here on driven without blocking.
    void watch_all() {
        for (std::size_t i = 0; i < connections.size(); ++i) {
            epoll_event event{};
            event.events = EPOLLIN;
            event.data.u64 = i;
            if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, connections[i].fd, &event) != 0) {
                throw system_error("epoll_ctl");
            }
        }
    }

    void want_output(std::size_t index, bool on) {
        auto& c = connections[index];
        if (c.writing == on) {
            return;
        }
        c.writing = on;
        epoll_event event{};
        event.events = EPOLLIN | (on ? EPOLLOUT : 0u);
        event.data.u64 = index;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &event);
    }

    void lose(std::size_t index) {
        auto& c = connections[index];
        if (c.lost) {
            return;
        }
        c.lost = true;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
        if (c.awaited != 0) {
            c.awaited = 0;
            ++errors;
            --in_flight;
        }
    }

    // Writes what is left of `out`; false when the connection failed.
    bool flush(std::size_t index) {
        auto& c = connections[index];
        while (!c.out.empty()) {
            const auto n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                want_output(index, true);
                return true;
            }
            if (n <= 0) {
                return false;
            }
            c.out.erase(0, static_cast<std::size_t>(n));
        }
        want_output(index, false);
        return true;
    }

    void send_next(std::size_t index) {
        auto& c = connections[index];
        const auto id = c.next_id++;
        c.awaited = id;
        ++in_flight;
        std::string_view line = tail;
        std::array<char, 256> assembled;
        const std::string_view kId = R"({"id":)";
        if (kId.size() + 20 + tail.size() <= assembled.size()) {
            std::memcpy(assembled.data(), kId.data(), kId.size());
            char* p =
                std::to_chars(assembled.data() + kId.size(), assembled.data() + kId.size() + 20, id)
                    .ptr;
            std::memcpy(p, tail.data(), tail.size());
            line = std::string_view(assembled.data(),
                                    static_cast<std::size_t>(p - assembled.data()) + tail.size());
        } else {
            c.out = std::string(kId) + std::to_string(id) + tail;
            line = {};
        }
        c.sent = Clock::now();
        // Almost always written whole at once; the rest waits for EPOLLOUT.
        if (!line.empty() && c.out.empty()) {
            const auto n = ::send(c.fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n == static_cast<ssize_t>(line.size())) {
                return;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                lose(index);
                return;
            }
            c.out.assign(line.substr(static_cast<std::size_t>(std::max<ssize_t>(n, 0))));
        }
        if (!flush(index)) {
            lose(index);
        }
    }

    // Takes the complete lines at the start of `bytes` (the connection's
    // input); returns how many bytes they span.
    std::size_t take_lines(std::size_t index, std::string_view bytes) {
        auto& c = connections[index];
        std::size_t start = 0;
        for (;;) {
            const void* found = std::memchr(bytes.data() + start, '\n', bytes.size() - start);
            if (found == nullptr) {
                return start;
            }
            const auto newline =
                static_cast<std::size_t>(static_cast<const char*>(found) - bytes.data());
            const auto head = protocol::peek_server_line(bytes.substr(start, newline - start));
            start = newline + 1;
            if (head.kind == protocol::LineHead::Kind::Event) {
                continue;
            }
            if (c.awaited == 0) {
                ++errors;  // an answer nobody asked for
                continue;
            }
            const auto now = Clock::now();
            if (head.kind == protocol::LineHead::Kind::Ok && head.id == c.awaited) {
                ++requests;
                latencies_ms.push_back(
                    std::chrono::duration<double, std::milli>(now - c.sent).count());
            } else {
                ++errors;
            }
            c.awaited = 0;
            --in_flight;
            if (now < end) {
                send_next(index);
                if (c.lost) {
                    return bytes.size();
                }
            }
        }
    }

    void readable(std::size_t index) {
        auto& c = connections[index];
        const auto n = ::recv(c.fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return;
        }
        if (n <= 0) {
            lose(index);
            return;
        }
        const std::string_view got(buffer.data(), static_cast<std::size_t>(n));
        // Level-triggered: whatever a short read left in the socket wakes us
        // again. The common case, an answer that arrived whole, is read from
        // the buffer without a copy.
        if (c.in.empty()) {
            const auto used = take_lines(index, got);
            if (!c.lost) {
                c.in.assign(got.substr(used));
            }
        } else {
            c.in.append(got);
            const auto used = take_lines(index, c.in);
            if (!c.lost) {
                c.in.erase(0, used);
            }
        }
    }

    // Sends the first request on this worker's first `count` connections
    // and answers each answer with the next request until `end`.
    void run(std::size_t count) {
        for (std::size_t i = 0; i < count && i < connections.size(); ++i) {
            if (!connections[i].lost) {
                send_next(i);
            }
        }
        const auto give_up = end + kGrace;
        std::array<epoll_event, 64> events;
        while (in_flight > 0) {
            const auto now = Clock::now();
            if (now >= give_up) {
                break;
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(give_up - now).count();
            const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()),
                                       static_cast<int>(std::min<long long>(left + 1, 1000)));
            for (int e = 0; e < n; ++e) {
                const auto index = static_cast<std::size_t>(events[e].data.u64);
                if (connections[index].lost) {
                    continue;
                }
                if (events[e].events & EPOLLOUT) {
                    if (!flush(index)) {
                        lose(index);
                        continue;
                    }
                }
                if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                    readable(index);
                }
            }
        }
        // Answers still missing at the give-up time.
        for (auto& c : connections) {
            if (c.awaited != 0) {
                c.awaited = 0;
                ++errors;
            }
        }
        in_flight = 0;
    }
};

namespace {

// Runs `body(worker, t)` on a thread per worker; rethrows the first failure.
template <class Workers, class Body>
void on_worker_threads(Workers& workers, Body body) {
    std::vector<std::thread> threads;
    std::exception_ptr failure;
    std::mutex failure_mutex;
    for (std::size_t t = 0; t < workers.size(); ++t) {
        threads.emplace_back([&, t] {
            try {
                body(*workers[t], t);
            } catch (...) {
                const std::lock_guard lock(failure_mutex);
                if (!failure) {
                    failure = std::current_exception();
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    if (failure) {
        std::rethrow_exception(failure);
    }
}

}  // namespace

ClosedLoop::ClosedLoop(int threads) {
    for (int t = 0; t < std::max(1, threads); ++t) {
        workers_.push_back(std::make_unique<Worker>());
    }
}

ClosedLoop::~ClosedLoop() {
    close();
}

void ClosedLoop::connect(const std::vector<BenchServer>& servers, int count,
                         const std::string& prefix) {
    const auto threads = workers_.size();
    on_worker_threads(workers_, [&](Worker& w, std::size_t t) {
        for (auto i = t; i < static_cast<std::size_t>(std::max(count, 0)); i += threads) {
            w.sign_in(servers[i % servers.size()], prefix + std::to_string(i));
        }
        w.watch_all();
    });
}

ClosedLoopResult ClosedLoop::run(const std::string& op, int level, std::chrono::seconds duration) {
    const std::size_t threads = workers_.size();
    const std::string tail = ",\"op\":" + json(op).dump() + "}\n";
    const double cpu_before = own_cpu_seconds();
    const auto start = Clock::now();
    for (auto& w : workers_) {
        w->latencies_ms.clear();
        w->requests = 0;
        w->errors = 0;
        w->end = start + duration;
        w->tail = tail;
    }
    on_worker_threads(workers_, [&](Worker& w, std::size_t t) {
        // Connection i is this worker's i / threads when i % threads == t.
        const auto level_size = static_cast<std::size_t>(std::max(level, 0));
        const std::size_t mine = level_size > t ? (level_size - t + threads - 1) / threads : 0;
        w.run(mine);
    });
    ClosedLoopResult result;
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    result.generator_cpu = (own_cpu_seconds() - cpu_before) / result.seconds;
    for (auto& w : workers_) {
        result.latencies_ms.insert(result.latencies_ms.end(), w->latencies_ms.begin(),
                                   w->latencies_ms.end());
        result.requests += w->requests;
        result.errors += w->errors;
    }
    return result;
}

void ClosedLoop::close() {
    for (auto& w : workers_) {
        w->close_all();
    }
}

}  // namespace gamestore::bench
