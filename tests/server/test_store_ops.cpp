// Store ops through the real server: accounts, single active session,
// publishing with server-side validation, browsing and resumable downloads.

#include <sqlite3.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <optional>
#include <thread>
#include <utility>

#include "platform/client/sync_client.hpp"
#include "platform/packages/sha256.hpp"
#include "platform/packages/zip.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"
#include "tests/support/server_fixture.hpp"

using namespace std::chrono_literals;
using gamestore::client::SyncLobbyClient;
using gamestore::testing::ServerFixture;
using gamestore::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void sign_in(SyncLobbyClient& client, const ServerFixture& server, const std::string& role,
             const std::string& name) {
    client.connect(server.endpoints().lobby_host, server.endpoints().lobby_port);
    auto reg = client.call("auth.register", {{"role", role}, {"name", name}, {"password", "correct horse"}});
    REQUIRE((reg.ok || reg.error_code == "CONFLICT"));
    auto login = client.call("auth.login", {{"role", role}, {"name", name}, {"password", "correct horse"}});
    REQUIRE(login.ok);
}

fs::path make_package(const fs::path& dir, const std::string& name, const std::string& version,
                      const std::string& server_command = "python3 server.py --port {port}") {
    const auto src = dir / (name + "-" + version);
    fs::create_directories(src);
    json manifest = {{"game_name", name},
                     {"version", version},
                     {"type", "CLI"},
                     {"max_players", 2},
                     {"server", {{"command", server_command}}},
                     {"client", {{"command", "python3 client.py --host {host} --port {port}"}}},
                     {"healthcheck", {{"tcp_port", "{port}"}, {"timeout_sec", 5}}}};
    gamestore::testing::write_file(src / "manifest.json", manifest.dump(2));
    gamestore::testing::write_file(src / "server.py", "print('server')\n");
    gamestore::testing::write_file(src / "client.py", "print('client')\n");
    const auto zip = dir / (name + "-" + version + ".zip");
    gamestore::packages::create_zip(src, zip);
    return zip;
}

gamestore::protocol::Response publish(SyncLobbyClient& client, const fs::path& zip, bool hidden = false) {
    gamestore::client::CallOptions options;
    options.upload = gamestore::client::Upload{zip, 0, fs::file_size(zip)};
    return client.call("dev.publish",
                       {{"sha256", gamestore::packages::sha256_file(zip)}, {"notes", "n"}, {"hidden", hidden}},
                       options);
}

// Bytes no compressor shrinks (xorshift), so a zip is at least this large.
std::string incompressible(std::size_t size) {
    std::string bytes(size, '\0');
    std::uint64_t state = 88172645463325252ULL;
    for (auto& c : bytes) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        c = static_cast<char>(state);
    }
    return bytes;
}

}  // namespace

TEST_CASE("publish, list, show and download through the lobby", "[server][store][integration]") {
    TempDir temp;
    ServerFixture server({"--fast-password-hash"});
    SyncLobbyClient dev;
    sign_in(dev, server, "developer", "dana");

    auto first = publish(dev, make_package(temp.path(), "Duel", "1.0.0"));
    REQUIRE(first.ok);
    CHECK(first.data.at("game_created") == true);
    CHECK(first.data.at("game").at("live_version") == "1.0.0");
    auto second = publish(dev, make_package(temp.path(), "Duel", "1.1.0"));
    REQUIRE(second.ok);
    CHECK(second.data.at("game").at("live_version") == "1.1.0");

    auto again = publish(dev, make_package(temp.path() / "again", "Duel", "1.1.0"));
    CHECK_FALSE(again.ok);
    CHECK(again.error_code == "CONFLICT");

    auto older = publish(dev, make_package(temp.path(), "Duel", "1.0.5"));
    CHECK_FALSE(older.ok);
    CHECK(older.error_code == "CONFLICT");

    auto token_in_argv = publish(dev, make_package(temp.path(), "Leaky", "1.0.0",
                                                   "python3 server.py --token {report_token}"));
    CHECK_FALSE(token_in_argv.ok);
    CHECK(token_in_argv.error_code == "INVALID_PACKAGE");
    REQUIRE(token_in_argv.details.at("reasons").size() >= 1);
    CHECK(token_in_argv.details.at("reasons")[0].at("where").get<std::string>().find("server.command") == 0);

    {
        // A refused blob still occupies the stream, so the server answers and
        // closes that connection.
        SyncLobbyClient intruder;
        sign_in(intruder, server, "player", "mallory");
        auto forbidden = publish(intruder, make_package(temp.path() / "p", "Other", "1.0.0"));
        CHECK_FALSE(forbidden.ok);
        CHECK(forbidden.error_code == "FORBIDDEN");
    }

    SyncLobbyClient player;
    sign_in(player, server, "player", "pia");

    auto list = player.call("store.list");
    REQUIRE(list.ok);
    REQUIRE(list.data.at("games").size() == 1);
    CHECK(list.data.at("games")[0].at("name") == "Duel");
    CHECK(list.data.at("games")[0].at("author") == "dana");

    auto show = player.call("store.show", {{"game", "Duel"}});
    REQUIRE(show.ok);
    CHECK(show.data.at("versions").size() == 2);

    // Download in two halves: the second resumes at the offset.
    std::string bytes;
    gamestore::client::CallOptions sink;
    sink.blob_sink = [&](std::string_view piece) { bytes.append(piece); };
    auto whole = player.call("store.download", {{"game", "Duel"}}, sink);
    REQUIRE(whole.ok);
    const auto size = whole.data.at("size").get<std::uint64_t>();
    REQUIRE(bytes.size() == size);
    CHECK(gamestore::packages::sha256_hex(bytes) == whole.data.at("sha256"));
    std::string tail;
    gamestore::client::CallOptions tail_sink;
    tail_sink.blob_sink = [&](std::string_view piece) { tail.append(piece); };
    auto resumed = player.call("store.download", {{"game", "Duel"}, {"offset", size / 2}}, tail_sink);
    REQUIRE(resumed.ok);
    CHECK(bytes.substr(size / 2) == tail);

    // Reviews need play history first.
    auto review = player.call("review.post", {{"game", "Duel"}, {"rating", 5}, {"text", "fun"}});
    CHECK_FALSE(review.ok);
    CHECK(review.error_code == "FORBIDDEN");

    // Delisting hides the game from the store and from new downloads.
    REQUIRE(dev.call("dev.delist", {{"game", "Duel"}}).ok);
    CHECK(player.call("store.list").data.at("games").empty());
    CHECK(player.call("store.download", {{"game", "Duel"}}).error_code == "NOT_FOUND");

    // Nothing left in tmp/ by refused uploads.
    std::size_t leftovers = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(server.data_dir() / "tmp")) {
        ++leftovers;
    }
    CHECK(leftovers == 0);
}

TEST_CASE("a new login revokes the old session and tells its connection", "[server][store][integration]") {
    ServerFixture server({"--fast-password-hash"});
    SyncLobbyClient first;
    sign_in(first, server, "player", "solo");
    SyncLobbyClient second;
    second.connect(server.endpoints().lobby_host, server.endpoints().lobby_port);
    auto login = second.call("auth.login", {{"role", "player"}, {"name", "solo"}, {"password", "correct horse"}});
    REQUIRE(login.ok);
    auto event = first.next_event(5s);
    REQUIRE(event);
    CHECK(event->name == "session.revoked");

    // The old token no longer resumes; the new one does.
    SyncLobbyClient third;
    third.connect(server.endpoints().lobby_host, server.endpoints().lobby_port);
    auto resumed = third.call("auth.resume", {{"token", login.data.at("token")}});
    CHECK(resumed.ok);
    auto wrong = third.call("auth.login", {{"role", "player"}, {"name", "solo"}, {"password", "wrong password"}});
    CHECK(wrong.error_code == "UNAUTHENTICATED");
}

TEST_CASE("kill -9 of the server and a restart lose nothing acknowledged", "[server][store][integration]") {
    TempDir temp;
    const auto data = temp.path() / "var";
    std::string player_token;
    {
        ServerFixture server({"--fast-password-hash"}, data);
        SyncLobbyClient dev;
        sign_in(dev, server, "developer", "durable");
        REQUIRE(publish(dev, make_package(temp.path(), "Durable", "1.0.0")).ok);
        REQUIRE(publish(dev, make_package(temp.path(), "Durable", "1.1.0")).ok);
        REQUIRE(dev.call("dev.set_live", {{"game", "Durable"}, {"version", "1.0.0"}}).ok);
        SyncLobbyClient player;
        player.connect(server.endpoints().lobby_host, server.endpoints().lobby_port);
        REQUIRE(player.call("auth.register", {{"role", "player"}, {"name", "keeper"}, {"password", "correct horse"}}).ok);
        auto login = player.call("auth.login", {{"role", "player"}, {"name", "keeper"}, {"password", "correct horse"}});
        REQUIRE(login.ok);
        player_token = login.data.at("token");
        // Every request above was acknowledged; now the server dies hard.
        server.kill_hard();
    }
    // What a kill between a publish's move into place and its commit leaves:
    // content-addressed files no version names.
    const std::string orphan(64, 'e');
    gamestore::testing::write_file(data / "packages" / (orphan + ".zip"), "half a publish");
    gamestore::testing::write_file(data / "games" / orphan / "manifest.json", "{}");
    const auto kept_before = std::distance(fs::directory_iterator(data / "packages"), fs::directory_iterator());
    ServerFixture restarted({"--fast-password-hash"}, data);
    CHECK_FALSE(fs::exists(data / "packages" / (orphan + ".zip")));
    CHECK_FALSE(fs::exists(data / "games" / orphan));
    CHECK(std::distance(fs::directory_iterator(data / "packages"), fs::directory_iterator()) == kept_before - 1);
    SyncLobbyClient player;
    player.connect(restarted.endpoints().lobby_host, restarted.endpoints().lobby_port);
    auto resumed = player.call("auth.resume", {{"token", player_token}});
    REQUIRE(resumed.ok);  // the session survived too
    auto show = player.call("store.show", {{"game", "Durable"}});
    REQUIRE(show.ok);
    CHECK(show.data.at("game").at("live_version") == "1.0.0");  // the rollback survived
    CHECK(show.data.at("versions").size() == 2);
    std::string bytes;
    gamestore::client::CallOptions sink;
    sink.blob_sink = [&](std::string_view piece) { bytes.append(piece); };
    auto download = player.call("store.download", {{"game", "Durable"}, {"version", "1.1.0"}}, sink);
    REQUIRE(download.ok);
    CHECK(gamestore::packages::sha256_hex(bytes) == download.data.at("sha256"));
    SyncLobbyClient dev;
    dev.connect(restarted.endpoints().lobby_host, restarted.endpoints().lobby_port);
    CHECK(dev.call("auth.login", {{"role", "developer"}, {"name", "durable"}, {"password", "correct horse"}}).ok);
}

TEST_CASE("two publishes of the same package at once: one wins and its files stay", "[server][store][integration]") {
    TempDir temp;
    ServerFixture server({"--fast-password-hash"});
    SyncLobbyClient first;
    sign_in(first, server, "developer", "twin");
    // The CLI resumes a saved session, so two terminals share one session.
    const auto login = first.call("auth.login", {{"role", "developer"}, {"name", "twin"}, {"password", "correct horse"}});
    REQUIRE(login.ok);
    SyncLobbyClient second;
    second.connect(server.endpoints().lobby_host, server.endpoints().lobby_port);
    REQUIRE(second.call("auth.resume", {{"token", login.data.at("token")}}).ok);

    // A few MiB of incompressible bytes keep both uploads in flight long
    // enough to overlap in the server's blocking pool.
    const auto zip_src = make_package(temp.path(), "Twins", "1.0.0");
    const auto dir = temp.path() / "Twins-1.0.0";
    gamestore::testing::write_file(dir / "assets.bin", incompressible(20 << 20));
    fs::remove(zip_src);
    gamestore::packages::create_zip(dir, zip_src);

    gamestore::protocol::Response a;
    gamestore::protocol::Response b;
    {
        std::thread other([&] { b = publish(second, zip_src); });
        a = publish(first, zip_src);
        other.join();
    }
    CHECK(a.ok != b.ok);
    const auto& loser = a.ok ? b : a;
    CHECK(loser.error_code == "CONFLICT");

    SyncLobbyClient player;
    sign_in(player, server, "player", "fetcher");
    std::string bytes;
    gamestore::client::CallOptions sink;
    sink.blob_sink = [&](std::string_view piece) { bytes.append(piece); };
    auto download = player.call("store.download", {{"game", "Twins"}}, sink);
    REQUIRE(download.ok);
    CHECK(gamestore::packages::sha256_hex(bytes) == gamestore::packages::sha256_file(zip_src));
    const auto sha = download.data.at("sha256").get<std::string>();
    CHECK(fs::exists(server.data_dir() / "packages" / (sha + ".zip")));
    CHECK(fs::exists(server.data_dir() / "games" / sha / "manifest.json"));
}

TEST_CASE("a damaged or missing local copy of a package is fetched from the store again",
          "[server][store][integration]") {
    TempDir temp;
    ServerFixture server({"--fast-password-hash"});
    SyncLobbyClient dev;
    sign_in(dev, server, "developer", "mender");
    // Larger than two of the store's 1 MiB chunks, so a fetch joins several.
    const auto zip = make_package(temp.path(), "Mended", "1.0.0");
    const auto dir = temp.path() / "Mended-1.0.0";
    gamestore::testing::write_file(dir / "assets.bin", incompressible(5 << 19));
    fs::remove(zip);
    gamestore::packages::create_zip(dir, zip);
    REQUIRE(publish(dev, zip).ok);
    const auto sha = gamestore::packages::sha256_file(zip);
    const auto cached = server.data_dir() / "packages" / (sha + ".zip");
    const auto extracted = server.data_dir() / "games" / sha;

    SyncLobbyClient player;
    sign_in(player, server, "player", "mender_fan");
    const auto downloaded_sha = [&] {
        std::string bytes;
        gamestore::client::CallOptions sink;
        sink.blob_sink = [&](std::string_view piece) { bytes.append(piece); };
        const auto download = player.call("store.download", {{"game", "Mended"}}, sink);
        REQUIRE(download.ok);
        return gamestore::packages::sha256_hex(bytes);
    };
    CHECK(downloaded_sha() == sha);

    // One byte changed in place: same file, same size, other bytes.
    fs::permissions(cached, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
    {
        std::fstream file(cached, std::ios::in | std::ios::out | std::ios::binary);
        file.seekg(1000);
        const auto byte = static_cast<char>(file.get() ^ 0x5a);
        file.seekp(1000);
        file.put(byte);
    }
    REQUIRE(gamestore::packages::sha256_file(cached) != sha);
    CHECK(downloaded_sha() == sha);
    CHECK(gamestore::packages::sha256_file(cached) == sha);
    CHECK(server.log().find("does not hold the bytes") != std::string::npos);

    // Both copies gone: a download and a new room bring them back.
    fs::remove(cached);
    for (const auto& entry : fs::recursive_directory_iterator(extracted)) {
        if (entry.is_directory()) {
            fs::permissions(entry.path(), fs::perms::owner_all, fs::perm_options::add);
        }
    }
    fs::permissions(extracted, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(extracted);
    CHECK(downloaded_sha() == sha);
    REQUIRE(player.call("room.create", {{"game", "Mended"}}).ok);
    CHECK(fs::exists(extracted / "manifest.json"));
    CHECK(fs::exists(extracted / "assets.bin"));
}

TEST_CASE(
    "zips of versions published before the database kept package bytes are stored at the next "
    "start",
    "[server][store][integration]") {
    TempDir temp;
    const auto data = temp.path() / "var";
    if (!gamestore::testing::test_database_for(data).empty()) {
        return;  // what an older SQLite installation left behind; nothing to do on PostgreSQL
    }
    const auto zip = make_package(temp.path(), "Elder", "1.0.0");
    const auto sha = gamestore::packages::sha256_file(zip);
    {
        ServerFixture server({"--fast-password-hash"}, data);
        SyncLobbyClient dev;
        sign_in(dev, server, "developer", "elder");
        REQUIRE(publish(dev, zip).ok);
        REQUIRE(server.stop() == 0);
    }
    // An older server kept the zip in packages/ only.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((data / "gamestore.db").c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM package_chunks; DELETE FROM package_blobs;", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);

    ServerFixture restarted({"--fast-password-hash"}, data);
    CHECK(restarted.log().find("1 package(s) from") != std::string::npos);
    // The local copy gone, the download comes from the database.
    fs::remove(data / "packages" / (sha + ".zip"));
    SyncLobbyClient player;
    sign_in(player, restarted, "player", "elder_fan");
    std::string bytes;
    gamestore::client::CallOptions sink;
    sink.blob_sink = [&](std::string_view piece) { bytes.append(piece); };
    REQUIRE(player.call("store.download", {{"game", "Elder"}}, sink).ok);
    CHECK(gamestore::packages::sha256_hex(bytes) == sha);
}

TEST_CASE("a new version must spell the game's name exactly as published", "[server][store][integration]") {
    TempDir temp;
    ServerFixture server({"--fast-password-hash"});
    SyncLobbyClient dev;
    sign_in(dev, server, "developer", "casey");
    REQUIRE(publish(dev, make_package(temp.path(), "Pebbles", "1.0.0")).ok);
    auto lower = publish(dev, make_package(temp.path(), "pebbles", "1.1.0"));
    REQUIRE_FALSE(lower.ok);
    CHECK(lower.error_code == "INVALID_PACKAGE");
    REQUIRE(lower.details.at("reasons").size() == 1);
    CHECK(lower.details.at("reasons")[0].at("where") == "game_name");
    CHECK(lower.message.find("'Pebbles'") != std::string::npos);

    // Another developer cannot take the name in another case either.
    SyncLobbyClient other;
    sign_in(other, server, "developer", "mimic");
    auto taken = publish(other, make_package(temp.path() / "m", "PEBBLES", "2.0.0"));
    CHECK(taken.error_code == "FORBIDDEN");
}

TEST_CASE("failed logins are limited per account and per address", "[server][store][integration]") {
    ServerFixture server({"--fast-password-hash"});
    SyncLobbyClient client;
    client.connect(server.endpoints().lobby_host, server.endpoints().lobby_port);
    auto login = [&](const std::string& name, const std::string& password) {
        return client.call("auth.login", {{"role", "player"}, {"name", name}, {"password", password}});
    };
    for (const char* name : {"victim", "other1", "other2", "other3", "other4", "other5"}) {
        REQUIRE(client.call("auth.register", {{"role", "player"}, {"name", name}, {"password", "correct horse"}}).ok);
    }

    // One account: five failures, then even the right password waits.
    for (int i = 0; i < 5; ++i) {
        CHECK(login("victim", "wrong password").error_code == "UNAUTHENTICATED");
    }
    auto limited = login("victim", "correct horse");
    CHECK(limited.error_code == "RATE_LIMITED");
    CHECK(limited.message.find("too many login attempts") != std::string::npos);
    // Another account from the same address is not affected by that alone.
    CHECK(login("other1", "correct horse").ok);

    // One address: failures spread over accounts run out the address's
    // budget (20, refilling at 1/s) before any single account's (5).
    bool address_limited = false;
    int attempts = 0;
    for (const char* name : {"other2", "other3", "other4", "other5"}) {
        for (int i = 0; i < 4 && !address_limited; ++i, ++attempts) {
            address_limited = login(name, "wrong password").error_code == "RATE_LIMITED";
        }
    }
    INFO(attempts << " attempts");
    CHECK(address_limited);
}

TEST_CASE("password hashing has its own threads: a sign-up flood does not hold up other work",
          "[server][store][integration]") {
    // Real argon2id, one hashing thread and one blocking thread: ten
    // sign-ups queue on the hashing thread for about a second, and a
    // store.list sent once all of them are in flight (a SQLite read on the
    // blocking pool) is answered while most are still waiting. With hashing
    // on the blocking pool it would be answered only after every one of them.
    ServerFixture server({"--auth-threads", "1", "--blocking-threads", "1"});
    SyncLobbyClient player;
    sign_in(player, server, "player", "reader");

    std::vector<std::unique_ptr<gamestore::testing::RawConnection>> floods;
    for (int i = 0; i < 10; ++i) {
        floods.push_back(std::make_unique<gamestore::testing::RawConnection>(server.endpoints().lobby_host,
                                                                            server.endpoints().lobby_port));
        const json request = {{"id", 1}, {"op", "auth.register"}, {"role", "player"},
                              {"name", "flood" + std::to_string(i)}, {"password", "correct horse"}};
        REQUIRE(floods.back()->send(request.dump() + "\n"));
    }
    // server.stats is answered on the lobby thread: poll it until the
    // server holds all ten (or, on a very slow machine, the first ones
    // already finished: each connection gets nothing but its reply).
    std::vector<std::optional<std::string>> replies(floods.size());
    auto answered = [&] {
        for (std::size_t i = 0; i < floods.size(); ++i) {
            if (!replies[i]) replies[i] = floods[i]->read_line(1ms);
        }
        return static_cast<std::size_t>(std::count_if(replies.begin(), replies.end(), [](const auto& r) { return r.has_value(); }));
    };
    std::size_t in_flight = 0;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (in_flight < 10 && std::chrono::steady_clock::now() < deadline) {
        auto stats = player.call("server.stats");
        REQUIRE(stats.ok);
        in_flight = stats.data.at("auth_in_flight").get<std::size_t>();
        if (in_flight < 10 && in_flight + answered() >= 10) break;
    }
    CHECK(player.call("store.list").ok);
    // Which sign-ups had answered by then.
    const auto finished_before = answered();
    INFO(finished_before << " of 10 sign-ups had finished when store.list was answered");
    CHECK(finished_before < 10);
    // And every sign-up still completes.
    for (std::size_t i = 0; i < floods.size(); ++i) {
        if (!replies[i]) replies[i] = floods[i]->read_line(30s);
        REQUIRE(replies[i]);
        CHECK(json::parse(*replies[i]).at("ok") == true);
    }
}

TEST_CASE("an upload over the package limit is TOO_LARGE and stores nothing", "[server][store][integration]") {
    TempDir temp;
    ServerFixture server({"--fast-password-hash", "--max-package-bytes", "1000"});
    SyncLobbyClient dev;
    sign_in(dev, server, "developer", "bulky");
    const auto zip = make_package(temp.path(), "Bulky", "1.0.0");
    gamestore::testing::write_file(temp.path() / "Bulky-1.0.0" / "filler.txt", incompressible(4000));
    fs::remove(zip);
    gamestore::packages::create_zip(temp.path() / "Bulky-1.0.0", zip);
    REQUIRE(fs::file_size(zip) > 1000);
    auto refused = publish(dev, zip);
    CHECK(refused.error_code == "TOO_LARGE");
    CHECK(refused.message.find("limit is 1000 bytes") != std::string::npos);
    CHECK_FALSE(fs::exists(server.data_dir() / "packages" ));
}

TEST_CASE("a room gets the version a download would: the live one unless asked, never a hidden one",
          "[server][store][integration]") {
    TempDir temp;
    ServerFixture server({"--fast-password-hash"});
    SyncLobbyClient dev;
    sign_in(dev, server, "developer", "vera");
    SyncLobbyClient player;
    sign_in(player, server, "player", "pat");

    // The version `op` picks for (game, version?), or its error code. A room
    // is left at once so that the next room.create may make another.
    const auto pick = [&](const std::string& op, const std::string& game,
                          const std::optional<std::string>& version) -> std::string {
        json args = {{"game", game}};
        if (version) {
            args["version"] = *version;
        }
        auto response = player.call(op, args);
        if (!response.ok) {
            return response.error_code;
        }
        if (op == "room.create") {
            REQUIRE(player.call("room.leave").ok);
            return response.data.at("room").at("version").get<std::string>();
        }
        return response.data.at("version").get<std::string>();
    };
    using Picks = std::pair<std::string, std::string>;  // {store.download, room.create}
    const auto both = [&](const std::optional<std::string>& version,
                          const std::string& game = "Rule") {
        return Picks{pick("store.download", game, version), pick("room.create", game, version)};
    };

    CHECK(both(std::nullopt, "Nothing") == Picks{"NOT_FOUND", "NOT_FOUND"});

    // Only a hidden version: nothing is live, and naming it does not reach it.
    REQUIRE(publish(dev, make_package(temp.path(), "Rule", "1.0.0"), true).ok);
    CHECK(both(std::nullopt) == Picks{"NOT_FOUND", "NOT_FOUND"});
    CHECK(both("1.0.0") == Picks{"NOT_FOUND", "NOT_FOUND"});

    REQUIRE(publish(dev, make_package(temp.path(), "Rule", "1.1.0")).ok);
    CHECK(both(std::nullopt) == Picks{"1.1.0", "1.1.0"});
    CHECK(both("1.1.0") == Picks{"1.1.0", "1.1.0"});
    CHECK(both("1.0.0") == Picks{"NOT_FOUND", "NOT_FOUND"});
    CHECK(both("9.9.9") == Picks{"NOT_FOUND", "NOT_FOUND"});

    // A rollback makes the hidden version live, which releases it; the newer
    // one can still be asked for.
    REQUIRE(dev.call("dev.set_live", {{"game", "Rule"}, {"version", "1.0.0"}}).ok);
    CHECK(both(std::nullopt) == Picks{"1.0.0", "1.0.0"});
    CHECK(both("1.1.0") == Picks{"1.1.0", "1.1.0"});

    // Delisted, whatever version is asked for: gone from the store for a
    // download, refused for a new room (docs/PROTOCOL.md, "Lobby operations").
    REQUIRE(dev.call("dev.delist", {{"game", "Rule"}}).ok);
    CHECK(both(std::nullopt) == Picks{"NOT_FOUND", "FORBIDDEN"});
    CHECK(both("1.1.0") == Picks{"NOT_FOUND", "FORBIDDEN"});

    REQUIRE(dev.call("dev.relist", {{"game", "Rule"}}).ok);
    CHECK(both(std::nullopt) == Picks{"1.0.0", "1.0.0"});
}

TEST_CASE(
    "the catalogue in memory follows every change, pages store.list and is rebuilt on restart",
    "[server][store][integration]") {
    TempDir temp;
    const auto data = temp.path() / "var";
    // The same questions asked of a server, as the answers' data.
    const auto browse = [](SyncLobbyClient& client) {
        json seen = json::object();
        seen["list"] = client.call("store.list").data;
        seen["page"] = client.call("store.list", {{"offset", 1}, {"limit", 2}}).data;
        for (const char* game : {"Alpha", "beta", "Gamma", "Hidden"}) {
            const auto show = client.call("store.show", {{"game", game}});
            seen[game] = show.ok ? show.data : json(show.error_code);
        }
        return seen;
    };
    json player_view;
    json owner_view;
    {
        ServerFixture server({"--fast-password-hash"}, data);
        SyncLobbyClient dev;
        sign_in(dev, server, "developer", "cat");
        SyncLobbyClient player;
        sign_in(player, server, "player", "browser");
        // Listed before anything is published: the answers that follow must
        // come from a catalogue the changes kept up to date.
        CHECK(player.call("store.list").data.at("games").empty());
        CHECK(player.call("store.show", {{"game", "Alpha"}}).error_code == "NOT_FOUND");
        for (const char* game : {"Gamma", "Beta", "Alpha", "Delta"}) {
            REQUIRE(publish(dev, make_package(temp.path(), game, "1.0.0")).ok);
        }
        REQUIRE(publish(dev, make_package(temp.path(), "Alpha", "1.1.0"), true).ok);  // hidden
        REQUIRE(dev.call("dev.delist", {{"game", "Delta"}}).ok);
        REQUIRE(publish(dev, make_package(temp.path(), "Beta", "2.0.0")).ok);
        REQUIRE(dev.call("dev.set_live", {{"game", "Beta"}, {"version", "1.0.0"}}).ok);

        const auto list = player.call("store.list");
        REQUIRE(list.ok);
        REQUIRE(list.data.at("games").size() == 3);  // Delta is delisted
        CHECK(list.data.at("games")[0].at("name") == "Alpha");
        CHECK(list.data.at("games")[1].at("name") == "Beta");
        CHECK(list.data.at("games")[1].at("live_version") == "1.0.0");
        CHECK(list.data.at("total") == 3);
        CHECK_FALSE(list.data.contains("next_offset"));
        const auto page = player.call("store.list", {{"offset", 1}, {"limit", 1}});
        REQUIRE(page.data.at("games").size() == 1);
        CHECK(page.data.at("games")[0].at("name") == "Beta");
        CHECK(page.data.at("next_offset") == 2);
        CHECK(player.call("store.list", {{"limit", 0}}).error_code == "BAD_REQUEST");
        // Names compare without ASCII case, as the database does; a hidden
        // version is the owner's to see.
        CHECK(player.call("store.show", {{"game", "alpha"}}).data.at("versions").size() == 1);
        CHECK(dev.call("store.show", {{"game", "ALPHA"}}).data.at("versions").size() == 2);
        REQUIRE(dev.call("dev.relist", {{"game", "Delta"}}).ok);
        CHECK(player.call("store.list").data.at("games").size() == 4);
        REQUIRE(dev.call("dev.delist", {{"game", "Delta"}}).ok);
        player_view = browse(player);
        owner_view = browse(dev);
        server.kill_hard();
    }
    // A restart rebuilds the catalogue from the database, and the uncached
    // path reads the same answers from it.
    for (const char* cache : {"on", "off"}) {
        INFO("--catalog-cache " << cache);
        ServerFixture restarted({"--fast-password-hash", "--catalog-cache", cache}, data);
        SyncLobbyClient player;
        sign_in(player, restarted, "player", "browser");
        SyncLobbyClient dev;
        sign_in(dev, restarted, "developer", "cat");
        CHECK(browse(player) == player_view);
        CHECK(browse(dev) == owner_view);
    }
}

TEST_CASE(
    "the password-hash queue is bounded: past it a sign-up is told UNAVAILABLE and a retry "
    "succeeds",
    "[server][store][integration]") {
    // Real argon2id on one thread, at most two waiting: eight sign-ups sent
    // at once are either served or refused at once, never queued beyond two.
    ServerFixture server({"--auth-threads", "1", "--max-auth-queue", "2"});
    SyncLobbyClient watcher;
    sign_in(watcher, server, "player", "watcher");
    std::vector<std::unique_ptr<gamestore::testing::RawConnection>> floods;
    for (int i = 0; i < 8; ++i) {
        floods.push_back(std::make_unique<gamestore::testing::RawConnection>(
            server.endpoints().lobby_host, server.endpoints().lobby_port));
        const json request = {{"id", 1},
                              {"op", "auth.register"},
                              {"role", "player"},
                              {"name", "queued" + std::to_string(i)},
                              {"password", "correct horse"}};
        REQUIRE(floods.back()->send(request.dump() + "\n"));
    }
    CHECK(watcher.call("server.stats").data.at("auth_in_flight").get<std::size_t>() <= 2);
    std::vector<int> refused;
    for (std::size_t i = 0; i < floods.size(); ++i) {
        const auto line = floods[i]->read_line(30s);
        REQUIRE(line);
        const auto reply = json::parse(*line);
        if (reply.at("ok") == false) {
            CHECK(reply.at("error").at("code") == "UNAVAILABLE");
            refused.push_back(static_cast<int>(i));
        }
    }
    INFO(refused.size() << " of 8 sign-ups were refused");
    CHECK(refused.size() < 8);
    for (const int i : refused) {
        SyncLobbyClient retry;
        retry.connect(server.endpoints().lobby_host, server.endpoints().lobby_port);
        CHECK(retry
                  .call("auth.register", {{"role", "player"},
                                          {"name", "queued" + std::to_string(i)},
                                          {"password", "correct horse"}})
                  .ok);
    }
}
