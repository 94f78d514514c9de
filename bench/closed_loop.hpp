#pragma once
// Closed-loop request load, shared by bench_lobby_load and bench_cluster:
// signed-in connections spread over a few generator threads, each
// connection sending its next request as soon as the answer to the last one
// arrived. The generator measures its own CPU, so a reader can tell whether
// it or the server was the bottleneck.
//
// It is kept cheap so that the server is what is measured: each thread
// drives its connections with non-blocking sockets on one epoll instance,
// sends a request line assembled from a pre-serialised tail and a fresh id,
// and reads each answer only as far as protocol::peek_server_line needs to
// tell that it is `ok` for that id (no JSON parse, no coroutines). Anything
// else in the answer's place (an error, another id, a line that is not the
// server's envelope, a lost connection, no answer within 10 s of the end)
// counts as an error; event lines (lobby deltas) are skipped.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_common.hpp"

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

    // Registers and signs in players `prefix`0 .. `prefix`(count - 1) (full
    // JSON parse of those answers; throws with the server's sentence);
    // connection i goes to servers[i % servers.size()] and belongs to thread
    // i % threads.
    void connect(const std::vector<BenchServer>& servers, int count, const std::string& prefix);
    // Connections 0 .. level - 1 each send `op` (no arguments) back to back
    // for `duration`.
    ClosedLoopResult run(const std::string& op, int level, std::chrono::seconds duration);
    void close();

  private:
    struct Worker;
    std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace gamestore::bench
