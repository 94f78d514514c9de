#pragma once
// Runs blocking work (SQLite, argon2, zip, waiting for a process group to die)
// on the small blocking pool and resumes the awaiting coroutine back on its
// own executor, so nothing blocks the lobby's I/O thread.

#include <optional>
#include <type_traits>
#include <utility>

#include "platform/asio/asio.hpp"

namespace gamestore::server {

template <class F>
boost::asio::awaitable<std::invoke_result_t<F>> run_blocking(boost::asio::thread_pool& pool, F f) {
    using R = std::invoke_result_t<F>;
    // Asio 1.18's co_spawn default-constructs the result it carries; optional
    // lets results without a default constructor (store::Result) through.
    auto result = co_await boost::asio::co_spawn(
        pool.get_executor(),
        [f = std::move(f)]() mutable -> boost::asio::awaitable<std::optional<R>> {
            co_return std::optional<R>(f());
        },
        boost::asio::use_awaitable);
    co_return std::move(*result);
}

}  // namespace gamestore::server
