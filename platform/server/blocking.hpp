#pragma once
// Runs blocking work (SQLite, argon2, zip, waiting for a process group to die)
// on the small blocking pool and resumes the awaiting coroutine back on its
// own executor, so nothing blocks the lobby's I/O thread.
//
// Use it only as `co_await run_blocking(pool, [&] { ... })`: the callable is
// taken by reference and lives until the end of that full-expression, which
// spans the whole wait. It must be trivially destructible (capture by
// reference): GCC 12 destroys a non-trivial temporary of a co_await
// expression twice, and a lambda capturing a std::string by value is one.

#include <atomic>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "platform/asio/asio.hpp"

namespace gamestore::server {

// Jobs handed to run_blocking and not yet finished, on any pool of this
// process (queued or running): the blocking-pool depth of GET /metrics.
inline std::atomic<std::int64_t>& blocking_jobs_in_flight() {
    static std::atomic<std::int64_t> jobs{0};
    return jobs;
}

template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> run_blocking(boost::asio::thread_pool& pool, F&& f) {
    using R = std::invoke_result_t<F&>;
    static_assert(std::is_trivially_destructible_v<std::remove_reference_t<F>>,
                  "capture by reference: see the GCC 12 note above");
    struct InFlight {
        InFlight() { blocking_jobs_in_flight().fetch_add(1, std::memory_order_relaxed); }
        ~InFlight() { blocking_jobs_in_flight().fetch_sub(1, std::memory_order_relaxed); }
        InFlight(const InFlight&) = delete;
        InFlight& operator=(const InFlight&) = delete;
    } in_flight;
    // Asio 1.18's co_spawn default-constructs the result it carries; optional
    // lets results without a default constructor (store::Result) through.
    auto result = co_await boost::asio::co_spawn(
        pool.get_executor(),
        [&f]() -> boost::asio::awaitable<std::optional<R>> { co_return std::optional<R>(f()); },
        boost::asio::use_awaitable);
    co_return std::move(*result);
}

}  // namespace gamestore::server
