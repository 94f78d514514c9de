#include "platform/protocol/line_framer.hpp"

#include <algorithm>
#include <stdexcept>

namespace gamestore::protocol {

LineFramer::LineFramer(std::size_t max_line) : max_line_(max_line) {
    if (max_line_ == 0) {
        throw std::invalid_argument("LineFramer: max_line must be at least 1 byte");
    }
}

void LineFramer::feed(std::string_view bytes) {
    buffer_.append(bytes);
}

void LineFramer::compact() {
    buffer_.erase(0, head_);
    head_ = 0;
}

FrameResult LineFramer::next() {
    if (discarding_) {
        const std::size_t newline = buffer_.find('\n', head_);
        if (newline == std::string::npos) {
            // Still inside the oversized line: drop everything received so far.
            buffer_.clear();
            head_ = 0;
            scanned_ = 0;
            return {FrameResult::Kind::NeedMore, {}};
        }
        head_ = newline + 1;
        scanned_ = 0;
        discarding_ = false;
    }

    const std::size_t newline = buffer_.find('\n', head_ + scanned_);
    if (newline != std::string::npos) {
        std::size_t length = newline - head_;
        if (length > 0 && buffer_[newline - 1] == '\r') {
            --length;
        }
        const std::size_t start = head_;
        head_ = newline + 1;
        scanned_ = 0;
        if (length > max_line_) {
            return {FrameResult::Kind::TooLarge, {}};
        }
        return {FrameResult::Kind::Line, buffer_.substr(start, length)};
    }

    const std::size_t pending = buffer_.size() - head_;
    scanned_ = pending;
    // A final '\r' may still turn out to be part of a "\r\n" terminator, so it
    // does not count towards the line yet.
    const std::size_t counted = (pending > 0 && buffer_.back() == '\r') ? pending - 1 : pending;
    if (counted > max_line_) {
        discarding_ = true;
        buffer_.clear();
        head_ = 0;
        scanned_ = 0;
        return {FrameResult::Kind::TooLarge, {}};
    }
    compact();
    return {FrameResult::Kind::NeedMore, {}};
}

std::string LineFramer::take_raw(std::size_t max_bytes) {
    if (discarding_) {
        return {};
    }
    const std::size_t n = std::min(max_bytes, buffered());
    std::string raw = buffer_.substr(head_, n);
    head_ += n;
    scanned_ = scanned_ > n ? scanned_ - n : 0;
    if (head_ == buffer_.size()) {
        buffer_.clear();
        head_ = 0;
    }
    return raw;
}

}  // namespace gamestore::protocol
