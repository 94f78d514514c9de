// Package transfer speed: publish and download of a ~100 MiB package through
// the lobby, then its first download from a second server on the same
// database with an empty data dir (fetched from the store into its cache),
// next to a raw loopback TCP copy of the same number of bytes measured in the
// same run. Usage: bench_transfer [--mib N] [--database SPEC]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "bench/bench_client.hpp"
#include "bench/bench_common.hpp"
#include "platform/client/lobby_client.hpp"
#include "platform/packages/sha256.hpp"
#include "platform/packages/zip.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using gamestore::client::LobbyClient;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Sends `bytes` over a loopback TCP connection and returns the seconds taken
// until the receiver has read them all.
double raw_loopback_copy(std::uint64_t bytes) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    ::listen(listener, 1);
    std::thread receiver([listener, bytes] {
        const int fd = ::accept(listener, nullptr, nullptr);
        std::string buffer(256 * 1024, '\0');
        std::uint64_t got = 0;
        while (got < bytes) {
            const ssize_t n = ::read(fd, buffer.data(), buffer.size());
            if (n <= 0) break;
            got += static_cast<std::uint64_t>(n);
        }
        ::close(fd);
    });
    const int sender = ::socket(AF_INET, SOCK_STREAM, 0);
    const auto start = Clock::now();
    ::connect(sender, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    std::string chunk(256 * 1024, 'x');
    std::uint64_t sent = 0;
    while (sent < bytes) {
        const auto want = std::min<std::uint64_t>(chunk.size(), bytes - sent);
        const ssize_t n = ::write(sender, chunk.data(), want);
        if (n <= 0) break;
        sent += static_cast<std::uint64_t>(n);
    }
    ::shutdown(sender, SHUT_WR);
    receiver.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ::close(sender);
    ::close(listener);
    return seconds;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t mib = 100;
    std::vector<std::string> server_args;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string(argv[i]) == "--mib") mib = std::stoull(argv[i + 1]);
        if (std::string(argv[i]) == "--database")
            server_args = {"--database", argv[i + 1]};
    }
    const fs::path exe_dir = fs::canonical("/proc/self/exe").parent_path();
    const fs::path work = fs::temp_directory_path() / ("gamestore-transfer-bench-" + std::to_string(::getpid()));
    fs::create_directories(work);
    auto server = gamestore::bench::start_server(exe_dir, work, server_args);
    int status = 0;
    try {
        // Incompressible payload, so the zip is as large as the data.
        const auto dir = work / "pkg";
        gamestore::bench::write_tiny_package(dir, "Big Assets", "1.0.0");
        {
            std::ofstream out(dir / "assets.bin", std::ios::binary);
            std::mt19937_64 rng(42);
            std::string block(1024 * 1024, '\0');
            for (std::uint64_t m = 0; m < mib; ++m) {
                for (std::size_t i = 0; i < block.size(); i += 8) {
                    const auto v = rng();
                    std::memcpy(block.data() + i, &v, 8);
                }
                out.write(block.data(), static_cast<std::streamsize>(block.size()));
            }
        }
        const auto zip = work / "pkg.zip";
        gamestore::packages::create_zip(dir, zip);
        const auto size = fs::file_size(zip);

        double publish_s = 0, download_s = 0, fetch_s = 0;
        // Times one whole download of the package from `from`.
        const auto timed_download =
            [size](const gamestore::bench::BenchServer& from) -> asio::awaitable<double> {
            auto player = co_await gamestore::bench::signed_in(from, "player", "benchplayer");
            std::uint64_t received = 0;
            gamestore::client::CallOptions download;
            download.timeout = std::chrono::minutes(10);
            download.blob_sink = [&](std::string_view piece) { received += piece.size(); };
            json game = {{"game", "Big Assets"}};
            const auto start = Clock::now();
            auto fetched = co_await player->call("store.download", std::move(game), download);
            const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
            if (!fetched.ok || received != size)
                throw std::runtime_error("download failed: " + fetched.message);
            player->close();
            co_return seconds;
        };
        asio::io_context io(1);
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            auto dev = co_await gamestore::bench::signed_in(server, "developer", "benchdev");
            const auto start = Clock::now();
            co_await gamestore::bench::publish_zip(*dev, zip);
            publish_s = std::chrono::duration<double>(Clock::now() - start).count();

            download_s = co_await timed_download(server);
            dev->close();
            io.stop();
        }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
        io.run();

        {
            // A server that never saw the upload: same database, empty data dir.
            auto shared = server_args;
            if (shared.empty())
                shared = {"--database", "sqlite:" + (server.data_dir / "gamestore.db").string()};
            fs::create_directories(work / "second");
            auto second = gamestore::bench::start_server(exe_dir, work / "second", shared);
            asio::io_context second_io(1);
            asio::co_spawn(
                second_io,
                [&]() -> asio::awaitable<void> {
                    fetch_s = co_await timed_download(second);
                    second_io.stop();
                },
                [](std::exception_ptr e) {
                    if (e)
                        std::rethrow_exception(e);
                });
            try {
                second_io.run();
            } catch (...) {
                gamestore::bench::stop_server(second);
                throw;
            }
            gamestore::bench::stop_server(second);
        }
        const double raw_s = raw_loopback_copy(size);
        const double mib_size = static_cast<double>(size) / (1024.0 * 1024.0);
        std::printf("package of %.1f MiB (incompressible), loopback, same run\n", mib_size);
        std::printf("%-44s %9s %10s\n", "", "seconds", "MiB/s");
        std::printf("%-44s %9.3f %10.1f\n", "publish (upload + sha256 + validate + store)", publish_s, mib_size / publish_s);
        std::printf("%-44s %9.3f %10.1f\n", "download (store.download blob)", download_s, mib_size / download_s);
        std::printf("%-44s %9.3f %10.1f\n", "first download, another server (fetch+serve)", fetch_s,
                    mib_size / fetch_s);
        std::printf("%-44s %9.3f %10.1f\n", "raw loopback TCP copy", raw_s, mib_size / raw_s);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_transfer: %s\n", e.what());
        status = 1;
    }
    gamestore::bench::stop_server(server);
    std::error_code ec;
    fs::remove_all(work, ec);
    return status;
}
