#include "tests/support/platform_harness.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "platform/launch/process_launcher.hpp"
#include "platform/packages/command_template.hpp"
#include "platform/packages/launch_info.hpp"
#include "platform/packages/manifest.hpp"
#include "platform/packages/sha256.hpp"
#include "platform/packages/zip.hpp"
#include "platform/protocol/redirect.hpp"

namespace gamestore::testing {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> unique_game_ports_args() {
    // Test processes run two at a time; their pids differ, so do their ranges.
    // All of them stay below the kernel's ephemeral range (32768+), where an
    // outgoing connection could take a port between the pool's check and the
    // game's bind.
    const unsigned base = 20000 + (static_cast<unsigned>(::getpid()) % 120) * 100;
    return {"--game-ports", std::to_string(base) + "-" + std::to_string(base + 99)};
}

fs::path zip_package_dir(const fs::path& dir, const fs::path& out_dir) {
    const auto zip = out_dir / (dir.filename().string() + ".zip");
    fs::remove(zip);
    packages::create_zip(dir, zip);
    return zip;
}

TestPlayer::TestPlayer(const ServerFixture& server, const std::string& name) : name_(name) {
    client_.connect(server.endpoints().lobby_host, server.endpoints().lobby_port);
    auto reg = client_.call("auth.register", {{"role", "player"}, {"name", name}, {"password", "password123"}});
    if (!reg.ok && reg.error_code != "CONFLICT") {
        FAIL("register " << name << ": " << reg.message);
    }
    auto login = client_.call("auth.login", {{"role", "player"}, {"name", name}, {"password", "password123"}});
    if (!login.ok) {
        FAIL("login " << name << ": " << login.message);
    }
    token_ = login.data.at("token").get<std::string>();
    address_ = server.lobby_address();
    resync_lobby();
}

void TestPlayer::follow(const std::string& address) {
    // What the old node pushed is kept (and applied) before its connection goes.
    while (auto event = client_.next_event(std::chrono::milliseconds(0))) {
        observe(*event);
    }
    const auto endpoint = net::parse_host_port(address);
    REQUIRE(endpoint);
    client_.connect(endpoint->host, endpoint->port);
    address_ = address;
    ++redirects_;
    const auto resumed = client_.call("auth.resume", {{"token", token_}});
    if (!resumed.ok) {
        FAIL(name_ << ": auth.resume on " << address << " failed: " << resumed.error_code << ": "
                   << resumed.message);
    }
    resync_lobby();
}

void TestPlayer::resync_lobby() {
    const auto snapshot = require("lobby.snapshot");
    REQUIRE(lobby_.apply_snapshot(snapshot));
}

void TestPlayer::observe(const protocol::Event& event) {
    events_.push_back(event);
    if (protocol::is_lobby_delta(event.name)) {
        ++deltas_seen_;
        if (lobby_.apply_delta(event.name, event.data) == protocol::MirrorStep::Gap) {
            ++gaps_seen_;
            resync_lobby();
        }
    }
}

bool TestPlayer::wait_lobby(const std::function<bool(const protocol::LobbyMirror&)>& accept,
                            std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!accept(lobby_)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return false;
        }
        auto event = client_.next_event(left);
        if (!event) {
            return false;
        }
        observe(*event);
    }
    return true;
}

protocol::Response TestPlayer::call_here(const std::string& op, json args) {
    return client_.call(op, std::move(args));
}

protocol::Response TestPlayer::call(const std::string& op, json args) {
    auto response = client_.call(op, args);
    for (int hop = 0; hop < protocol::kMaxRedirects; ++hop) {
        std::string malformed;
        const auto redirect = protocol::redirect_of(response, &malformed);
        INFO(malformed);
        CHECK(malformed.empty());
        if (!redirect) {
            break;
        }
        follow(redirect->address);
        response = client_.call(op, args);
    }
    return response;
}

json TestPlayer::require(const std::string& op, json args) {
    auto response = call(op, std::move(args));
    if (!response.ok) {
        FAIL(name_ << ": " << op << " failed: " << response.error_code << ": " << response.message);
    }
    return response.data;
}

std::optional<json> TestPlayer::wait_for(const std::string& name, const std::function<bool(const json&)>& accept,
                                         std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return std::nullopt;
        }
        auto event = client_.next_event(left);
        if (!event) {
            return std::nullopt;
        }
        observe(*event);
        if (event->name == name && accept(event->data)) {
            return event->data;
        }
    }
}

std::optional<json> TestPlayer::wait_room(const std::function<bool(const json&)>& accept,
                                          std::chrono::milliseconds timeout) {
    return wait_for("room.updated", accept, timeout);
}

std::optional<json> TestPlayer::wait_lobby_room(const std::string& game, bool all_ready,
                                                std::chrono::milliseconds timeout) {
    std::optional<json> found;
    const bool seen = wait_lobby(
        [&](const protocol::LobbyMirror& lobby) {
            for (const auto& [id, room] : lobby.rooms()) {
                bool ready = !room.at("members").empty();
                for (const auto& member : room.at("members")) {
                    ready = ready && member.value("ready", false);
                }
                if (room.value("game", "") == game && (ready || !all_ready)) {
                    found = room;
                    return true;
                }
            }
            return false;
        },
        timeout);
    return seen ? found : std::nullopt;
}

std::optional<json> TestPlayer::wait_event(const std::string& name, std::chrono::milliseconds timeout) {
    for (const auto& seen : events_) {
        if (seen.name == name) {
            return seen.data;
        }
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return std::nullopt;
        }
        auto event = client_.next_event(left);
        if (!event) {
            return std::nullopt;
        }
        observe(*event);
        if (event->name == name) {
            return event->data;
        }
    }
}

TestDeveloper::TestDeveloper(const ServerFixture& server, const std::string& name) : temp_("gamestore-dev") {
    client_.connect(server.endpoints().lobby_host, server.endpoints().lobby_port);
    client_.call("auth.register", {{"role", "developer"}, {"name", name}, {"password", "password123"}});
    auto login = client_.call("auth.login", {{"role", "developer"}, {"name", name}, {"password", "password123"}});
    if (!login.ok) {
        FAIL("developer login: " << login.message);
    }
}

protocol::Response TestDeveloper::publish_zip(const fs::path& zip) {
    client::CallOptions options;
    options.upload = client::Upload{zip, 0, fs::file_size(zip)};
    options.timeout = std::chrono::seconds(120);
    return client_.call("dev.publish", {{"sha256", packages::sha256_file(zip)}}, options);
}

std::string TestDeveloper::publish_fakegame(const std::string& profile, const std::string& game_name,
                                            const std::string& version, int min_players) {
    const auto source = build_dir() / "fakegames" / "packages" / profile;
    if (!fs::exists(source / "manifest.json")) {
        FAIL("fakegame package " << source << " is missing (build the fakegame_packages target)");
    }
    // Copy, retitle, zip: one fakegame profile can be published as many games.
    const auto dir = temp_.path() / (profile + "-" + version);
    fs::remove_all(dir);
    fs::copy(source, dir, fs::copy_options::recursive);
    auto manifest = json::parse(read_file(dir / "manifest.json"));
    manifest["game_name"] = game_name;
    manifest["version"] = version;
    manifest["min_players"] = min_players;
    write_file(dir / "manifest.json", manifest.dump(2));
    const auto zip = zip_package_dir(dir, temp_.path());
    auto response = publish_zip(zip);
    if (!response.ok) {
        FAIL("publish " << game_name << ": " << response.error_code << ": " << response.message << " "
                        << response.details.dump());
    }
    return game_name;
}

ClientLaunch client_launch_for(const fs::path& package_dir, const json& launch, const std::string& player_name,
                               const fs::path& match_dir) {
    auto parsed = packages::load_manifest(package_dir / "manifest.json");
    if (!parsed.ok()) {
        FAIL("manifest of " << package_dir << " does not load");
    }
    const auto context = packages::client_context_from_launch(launch, json(), player_name, match_dir);
    launch::create_private_dir(match_dir);
    launch::write_private_file(context.client_token_path, context.client_token);
    auto spec = packages::render_client_launch(*parsed.manifest, context, package_dir);
    ClientLaunch out;
    out.argv = spec.argv;
    out.env = launch::base_environment();
    out.env.insert(out.env.end(), spec.env.begin(), spec.env.end());
    out.cwd = spec.cwd;
    return out;
}

}  // namespace gamestore::testing
