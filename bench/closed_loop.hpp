#pragma once
// Closed-loop request load, shared by bench_lobby_load and bench_cluster:
// signed-in connections spread over a few generator threads (each with its
// own io_context), each connection sending its next request as soon as the
// answer to the last one arrived. The generator measures its own CPU, so a
// reader can tell whether it or the server was the bottleneck.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_common.hpp"
#include "platform/client/lobby_client.hpp"

namespace gamestore::bench {

struct ClosedLoopResult {
    std::uint64_t requests = 0;  // answered ok
    std::uint64_t errors = 0;
    double seconds = 0;
    std::vector<double> latencies_ms;  // one per answered request
    double generator_cpu = 0;          // this process's CPU over the run, in cores
};

class ClosedLoop {
  public:
    explicit ClosedLoop(int threads);
    ~ClosedLoop();
    ClosedLoop(const ClosedLoop&) = delete;
    ClosedLoop& operator=(const ClosedLoop&) = delete;

    // Signs in players `prefix`0 .. `prefix`(count - 1); connection i goes to
    // servers[i % servers.size()] and belongs to thread i % threads.
    void connect(const std::vector<BenchServer>& servers, int count, const std::string& prefix);
    // Connections 0 .. level - 1 each send `op` back to back for `duration`.
    ClosedLoopResult run(const std::string& op, int level, std::chrono::seconds duration);
    void close();

  private:
    struct Worker;
    std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace gamestore::bench
