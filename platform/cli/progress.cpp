#include "platform/cli/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>

namespace gamestore::cli {

namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr int kBarWidth = 24;

std::optional<std::uint64_t> process_bytes_read() {
    std::ifstream in("/proc/self/io");
    std::string key;
    std::uint64_t value = 0;
    while (in >> key >> value) {
        if (key == "rchar:") {
            return value;
        }
    }
    return std::nullopt;
}

}  // namespace

std::string human_bytes(std::uint64_t bytes) {
    char text[32];
    if (bytes < 1024) {
        std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
    } else if (bytes < 1024ull * 1024) {
        std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
    } else if (bytes < 1024ull * 1024 * 1024) {
        std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    } else {
        std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
    }
    return text;
}

ProgressBar::ProgressBar(std::string label, std::uint64_t total, std::uint64_t start)
    : label_(std::move(label)),
      total_(total),
      start_(start),
      done_(start),
      visible_(::isatty(STDERR_FILENO) == 1),
      began_(std::chrono::steady_clock::now()) {
    std::lock_guard lock(mutex_);
    draw_locked(false);
}

ProgressBar::~ProgressBar() {
    finish();
}

void ProgressBar::update(std::uint64_t done) {
    std::lock_guard lock(mutex_);
    done_ = std::min(done, total_);
    if (finished_ || !visible_) {
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ >= kRedrawInterval) {
        draw_locked(false);
    }
}

void ProgressBar::finish() {
    std::lock_guard lock(mutex_);
    if (finished_) {
        return;
    }
    finished_ = true;
    draw_locked(true);
}

void ProgressBar::draw_locked(bool final) {
    if (!visible_) {
        return;
    }
    last_draw_ = std::chrono::steady_clock::now();
    const double fraction = total_ == 0 ? 1.0 : static_cast<double>(done_) / static_cast<double>(total_);
    const int filled = static_cast<int>(fraction * kBarWidth);
    std::string bar(static_cast<std::size_t>(filled), '=');
    if (filled < kBarWidth) {
        bar += '>';
        bar.append(static_cast<std::size_t>(kBarWidth - filled - 1), ' ');
    }
    const double seconds = std::chrono::duration<double>(last_draw_ - began_).count();
    const double rate = seconds > 0.05 ? static_cast<double>(done_ > start_ ? done_ - start_ : 0) / seconds / (1024.0 * 1024.0) : 0.0;
    // No rate until there is enough time to measure one.
    char speed[32] = "";
    if (seconds > 0.05) {
        std::snprintf(speed, sizeof speed, "  %.1f MiB/s", rate);
    }
    char line[256];
    std::snprintf(line, sizeof line, "\r%s [%s] %3d%%  %s / %s%s\033[K", label_.c_str(), bar.c_str(),
                  static_cast<int>(fraction * 100.0), human_bytes(done_).c_str(), human_bytes(total_).c_str(),
                  speed);
    std::fputs(line, stderr);
    if (final) {
        std::fputs("\n", stderr);
    }
    std::fflush(stderr);
}

UploadProgress::UploadProgress(ProgressBar& bar, std::uint64_t total) : bar_(bar), total_(total) {
    if (!bar_.visible()) {
        return;  // nothing to draw: do not start a thread
    }
    const auto baseline = process_bytes_read();
    if (!baseline) {
        return;
    }
    baseline_ = *baseline;
    thread_ = std::thread([this] { run(); });
}

UploadProgress::~UploadProgress() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void UploadProgress::run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
        cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop_; });
        if (stop_) {
            break;
        }
        if (const auto now = process_bytes_read()) {
            bar_.update(std::min(total_, *now - baseline_));
        }
    }
}

}  // namespace gamestore::cli
