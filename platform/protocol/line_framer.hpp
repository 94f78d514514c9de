#pragma once
// NDJSON framing: splits a byte stream into '\n'-terminated lines with a hard
// per-line limit. Pure: bytes in, frames out, no socket (STYLE.md lesson 2).
//
// Memory stays bounded whatever a peer sends: a line longer than max_line is
// reported once as TooLarge and the rest of it is thrown away as it arrives,
// so the framer never holds more than max_line + 1 bytes of pending line plus
// the chunk most recently fed.

#include <cstddef>
#include <string>
#include <string_view>

namespace gamestore::protocol {

// 64 KiB, the limit of every NDJSON protocol here (docs/PROTOCOL.md "Framing").
inline constexpr std::size_t kDefaultMaxLine = 64 * 1024;

struct FrameResult {
    enum class Kind {
        Line,      // `line` holds one complete line, without "\n" or "\r\n"
        NeedMore,  // no complete line buffered: feed more bytes
        TooLarge,  // a line exceeded max_line; it is being skipped
    };
    Kind kind;
    std::string line;
};

class LineFramer {
  public:
    explicit LineFramer(std::size_t max_line = kDefaultMaxLine);

    // Appends bytes; framing happens lazily in next(). Call next() until it
    // returns NeedMore after every feed(), otherwise buffered bytes pile up.
    void feed(std::string_view bytes);

    // The next frame. A line counts its bytes before the terminator ("\n", or
    // "\r\n": one '\r' right before '\n' is stripped). Lines longer than
    // max_line yield TooLarge exactly once, as soon as that is known (possibly
    // before the line's '\n' arrived); the framer then discards input up to and
    // including that '\n' and resumes with the following line.
    FrameResult next();

    // Removes and returns up to max_bytes of buffered, not yet framed bytes.
    // Blob frames use it right after next() returned the header line: the raw
    // payload comes from here first, then straight from the socket. Returns ""
    // while an oversized line is being discarded (those bytes are not payload).
    std::string take_raw(std::size_t max_bytes);

    // Bytes held that no frame has consumed yet.
    std::size_t buffered() const { return buffer_.size() - head_; }
    std::size_t max_line() const { return max_line_; }

  private:
    void compact();

    std::size_t max_line_;
    std::string buffer_;
    // Start of the unconsumed bytes in buffer_; consumed bytes are erased
    // lazily so that draining many short lines from one chunk stays linear.
    std::size_t head_ = 0;
    // Bytes after head_ already searched for '\n' (none found), so that a long
    // line arriving in small pieces is scanned once, not once per piece.
    std::size_t scanned_ = 0;
    // True while skipping the rest of an oversized line.
    bool discarding_ = false;
};

}  // namespace gamestore::protocol
