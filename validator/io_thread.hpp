#pragma once
// One Asio io_context on a thread of its own for everything networked during
// a validation (the mock control plane, the handshake probes, the handshake
// tap, output capture). The orchestrating thread stays synchronous: it runs
// a coroutine on the io_context and waits for its result.

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>
#include <utility>

#include "platform/asio/asio.hpp"

namespace gamestore::validator {

namespace asio = boost::asio;

class IoThread {
  public:
    IoThread() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
    ~IoThread() { stop(); }
    IoThread(const IoThread&) = delete;
    IoThread& operator=(const IoThread&) = delete;

    asio::io_context& io() { return io_; }

    // Runs the coroutine on the io_context and blocks until it returns; its
    // exception, if any, is rethrown here. Never call from the io thread.
    template <typename T>
    T run(asio::awaitable<T> coroutine) {
        if (stopped_) {
            throw std::logic_error("IoThread::run after stop()");
        }
        return asio::co_spawn(io_, std::move(coroutine), asio::use_future).get();
    }

    // Runs a plain function on the io thread and waits for it; does nothing
    // once the thread has stopped (nothing runs there any more).
    template <typename F>
    void call(F&& function) {
        if (stopped_) {
            return;
        }
        std::promise<void> done;
        asio::post(io_, [&] {
            function();
            done.set_value();
        });
        done.get_future().wait();
    }

    void stop() {
        if (thread_.joinable()) {
            stopped_ = true;
            work_.reset();
            io_.stop();
            thread_.join();
        }
    }

  private:
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::atomic<bool> stopped_{false};
    std::thread thread_;
};

}  // namespace gamestore::validator
