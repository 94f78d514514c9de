#pragma once
// Progress for long transfers (package uploads and downloads): a one-line bar
// on stderr with percent, bytes and MiB/s, redrawn at most ten times a
// second. Drawn only when stderr is a terminal, so scripts and logs never see
// carriage returns.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <condition_variable>

namespace gamestore::cli {

// "1.5 MiB", "512 B"
std::string human_bytes(std::uint64_t bytes);

class ProgressBar {
public:
    // `start` bytes are already done (a resumed download); the rate counts
    // only what this run transfers.
    ProgressBar(std::string label, std::uint64_t total, std::uint64_t start = 0);
    ~ProgressBar();
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    bool visible() const { return visible_; }
    // Thread-safe: downloads report from the client's I/O thread.
    void update(std::uint64_t done);
    // Draws the final state and ends the line (idempotent).
    void finish();

private:
    void draw_locked(bool final);

    std::string label_;
    std::uint64_t total_;
    std::uint64_t start_;
    std::uint64_t done_;
    bool visible_;
    bool finished_ = false;
    std::chrono::steady_clock::time_point began_;
    std::chrono::steady_clock::time_point last_draw_;
    std::mutex mutex_;
};

// Feeds a ProgressBar during an upload. The client library sends the file
// from its own I/O thread and reports nothing until the server answers, so
// this samples the bytes the process has read from files (/proc/self/io
// `rchar`): during an upload that is the package being streamed, at most one
// chunk ahead of the socket. When /proc is unavailable the bar simply stays
// at its start.
class UploadProgress {
public:
    UploadProgress(ProgressBar& bar, std::uint64_t total);
    ~UploadProgress();  // stops sampling (does not finish the bar)
    UploadProgress(const UploadProgress&) = delete;
    UploadProgress& operator=(const UploadProgress&) = delete;

private:
    void run();

    ProgressBar& bar_;
    std::uint64_t total_;
    std::uint64_t baseline_ = 0;
    bool stop_ = false;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::thread thread_;
};

}  // namespace gamestore::cli
