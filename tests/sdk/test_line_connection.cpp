// LineConnection: NDJSON framing, limits and deadlines on a socketpair.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include "gamestore/sdk/net.hpp"

namespace sdk = gamestore::sdk;
using namespace std::chrono_literals;

namespace {

struct Pair {
    sdk::LineConnection a;
    sdk::LineConnection b;
};

Pair make_pair(std::size_t max_line = sdk::kMaxLineBytes) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    return {sdk::LineConnection(sdk::UniqueFd(fds[0]), max_line),
            sdk::LineConnection(sdk::UniqueFd(fds[1]), max_line)};
}

}  // namespace

TEST_CASE("LineConnection splits a byte stream into lines", "[sdk][net]") {
    auto p = make_pair();
    REQUIRE(p.a.try_send_raw("one\ntwo\r\nthr", 1s).empty());
    auto r = p.b.read_line(1s);
    REQUIRE(r.ok());
    CHECK(r.line == "one");
    r = p.b.read_line(1s);
    REQUIRE(r.ok());
    CHECK(r.line == "two");
    CHECK(p.b.read_line(10ms).status == sdk::ReadStatus::Timeout);
    CHECK(p.b.buffered_bytes() == 3);
    REQUIRE(p.a.try_send_raw("ee\n", 1s).empty());
    r = p.b.read_line(1s);
    REQUIRE(r.ok());
    CHECK(r.line == "three");
}

TEST_CASE("LineConnection skips a line over the limit and resumes after it", "[sdk][net]") {
    auto p = make_pair(16);
    REQUIRE(p.a.try_send_raw(std::string(40, 'x') + "\nshort\n", 1s).empty());
    auto r = p.b.read_line(1s);
    CHECK(r.status == sdk::ReadStatus::TooLong);
    r = p.b.read_line(1s);
    REQUIRE(r.ok());
    CHECK(r.line == "short");
}

TEST_CASE("LineConnection reports a closed peer and refuses embedded newlines", "[sdk][net]") {
    auto p = make_pair();
    CHECK_THROWS_AS(p.a.send_line("a\nb"), sdk::NetError);
    p.a.send_line("last");
    p.a.close();
    auto r = p.b.read_line(1s);
    REQUIRE(r.ok());
    CHECK(r.line == "last");
    CHECK(p.b.read_line(1s).status == sdk::ReadStatus::Closed);
    CHECK(p.b.poll_line().status == sdk::ReadStatus::Closed);
}

TEST_CASE("LineConnection::read_line returns early when the interrupt fd fires", "[sdk][net]") {
    auto p = make_pair();
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    sdk::UniqueFd read_end(fds[0]), write_end(fds[1]);
    REQUIRE(::write(write_end.get(), "x", 1) == 1);
    CHECK(p.b.read_line(30s, read_end.get()).status == sdk::ReadStatus::Interrupted);
}
