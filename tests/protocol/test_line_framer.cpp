#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "platform/protocol/line_framer.hpp"

using gamestore::protocol::FrameResult;
using gamestore::protocol::kDefaultMaxLine;
using gamestore::protocol::LineFramer;
using Kind = FrameResult::Kind;

namespace {

// Drains the framer; TooLarge frames are recorded as "<TOO LARGE>".
std::vector<std::string> drain(LineFramer& framer) {
    std::vector<std::string> out;
    for (int guard = 0; guard < 100000; ++guard) {
        FrameResult r = framer.next();
        if (r.kind == Kind::NeedMore) {
            return out;
        }
        out.push_back(r.kind == Kind::Line ? r.line : "<TOO LARGE>");
    }
    FAIL("framer never returned NeedMore");
    return out;
}

}  // namespace

TEST_CASE("framer: empty framer needs more", "[framer]") {
    LineFramer framer;
    CHECK(framer.max_line() == kDefaultMaxLine);
    CHECK(kDefaultMaxLine == 64 * 1024);
    CHECK(framer.next().kind == Kind::NeedMore);
    CHECK(framer.buffered() == 0);
    CHECK_THROWS_AS(LineFramer(0), std::invalid_argument);
}

TEST_CASE("framer: lines come out without terminators, empty lines included", "[framer]") {
    LineFramer framer;
    framer.feed("one\ntwo\n\nthree");
    CHECK(drain(framer) == std::vector<std::string>{"one", "two", ""});
    CHECK(framer.buffered() == 5);  // "three" waits for its '\n'
    framer.feed("\n");
    CHECK(drain(framer) == std::vector<std::string>{"three"});
    CHECK(framer.buffered() == 0);
}

TEST_CASE("framer: CRLF handling", "[framer]") {
    LineFramer framer;
    framer.feed("a\r\nb\r\r\n\r\nc\rd\n\re\n");
    // One '\r' before '\n' is stripped; any other '\r' is line content.
    CHECK(drain(framer) == std::vector<std::string>{"a", "b\r", "", "c\rd", "\re"});

    SECTION("'\\r' and '\\n' in separate feeds") {
        LineFramer split;
        split.feed("hello\r");
        CHECK(drain(split).empty());
        split.feed("\nworld\n");
        CHECK(drain(split) == std::vector<std::string>{"hello", "world"});
    }
}

TEST_CASE("framer: the limit counts line bytes before the terminator", "[framer]") {
    LineFramer framer(8);
    framer.feed("12345678\n123456789\n12345678\r\nok\n");
    CHECK(drain(framer) == std::vector<std::string>{"12345678", "<TOO LARGE>", "12345678", "ok"});

    SECTION("a max-length line whose \\r arrives last is not too large") {
        LineFramer f(8);
        f.feed("12345678\r");  // 9 bytes buffered, but the '\r' may end the line
        CHECK(drain(f).empty());
        f.feed("\n");
        CHECK(drain(f) == std::vector<std::string>{"12345678"});
    }
    SECTION("an over-long line is reported before its newline arrives") {
        LineFramer f(8);
        f.feed("123456789");
        CHECK(drain(f) == std::vector<std::string>{"<TOO LARGE>"});
        CHECK(f.buffered() == 0);
        f.feed("more of the same line\nnext\n");
        CHECK(drain(f) == std::vector<std::string>{"next"});
    }
}

TEST_CASE("framer: a 10 MiB line without newline keeps memory bounded", "[framer]") {
    LineFramer framer;  // 64 KiB
    constexpr std::size_t kChunk = 4096;
    constexpr std::size_t kTotal = 10 * 1024 * 1024;
    const std::string chunk(kChunk, 'x');
    int too_large = 0;
    int lines = 0;
    std::size_t peak = 0;
    for (std::size_t sent = 0; sent < kTotal; sent += kChunk) {
        framer.feed(chunk);
        peak = std::max(peak, framer.buffered());
        REQUIRE(framer.buffered() <= framer.max_line() + kChunk);
        for (FrameResult r = framer.next(); r.kind != Kind::NeedMore; r = framer.next()) {
            too_large += r.kind == Kind::TooLarge;
            lines += r.kind == Kind::Line;
        }
        REQUIRE(framer.buffered() <= framer.max_line());
    }
    CHECK(too_large == 1);
    CHECK(lines == 0);
    CHECK(peak <= framer.max_line() + kChunk);

    // The oversized line ends; framing resumes with the next one.
    framer.feed("tail of the huge line\n{\"id\":1,\"op\":\"ping\"}\n");
    CHECK(drain(framer) == std::vector<std::string>{"{\"id\":1,\"op\":\"ping\"}"});
    CHECK(framer.buffered() == 0);
}

TEST_CASE("framer: an oversized complete line inside one chunk", "[framer]") {
    LineFramer framer(16);
    framer.feed(std::string(100, 'z') + "\nsmall\n" + std::string(17, 'q') + "\r\nlast\n");
    CHECK(drain(framer) == std::vector<std::string>{"<TOO LARGE>", "small", "<TOO LARGE>", "last"});
}

TEST_CASE("framer: splitting the input anywhere yields the same lines", "[framer]") {
    const std::string input =
        "{\"id\":1,\"op\":\"auth.login\"}\r\n\nsecond line\n"
        "third\r\rline\r\n" +
        std::string(40, 'L') + "\nafter\n";
    const std::vector<std::string> expected{"{\"id\":1,\"op\":\"auth.login\"}",
                                            "",
                                            "second line",
                                            "third\r\rline",
                                            "<TOO LARGE>",
                                            "after"};
    constexpr std::size_t kMax = 28;
    {
        LineFramer whole(kMax);
        whole.feed(input);
        REQUIRE(drain(whole) == expected);
    }
    SECTION("two pieces, split at every offset") {
        for (std::size_t i = 0; i <= input.size(); ++i) {
            LineFramer framer(kMax);
            framer.feed(input.substr(0, i));
            auto got = drain(framer);
            framer.feed(input.substr(i));
            const auto rest = drain(framer);
            got.insert(got.end(), rest.begin(), rest.end());
            INFO("split at " << i);
            CHECK(got == expected);
        }
    }
    SECTION("three pieces, split at every pair of offsets") {
        for (std::size_t i = 0; i <= input.size(); ++i) {
            for (std::size_t j = i; j <= input.size(); ++j) {
                LineFramer framer(kMax);
                std::vector<std::string> got;
                for (const auto& piece :
                     {input.substr(0, i), input.substr(i, j - i), input.substr(j)}) {
                    framer.feed(piece);
                    const auto part = drain(framer);
                    got.insert(got.end(), part.begin(), part.end());
                }
                INFO("split at " << i << " and " << j);
                REQUIRE(got == expected);
            }
        }
    }
    SECTION("byte by byte") {
        LineFramer framer(kMax);
        std::vector<std::string> got;
        for (const char c : input) {
            framer.feed(std::string_view(&c, 1));
            const auto part = drain(framer);
            got.insert(got.end(), part.begin(), part.end());
            REQUIRE(framer.buffered() <= kMax + 1);
        }
        CHECK(got == expected);
    }
}

TEST_CASE("framer: blob frames take raw bytes after the header line", "[framer]") {
    LineFramer framer;
    // The payload contains newlines and "\r\n": it must not be framed.
    const std::string payload = "PK\x03\x04\nline?\r\nno";
    framer.feed("{\"id\":3,\"op\":\"dev.upload\",\"bytes\":" + std::to_string(payload.size()) +
                "}\n" + payload.substr(0, 7));

    FrameResult header = framer.next();
    REQUIRE(header.kind == Kind::Line);
    CHECK(header.line == "{\"id\":3,\"op\":\"dev.upload\",\"bytes\":14}");
    REQUIRE(payload.size() == 14);

    // The framer only has the first 7 payload bytes: take_raw gives those,
    // the session reads the remaining 7 straight from the socket.
    std::string received = framer.take_raw(payload.size());
    CHECK(received == payload.substr(0, 7));
    CHECK(framer.buffered() == 0);
    CHECK(framer.take_raw(100).empty());
    received += payload.substr(7);  // "from the socket", never fed to the framer
    CHECK(received == payload);

    framer.feed("{\"id\":4,\"op\":\"ping\"}\n");
    CHECK(drain(framer) == std::vector<std::string>{"{\"id\":4,\"op\":\"ping\"}"});

    SECTION("payload and next line in the same chunk") {
        LineFramer f;
        f.feed("{\"bytes\":4}\nAB\nCnext\n");
        REQUIRE(f.next().line == "{\"bytes\":4}");
        CHECK(f.take_raw(4) == "AB\nC");
        CHECK(f.take_raw(0).empty());
        CHECK(drain(f) == std::vector<std::string>{"next"});
    }
    SECTION("take_raw in pieces") {
        LineFramer f;
        f.feed("h\n0123456789");
        REQUIRE(f.next().line == "h");
        CHECK(f.take_raw(3) == "012");
        CHECK(f.buffered() == 7);
        CHECK(f.take_raw(3) == "345");
        CHECK(f.take_raw(100) == "6789");
        CHECK(f.buffered() == 0);
    }
    SECTION("no raw bytes while an oversized line is being skipped") {
        LineFramer f(4);
        f.feed("0123456");
        CHECK(f.next().kind == Kind::TooLarge);
        f.feed("89");
        CHECK(f.take_raw(10).empty());
        f.feed("\nok\n");
        CHECK(drain(f) == std::vector<std::string>{"ok"});
    }
}
