#include <sodium.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <vector>

#include "tests/store/store_fixture.hpp"

using namespace gamestore::store;
using namespace gamestore::store::test;

namespace {

std::vector<std::string> version_texts(const std::vector<Version>& versions) {
    std::vector<std::string> out;
    for (const auto& v : versions)
        out.push_back(v.version);
    return out;
}

const GameSummary* find_listed(const std::vector<GameSummary>& games, const std::string& name) {
    const auto it = std::find_if(games.begin(), games.end(),
                                 [&](const GameSummary& g) { return g.game.name == name; });
    return it == games.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE_METHOD(StoreFixture, "the first publish creates the game and makes it live",
                 "[store][games]") {
    const auto dev = developer("dev");
    const auto first = publish(dev.id, "Wordle", "1.0.0");
    CHECK(first.game_created);
    CHECK(first.game.name == "Wordle");
    CHECK(first.game.owner_id == dev.id);
    CHECK(first.game.owner_name == "dev");
    CHECK(first.game.live_version == std::optional<std::string>("1.0.0"));
    CHECK(first.version.live);
    CHECK_FALSE(first.version.hidden);
    CHECK(first.version.sha256 == kSha);
    CHECK(first.version.size_bytes == 1234);
    CHECK(first.version.published_by == dev.id);

    auto next = request(dev.id, "wordle", "1.1.0");  // the name matches ignoring case
    next.game.max_players = 6;
    next.now = kT0 + 5;
    const auto second = must(store->publish_version(next));
    CHECK_FALSE(second.game_created);
    CHECK(second.game.id == first.game.id);
    CHECK(second.game.name == "Wordle");
    CHECK(second.game.live_version == std::optional<std::string>("1.1.0"));
    CHECK(second.game.max_players == 6);  // the game shows its live version's manifest

    const auto versions = must(store->list_versions(first.game.id, false));
    REQUIRE(version_texts(versions) == std::vector<std::string>{"1.1.0", "1.0.0"});
    CHECK(versions[0].live);
    CHECK_FALSE(versions[1].live);
    CHECK(versions[0].notes == "notes for 1.1.0");
    CHECK(versions[0].published_at == kT0 + 5);
    CHECK(must(store->get_version(first.game.id, "1.0.0")).id == first.version.id);
    CHECK(must(store->get_version_by_id(first.version.id)).version == "1.0.0");
    must_fail(store->get_version(first.game.id, "3.0.0"), StoreError::Code::NotFound);
}

TEST_CASE_METHOD(StoreFixture, "versions are immutable", "[store][games]") {
    const auto dev = developer("dev");
    const auto game = publish(dev.id, "Foo", "1.0.0").game;
    publish(dev.id, "Foo", "1.0.1");
    const auto e = must_fail(store->publish_version(request(dev.id, "Foo", "1.0.0")),
                             StoreError::Code::Conflict);
    CHECK(e.message ==
          "version 1.0.0 of Foo already exists; versions are immutable, publish 1.0.2");
    // Build metadata does not make a new version.
    must_fail(store->publish_version(request(dev.id, "Foo", "1.0.1+build.7")),
              StoreError::Code::Conflict);
    CHECK(must(store->list_versions(game.id, true)).size() == 2);
    CHECK(must(store->get_game(game.id)).live_version == std::optional<std::string>("1.0.1"));
}

TEST_CASE_METHOD(StoreFixture, "publish validates its input", "[store][games]") {
    const auto dev = developer("dev");
    for (const std::string bad : {"1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "", "1.0.0 "}) {
        INFO(bad);
        must_fail(store->publish_version(request(dev.id, "Foo", bad)), StoreError::Code::Invalid);
    }
    // The sentence says what is wrong with the version.
    const auto leading = must_fail(store->publish_version(request(dev.id, "Foo", "01.0.0")),
                                   StoreError::Code::Invalid);
    CHECK(leading.message.find("leading zero") != std::string::npos);
    const auto huge =
        must_fail(store->publish_version(request(dev.id, "Foo", "9223372036854775808.0.0")),
                  StoreError::Code::Invalid);
    CHECK(huge.message.find("9223372036854775807") != std::string::npos);
    auto r = request(dev.id, "Foo", "1.0.0");
    r.sha256 = "ABC";
    must_fail(store->publish_version(r), StoreError::Code::Invalid);
    r = request(dev.id, "Foo", "1.0.0");
    r.manifest_json = "{not json";
    must_fail(store->publish_version(r), StoreError::Code::Invalid);
    r = request(dev.id, "Foo", "1.0.0");
    r.game.min_players = 3;
    r.game.max_players = 2;
    must_fail(store->publish_version(r), StoreError::Code::Invalid);
    r = request(dev.id, " Foo", "1.0.0");
    must_fail(store->publish_version(r), StoreError::Code::Invalid);
    CHECK(must(store->my_games(dev.id)).empty());
}

TEST_CASE_METHOD(StoreFixture, "only the owner publishes and changes a game", "[store][games]") {
    const auto owner = developer("owner");
    const auto other = developer("other");
    const auto gamer = player("gamer");
    const auto game = publish(owner.id, "Chess", "1.0.0").game;

    const auto e = must_fail(store->publish_version(request(other.id, "CHESS", "2.0.0")),
                             StoreError::Code::Forbidden);
    CHECK(e.message == "the game Chess belongs to another developer; choose another name");
    must_fail(store->publish_version(request(gamer.id, "Checkers", "1.0.0")),
              StoreError::Code::Forbidden);
    CHECK(must(store->list_versions(game.id, true)).size() == 1);
    must_fail(store->find_game("Checkers"), StoreError::Code::NotFound);

    const auto denied =
        must_fail(store->set_live(other.id, game.id, "1.0.0"), StoreError::Code::Forbidden);
    CHECK(denied.message == "only the owner of Chess can change it");
    must_fail(store->delist_game(other.id, game.id), StoreError::Code::Forbidden);
    must_fail(store->relist_game(gamer.id, game.id), StoreError::Code::Forbidden);
    must_fail(store->delist_game(owner.id, game.id + 100), StoreError::Code::NotFound);
}

TEST_CASE_METHOD(StoreFixture, "set_live rolls back to any version", "[store][games]") {
    const auto dev = developer("dev");
    auto old_request = request(dev.id, "Go", "1.0.0");
    old_request.game.description = "old rules";
    const auto game = must(store->publish_version(old_request)).game;
    publish(dev.id, "Go", "1.1.0");

    const auto rolled = must(store->set_live(dev.id, game.id, "1.0.0"));
    CHECK(rolled.live_version == std::optional<std::string>("1.0.0"));
    CHECK(rolled.description == "old rules");
    const auto versions = must(store->list_versions(game.id, false));
    CHECK(versions[1].version == "1.0.0");
    CHECK(versions[1].live);
    CHECK_FALSE(versions[0].live);

    must_fail(store->set_live(dev.id, game.id, "9.9.9"), StoreError::Code::NotFound);
    must_fail(store->set_live(dev.id, game.id, "nine"), StoreError::Code::Invalid);
    CHECK(must(store->set_live(dev.id, game.id, "1.1.0")).live_version ==
          std::optional<std::string>("1.1.0"));
}

TEST_CASE_METHOD(StoreFixture, "a hidden publish does not go live until set_live",
                 "[store][games]") {
    const auto dev = developer("dev");
    const auto someone = player("someone");
    const auto game = publish(dev.id, "Tetris", "1.0.0").game;
    const auto hidden = publish(dev.id, "Tetris", "2.0.0-beta.1", true);
    CHECK(hidden.version.hidden);
    CHECK_FALSE(hidden.version.live);
    CHECK(hidden.game.live_version == std::optional<std::string>("1.0.0"));

    CHECK(version_texts(must(store->list_versions(game.id, false))) ==
          std::vector<std::string>{"1.0.0"});
    CHECK(version_texts(must(store->list_versions(game.id, true))) ==
          std::vector<std::string>{"2.0.0-beta.1", "1.0.0"});
    // Details: the owner sees the hidden version, anyone else does not.
    CHECK(must(store->game_details(game.id, dev.id, 5)).versions.size() == 2);
    CHECK(must(store->game_details(game.id, someone.id, 5)).versions.size() == 1);
    CHECK(must(store->game_details(game.id, std::nullopt, 5)).versions.size() == 1);

    must(store->set_live(dev.id, game.id, "2.0.0-beta.1"));
    const auto now_live = must(store->get_version(game.id, "2.0.0-beta.1"));
    CHECK(now_live.live);
    CHECK_FALSE(now_live.hidden);
    CHECK(must(store->list_versions(game.id, false)).size() == 2);
}

TEST_CASE_METHOD(StoreFixture, "a new game published hidden is not in the store yet",
                 "[store][games]") {
    const auto dev = developer("dev");
    const auto created = publish(dev.id, "Secret", "0.1.0", true);
    CHECK(created.game_created);
    CHECK_FALSE(created.game.live_version_id.has_value());
    CHECK(find_listed(must(store->list_games()), "Secret") == nullptr);
    CHECK(find_listed(must(store->my_games(dev.id)), "Secret") != nullptr);
    must(store->set_live(dev.id, created.game.id, "0.1.0"));
    CHECK(find_listed(must(store->list_games()), "Secret") != nullptr);
}

TEST_CASE_METHOD(StoreFixture, "delist and relist", "[store][games]") {
    const auto dev = developer("dev");
    const auto game = publish(dev.id, "Snake", "1.0.0").game;
    publish(dev.id, "Pong", "1.0.0");

    const auto delisted = must(store->delist_game(dev.id, game.id));
    CHECK(delisted.delisted);
    const auto listed = must(store->list_games());
    CHECK(find_listed(listed, "Snake") == nullptr);
    CHECK(find_listed(listed, "Pong") != nullptr);
    const auto mine = must(store->my_games(dev.id));
    REQUIRE(find_listed(mine, "Snake") != nullptr);
    CHECK(find_listed(mine, "Snake")->game.delisted);
    // Details stay readable (installed players see why it left the store).
    CHECK(must(store->game_details(game.id, std::nullopt, 3)).game.delisted);
    must(store->delist_game(dev.id, game.id));  // idempotent

    CHECK_FALSE(must(store->relist_game(dev.id, game.id)).delisted);
    CHECK(find_listed(must(store->list_games()), "Snake") != nullptr);
}

TEST_CASE_METHOD(StoreFixture, "the store listing carries what players choose by",
                 "[store][games]") {
    const auto dev = developer("Maker");
    auto r = request(dev.id, "Battleship", "1.2.3");
    r.game.type = GameType::Gui;
    r.game.min_players = 2;
    r.game.max_players = 2;
    r.game.description = "Sink the fleet";
    must(store->publish_version(r));
    publish(dev.id, "Ants", "0.1.0");
    const auto games = must(store->list_games());
    REQUIRE(games.size() == 2);
    CHECK(games[0].game.name == "Ants");  // sorted by name
    const auto* b = find_listed(games, "Battleship");
    REQUIRE(b != nullptr);
    CHECK(b->game.owner_name == "Maker");
    CHECK(b->game.type == GameType::Gui);
    CHECK(b->game.min_players == 2);
    CHECK(b->game.max_players == 2);
    CHECK(b->game.description == "Sink the fleet");
    CHECK(b->game.live_version == std::optional<std::string>("1.2.3"));
    CHECK(b->rating.count == 0);
    CHECK(b->rating.average == 0.0);
}

TEST_CASE_METHOD(StoreFixture, "create_game rules", "[store][games]") {
    const auto dev = developer("dev");
    const auto other = developer("other");
    const auto gamer = player("gamer");
    const NewGame game{"Hangman", GameType::Cli, "Guess the word", 1, 1};
    const auto created = must(store->create_game(dev.id, game, kT0));
    CHECK(created.name == "Hangman");
    CHECK_FALSE(created.live_version_id.has_value());
    CHECK(must(store->find_game("HANGMAN")).id == created.id);

    auto e = must_fail(store->create_game(dev.id, NewGame{"hangman", GameType::Cli, "", 1, 1}, kT0),
                       StoreError::Code::Conflict);
    CHECK(e.message == "you already have a game named Hangman");
    e = must_fail(store->create_game(other.id, NewGame{"HangMan", GameType::Cli, "", 1, 1}, kT0),
                  StoreError::Code::Conflict);
    CHECK(e.message == "the name Hangman is taken by another game; choose another");
    must_fail(store->create_game(gamer.id, NewGame{"Mine", GameType::Cli, "", 1, 1}, kT0),
              StoreError::Code::Forbidden);
    must_fail(store->create_game(dev.id, NewGame{"", GameType::Cli, "", 1, 1}, kT0),
              StoreError::Code::Invalid);
    must_fail(store->create_game(dev.id, NewGame{"Bad\x1b[31m", GameType::Cli, "", 1, 1}, kT0),
              StoreError::Code::Invalid);
    must_fail(store->create_game(dev.id, NewGame{"Zero", GameType::Cli, "", 0, 1}, kT0),
              StoreError::Code::Invalid);
    // The first publish of a created game goes to the same game.
    const auto published = publish(dev.id, "Hangman", "1.0.0");
    CHECK_FALSE(published.game_created);
    CHECK(published.game.id == created.id);
}

TEST_CASE_METHOD(StoreFixture, "versions are listed by semver precedence", "[store][games]") {
    const auto dev = developer("dev");
    const std::vector<std::string> newest_first = {
        "10.0.0",        "2.0.0",        "1.0.0",      "1.0.0-rc.1",
        "1.0.0-beta.11", "1.0.0-beta.2", "1.0.0-beta", "1.0.0-alpha.beta",
        "1.0.0-alpha.1", "1.0.0-alpha",  "0.9.0"};
    // Publish in a scrambled order.
    for (const std::size_t i : {3u, 7u, 0u, 10u, 5u, 1u, 9u, 2u, 8u, 4u, 6u}) {
        publish(dev.id, "Order", newest_first[i], true);
    }
    const auto game = must(store->find_game("Order"));
    CHECK(version_texts(must(store->list_versions(game.id, true))) == newest_first);
}

namespace {

std::string sha256_hex(std::string_view bytes) {
    std::array<unsigned char, crypto_hash_sha256_BYTES> hash{};
    crypto_hash_sha256(hash.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                       bytes.size());
    std::string out;
    for (const unsigned char byte : hash) {
        static constexpr char kHex[] = "0123456789abcdef";
        out += kHex[byte >> 4];
        out += kHex[byte & 0xf];
    }
    return out;
}

std::string read_back(Store& store, const std::string& sha256, std::int64_t& size) {
    std::string out;
    size = must(store.read_package(sha256, [&](std::string_view chunk) { out += chunk; }));
    return out;
}

}  // namespace

TEST_CASE_METHOD(StoreFixture, "a publish keeps the package's bytes; any reader gets them back",
                 "[store][games][packages]") {
    const auto dev = developer("dev");
    publish(dev.id, "Wordle", "1.0.0");
    std::int64_t size = 0;
    CHECK(read_back(*store, kSha, size) == kPackageBytes);
    CHECK(size == 1234);
    CHECK(must(store->packages_without_bytes()).empty());
    // A second version with the same bytes shares them.
    publish(dev.id, "Wordle", "1.0.1");
    CHECK(read_back(*store, kSha, size) == kPackageBytes);
    must_fail(store->read_package(std::string(64, 'b'), [](std::string_view) {}),
              StoreError::Code::NotFound);
}

TEST_CASE_METHOD(StoreFixture, "a package whose bytes do not match publishes nothing",
                 "[store][games][packages]") {
    const auto dev = developer("dev");
    auto wrong_hash = request(dev.id, "Wordle", "1.0.0");
    wrong_hash.sha256 = std::string(64, 'c');
    must_fail(store->publish_version(wrong_hash), StoreError::Code::Invalid);
    auto wrong_size = request(dev.id, "Wordle", "1.0.0");
    wrong_size.size_bytes = 1000;
    must_fail(store->publish_version(wrong_size), StoreError::Code::Invalid);
    auto no_file = request(dev.id, "Wordle", "1.0.0");
    no_file.package_file.clear();
    must_fail(store->publish_version(no_file), StoreError::Code::Invalid);
    must_fail(store->find_game("Wordle"), StoreError::Code::NotFound);
    must_fail(store->read_package(std::string(64, 'c'), [](std::string_view) {}),
              StoreError::Code::NotFound);
}

TEST_CASE_METHOD(StoreFixture, "package bytes span chunks; storing them again changes nothing",
                 "[store][games][packages]") {
    // Two and a half chunks of bytes that differ from chunk to chunk.
    std::string bytes;
    const auto size = static_cast<std::size_t>(SqlStore::kPackageChunkBytes * 5 / 2);
    bytes.reserve(size);
    for (std::size_t i = 0; bytes.size() < size; ++i)
        bytes += static_cast<char>((i * 7919) >> 3);
    const auto file = dir.path() / "big.zip";
    std::ofstream(file, std::ios::binary) << bytes;
    const auto sha = sha256_hex(bytes);
    const auto length = static_cast<std::int64_t>(bytes.size());

    must_fail(store->store_package(sha, length - 1, file), StoreError::Code::Invalid);
    must_fail(store->read_package(sha, [](std::string_view) {}), StoreError::Code::NotFound);
    must(store->store_package(sha, length, file));
    must(store->store_package(sha, length, file));
    std::int64_t read_size = 0;
    std::size_t chunks = 0;
    std::string out;
    read_size = must(store->read_package(sha, [&](std::string_view chunk) {
        ++chunks;
        out += chunk;
    }));
    CHECK(read_size == length);
    CHECK(chunks == 3);
    CHECK(out == bytes);
    reopen();
    std::int64_t again = 0;
    CHECK(read_back(*store, sha, again) == bytes);
}
