// Differential fuzzing of LineFramer: the input is one byte stream, fed in
// pseudo-random chunk sizes (1 byte up to a few KiB, derived from the input
// itself so runs are reproducible). What the framer emits must equal what a
// straightforward whole-buffer splitter computes, and its memory must stay
// within max_line + 1 + one chunk. Lines that parse as lobby requests with
// "bytes":N are blob headers: the harness then takes N raw bytes the way a
// session does (take_raw first, then straight from the "socket").

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "platform/protocol/line_framer.hpp"
#include "platform/protocol/lobby.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using gamestore::protocol::FrameResult;
using gamestore::protocol::LineFramer;

struct Frame {
    enum class Kind { Line, TooLarge, Raw } kind;
    std::string bytes;
    bool operator==(const Frame&) const = default;
};

// Blob size announced by a header line, if it is one.
std::optional<std::uint64_t> blob_size(const std::string& line) {
    if (line.find("\"bytes\"") == std::string::npos) {
        return std::nullopt;  // cheap pre-check: most lines are not headers
    }
    auto parsed = gamestore::protocol::parse_request(line);
    if (const auto* request = std::get_if<gamestore::protocol::Request>(&parsed)) {
        return request->blob_bytes;
    }
    return std::nullopt;
}

std::vector<Frame> reference_frames(std::string_view data, std::size_t max_line) {
    std::vector<Frame> frames;
    std::size_t pos = 0;
    while (pos < data.size()) {
        const std::size_t newline = data.find('\n', pos);
        if (newline == std::string_view::npos) {
            std::size_t tail = data.size() - pos;
            if (data.back() == '\r') {
                --tail;
            }
            if (tail > max_line) {
                frames.push_back({Frame::Kind::TooLarge, {}});
            }
            break;
        }
        std::size_t length = newline - pos;
        if (length > 0 && data[newline - 1] == '\r') {
            --length;
        }
        const std::size_t start = pos;
        pos = newline + 1;
        if (length > max_line) {
            frames.push_back({Frame::Kind::TooLarge, {}});
            continue;
        }
        std::string line(data.substr(start, length));
        const auto blob = blob_size(line);
        frames.push_back({Frame::Kind::Line, std::move(line)});
        if (blob) {
            const std::size_t take =
                static_cast<std::size_t>(std::min<std::uint64_t>(*blob, data.size() - pos));
            frames.push_back({Frame::Kind::Raw, std::string(data.substr(pos, take))});
            pos += take;
        }
    }
    return frames;
}

// xorshift64: chunk sizes from a seed, so a crashing input replays exactly.
struct Rng {
    std::uint64_t state;
    std::uint64_t next() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    }
};

std::vector<Frame> framed(std::string_view data, std::size_t max_line, std::uint64_t seed) {
    std::vector<Frame> frames;
    LineFramer framer(max_line);
    FUZZ_CHECK(framer.max_line() == max_line);
    Rng rng{seed | 1};
    std::size_t pos = 0;
    std::uint64_t blob_remaining = 0;  // raw bytes still to read from the stream
    std::string blob;
    bool in_blob = false;

    while (pos < data.size()) {
        const std::uint64_t r = rng.next();
        // Mostly tiny chunks (splits land everywhere), sometimes large ones.
        const std::size_t want = (r & 3) == 0 ? 1 + (r >> 8) % 4096 : 1 + (r >> 8) % 7;
        const std::size_t chunk = std::min(want, data.size() - pos);
        if (in_blob) {
            const std::size_t take =
                static_cast<std::size_t>(std::min<std::uint64_t>(blob_remaining, chunk));
            blob.append(data.substr(pos, take));
            pos += take;
            blob_remaining -= take;
            if (blob_remaining == 0) {
                frames.push_back({Frame::Kind::Raw, std::move(blob)});
                blob.clear();
                in_blob = false;
            }
            continue;
        }
        framer.feed(data.substr(pos, chunk));
        pos += chunk;
        FUZZ_CHECK(framer.buffered() <= max_line + 1 + chunk);

        // Each round consumes bytes or ends the drain: bounded by the input.
        for (std::size_t round = 0;; ++round) {
            FUZZ_CHECK(round <= data.size() + 1);
            FrameResult result = framer.next();
            if (result.kind == FrameResult::Kind::NeedMore) {
                break;
            }
            if (result.kind == FrameResult::Kind::TooLarge) {
                FUZZ_CHECK(result.line.empty());
                frames.push_back({Frame::Kind::TooLarge, {}});
                continue;
            }
            FUZZ_CHECK(result.line.size() <= max_line);
            FUZZ_CHECK(result.line.find('\n') == std::string::npos);
            const auto size = blob_size(result.line);
            frames.push_back({Frame::Kind::Line, std::move(result.line)});
            if (size) {
                std::string raw = framer.take_raw(
                    static_cast<std::size_t>(std::min<std::uint64_t>(*size, data.size())));
                FUZZ_CHECK(raw.size() <= *size);
                if (raw.size() == *size) {
                    frames.push_back({Frame::Kind::Raw, std::move(raw)});
                    continue;
                }
                // The framer had less than the blob: it must be empty now,
                // and the rest comes straight from the stream.
                FUZZ_CHECK(framer.buffered() == 0);
                blob = std::move(raw);
                blob_remaining = *size - blob.size();
                in_blob = true;
                break;
            }
        }
        FUZZ_CHECK(in_blob || framer.buffered() <= max_line + 1);
    }
    if (in_blob) {
        frames.push_back({Frame::Kind::Raw, std::move(blob)});  // input ended mid-blob
    }
    return frames;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::uint64_t seed = 1469598103934665603ULL;  // FNV-1a of the input
    for (const unsigned char c : input) {
        seed = (seed ^ c) * 1099511628211ULL;
    }
    // A tiny limit makes TooLarge common; a roomy one keeps real lines whole.
    for (const std::size_t max_line : {std::size_t{16}, std::size_t{4096}}) {
        const auto expected = reference_frames(input, max_line);
        FUZZ_CHECK(framed(input, max_line, seed) == expected);
        FUZZ_CHECK(framed(input, max_line, seed * 31 + 7) == expected);
    }
    return 0;
}
