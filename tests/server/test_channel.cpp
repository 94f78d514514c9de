// NdjsonChannel's writing over a real loopback connection: frames offered
// to the socket at once and frames queued behind them arrive complete and in
// order, shared batches included, also when the peer reads nothing for a
// while and the kernel takes only part of a frame.

#include <chrono>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "platform/asio/asio.hpp"
#include "platform/net/channel.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using gamestore::net::NdjsonChannel;

namespace {

struct Pair {
    asio::io_context io{1};
    std::unique_ptr<NdjsonChannel> sender;
    tcp::socket receiver{io};

    Pair() {
        tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        tcp::socket client(io);
        client.connect(acceptor.local_endpoint());
        receiver = acceptor.accept();
        sender = std::make_unique<NdjsonChannel>(std::move(client), 1 << 20);
        asio::co_spawn(io, sender->run_writer(), asio::detached);
    }

    // Reads until `bytes` bytes arrived or 10 s passed; runs the writer meanwhile.
    std::string receive(std::size_t bytes) {
        std::string got;
        std::string chunk(64 * 1024, '\0');
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        std::function<void()> read_more = [&] {
            receiver.async_read_some(asio::buffer(chunk),
                                     [&](boost::system::error_code ec, std::size_t n) {
                                         got.append(chunk.data(), n);
                                         if (!ec && got.size() < bytes)
                                             read_more();
                                     });
        };
        read_more();
        for (int i = 0;
             i < 100000 && got.size() < bytes && std::chrono::steady_clock::now() < deadline; ++i) {
            io.run_one_for(std::chrono::milliseconds(100));
        }
        return got;
    }
};

}  // namespace

TEST_CASE("frames written at once and frames queued behind them keep their order",
          "[net][channel]") {
    Pair pair;
    auto shared = std::make_shared<const std::string>("{\"b\":1}\n{\"c\":2}\n");
    pair.sender->send("{\"a\":0}\n");
    pair.sender->send_shared(shared);
    pair.sender->send("{\"d\":3}\n");
    const std::string expected = "{\"a\":0}\n{\"b\":1}\n{\"c\":2}\n{\"d\":3}\n";
    CHECK(pair.receive(expected.size()) == expected);
    CHECK(pair.sender->queued() == 0);
}

TEST_CASE("a shared batch larger than the socket takes is finished by the writer, in order",
          "[net][channel]") {
    Pair pair;
    // Far more than loopback socket buffers hold: the first send takes part,
    // the rest is queued, and the frames after it wait behind it.
    std::string big;
    for (int line = 0; big.size() < 16 * 1024 * 1024; ++line) {
        big += "{\"n\":" + std::to_string(line) + ",\"pad\":\"" + std::string(200, 'x') + "\"}\n";
    }
    auto shared = std::make_shared<const std::string>(big);
    pair.sender->send_shared(shared);
    pair.sender->send_shared(shared);
    pair.sender->send("{\"last\":true}\n");
    CHECK(pair.sender->queued() >= 2);
    const std::string expected = big + big + "{\"last\":true}\n";
    const std::string got = pair.receive(expected.size());
    CHECK(got.size() == expected.size());
    CHECK(got == expected);
}

TEST_CASE("a wrapped frame arrives as head, body and tail, whole, cut or queued",
          "[net][channel]") {
    Pair pair;
    auto small = std::make_shared<const std::string>("{\"games\":[]}");
    std::string big_text = "[";
    for (int n = 0; big_text.size() < 16 * 1024 * 1024; ++n) {
        big_text += "\"" + std::string(200, 'x') + std::to_string(n) + "\",";
    }
    big_text += "0]";
    auto big = std::make_shared<const std::string>(big_text);
    // Written at once; then more than the socket takes (cut: the rest is
    // queued); then one queued whole behind it.
    pair.sender->send_wrapped("{\"id\":1,\"data\":", small, "}\n");
    pair.sender->send_wrapped("{\"id\":2,\"data\":", big, "}\n");
    pair.sender->send_wrapped("{\"id\":3,\"data\":", small, "}\n");
    CHECK(pair.sender->queued() >= 2);
    const std::string expected =
        "{\"id\":1,\"data\":{\"games\":[]}}\n{\"id\":2,\"data\":" + big_text +
        "}\n{\"id\":3,\"data\":{\"games\":[]}}\n";
    const auto got = pair.receive(expected.size());
    CHECK(got.size() == expected.size());
    CHECK(got == expected);
    CHECK(pair.sender->queued() == 0);
}
