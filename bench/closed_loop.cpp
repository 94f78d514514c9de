#include "bench/closed_loop.hpp"

#include <thread>

#include "bench/bench_client.hpp"

namespace gamestore::bench {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// One generator thread: its own io_context and its share of the connections.
struct ClosedLoop::Worker {
    asio::io_context io{1};
    std::vector<std::shared_ptr<client::LobbyClient>> clients;
    std::vector<double> latencies_ms;
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    int running = 0;
};

namespace {

// Runs `start` on every worker's thread, then its io_context until stopped.
template <class Workers, class Start>
void run_workers(Workers& workers, Start start) {
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < workers.size(); ++t) {
        threads.emplace_back([&, t] {
            auto& w = *workers[t];
            w.io.restart();
            if (start(w, t))
                w.io.run();
        });
    }
    for (auto& thread : threads)
        thread.join();
}

void rethrow(std::exception_ptr e) {
    if (e)
        std::rethrow_exception(e);
}

}  // namespace

ClosedLoop::ClosedLoop(int threads) {
    for (int t = 0; t < std::max(1, threads); ++t)
        workers_.push_back(std::make_unique<Worker>());
}

ClosedLoop::~ClosedLoop() {
    close();
}

void ClosedLoop::connect(const std::vector<BenchServer>& servers, int count,
                         const std::string& prefix) {
    const int threads = static_cast<int>(workers_.size());
    run_workers(workers_, [&](Worker& w, std::size_t t) {
        if (static_cast<int>(t) >= count)
            return false;
        asio::co_spawn(
            w.io,
            [&w, &servers, &prefix, t, threads, count]() -> asio::awaitable<void> {
                for (int i = static_cast<int>(t); i < count; i += threads) {
                    const auto& server = servers[static_cast<std::size_t>(i) % servers.size()];
                    w.clients.push_back(
                        co_await signed_in(server, "player", prefix + std::to_string(i)));
                }
                // The connections' readers would keep run() going.
                w.io.stop();
            },
            rethrow);
        return true;
    });
}

ClosedLoopResult ClosedLoop::run(const std::string& op, int level, std::chrono::seconds duration) {
    for (auto& w : workers_) {
        w->latencies_ms.clear();
        w->requests = 0;
        w->errors = 0;
    }
    const std::size_t threads = workers_.size();
    const double cpu_before = own_cpu_seconds();
    const auto start = Clock::now();
    const auto end = start + duration;
    auto loop = [op, end](Worker& w,
                          std::shared_ptr<client::LobbyClient> client) -> asio::awaitable<void> {
        while (Clock::now() < end) {
            const auto sent = Clock::now();
            auto response = co_await client->call(op);
            const auto elapsed =
                std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
            if (response.ok) {
                ++w.requests;
                w.latencies_ms.push_back(elapsed);
            } else {
                ++w.errors;
            }
        }
        if (--w.running == 0)
            w.io.stop();
    };
    run_workers(workers_, [&](Worker& w, std::size_t t) {
        w.running = 0;
        for (std::size_t i = t; i < static_cast<std::size_t>(level); i += threads) {
            if (i / threads >= w.clients.size())
                break;
            ++w.running;
            asio::co_spawn(w.io, loop(w, w.clients[i / threads]), asio::detached);
        }
        return w.running > 0;
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
        for (auto& client : w->clients)
            client->close();
        w->clients.clear();
    }
}

}  // namespace gamestore::bench
