#include "bench/launch_steps.hpp"

#include <fstream>
#include <stdexcept>

#include "bench/bench_client.hpp"
#include "platform/packages/zip.hpp"

namespace gamestore::bench {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

void RoomWatcher::attach(client::LobbyClient& client) {
    client.set_event_handler([this](const protocol::Event& event) {
        if (event.name == "room.updated" && event.data.value("state", "") == wanted) {
            last = event.data;
            signal->cancel();
        } else if (event.name == "match.ended") {
            ended_match = event.data.value("match_id", "");
            signal->cancel();
        }
    });
}

asio::awaitable<bool> wait_in_game(RoomWatcher& watcher, const std::string& match_id,
                                   Clock::time_point deadline) {
    for (int i = 0; i < 100; ++i) {  // every wake-up is an event; bounded anyway
        if (watcher.last.value("match_id", "") == match_id)
            co_return true;
        if (watcher.ended_match == match_id || Clock::now() >= deadline)
            co_return false;
        watcher.signal->expires_at(deadline);
        boost::system::error_code ec;
        co_await watcher.signal->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return false;
}

fs::path one_player_copy(const fs::path& package_dir, const fs::path& work,
                         const std::string& title, const std::string& slug) {
    const auto copy = work / slug;
    fs::copy(package_dir, copy, fs::copy_options::recursive);
    auto manifest = json::parse(std::ifstream(copy / "manifest.json"));
    manifest["game_name"] = title;
    manifest["min_players"] = 1;
    std::ofstream(copy / "manifest.json") << manifest.dump(2);
    const auto zip = work / (slug + ".zip");
    packages::create_zip(copy, zip);
    return zip;
}

asio::awaitable<std::unique_ptr<LaunchSeat>> launch_seat(asio::io_context& io,
                                                         const BenchServer& server,
                                                         const std::string& name) {
    auto seat = std::make_unique<LaunchSeat>();
    seat->client = co_await signed_in(server, "player", name);
    seat->watcher.signal = std::make_unique<asio::steady_timer>(io);
    seat->watcher.attach(*seat->client);
    co_return seat;
}

asio::awaitable<void> launch_rounds(std::vector<std::unique_ptr<LaunchSeat>>& seats,
                                    std::string game, int matches, LaunchSamples& out) {
    for (int i = 0; i < matches; ++i) {
        json create = {{"game", game}};
        auto created = co_await seats[0]->client->call("room.create", std::move(create));
        if (!created.ok)
            throw std::runtime_error("room.create: " + created.message);
        const auto room_id = created.data["room"].value("room_id", 0);
        for (std::size_t m = 1; m < seats.size(); ++m) {
            json join = {{"room_id", room_id}};
            auto joined = co_await seats[m]->client->call("room.join", std::move(join));
            if (!joined.ok)
                throw std::runtime_error("room.join: " + joined.message);
        }
        for (auto& seat : seats) {
            json ready = {{"ready", true}};
            co_await seat->client->call("room.ready", std::move(ready));
            seat->watcher.wanted = "IN_GAME";
            seat->watcher.last = json::object();
        }
        const auto start = Clock::now();
        auto started = co_await seats[0]->client->call("room.start");
        if (!started.ok)
            throw std::runtime_error("room.start: " + started.message);
        const std::string match_id = started.data["room"].value("match_id", "");
        bool everyone = true;
        for (auto& seat : seats) {
            everyone =
                co_await wait_in_game(seat->watcher, match_id, start + std::chrono::seconds(30)) &&
                everyone;
            seat->watcher.wanted.clear();
        }
        if (everyone) {
            out.ms.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        } else {
            ++out.failed;
        }
        for (auto& seat : seats) {
            co_await seat->client->call("room.leave");
        }
    }
}

}  // namespace gamestore::bench
